# Helpers written on builtins alone, so that this library reads the same way on every
# nixpkgs a bundle may pin (17.03 and later), whatever its `lib` offers.
rec {
  fix = f: let x = f x; in x;

  optionalAttrs = cond: set: if cond then set else { };

  concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);

  versionAtLeast = a: b: builtins.compareVersions a b >= 0;

  # A value as one shell word.
  escapeShellArg = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  escapeShellArgs = list: builtins.concatStringsSep " " (map escapeShellArg list);

  splitOn = sep: s: builtins.filter builtins.isString (builtins.split sep s);

  # The derivation at attribute path "a.b" of `set`, or null when the path is missing
  # or does not evaluate (nixpkgs keeps removed names as aliases that throw).
  derivationAt = set: path:
    let
      walk = value: names:
        if names == [ ] then value
        else if builtins.isAttrs value && builtins.hasAttr (builtins.head names) value
        then walk (builtins.getAttr (builtins.head names) value) (builtins.tail names)
        else null;
      found = builtins.tryEval (
        let value = walk set (splitOn "\\." path);
        in if builtins.isAttrs value && (value.type or null) == "derivation" then value else null);
    in if found.success then found.value else null;

  # The first of "a|b|c" that `set` has, or null.
  firstDerivation = set: alternatives:
    let found = builtins.filter (v: v != null) (map (derivationAt set) (splitOn "\\|" alternatives));
    in if found == [ ] then null else builtins.head found;
}
