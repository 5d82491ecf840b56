# Which arguments the pinned nixpkgs' buildPythonPackage understands, read from that tree:
# the builder's own argument names where nixpkgs exposes them (23.11 and later), else the
# argument names of its mk-python-derivation.nix, else the tree's release number.
#   format = "pyproject"            before `pyproject` (23.11); "setuptools" before 19.09
#   nativeBuildInputs / propagatedBuildInputs   before `build-system` / `dependencies` (24.05)
# A wrong choice does not fail: an argument the builder does not know becomes a plain
# environment variable and nothing propagates. Hence reading the tree, not a date.
{ lib, tree, buildPythonPackage }:
let
  u = import ./util.nix;

  functionArgs = lib.functionArgs or builtins.functionArgs;
  fromBuilder = functionArgs buildPythonPackage;

  # A path (tests) or a flake input: neither copied to the store nor read as a whole.
  root = if builtins.typeOf tree == "path" then tree else tree.outPath or tree;
  source = root + "/pkgs/development/interpreters/python/mk-python-derivation.nix";
  fromSource =
    if !(builtins.pathExists source) then { }
    else
      let
        outer = import source;
        # The file is `{ lib, python, ... }: { pname, format ? ..., ... }: ...`: apply the
        # outer function to placeholders (never forced) to reach the inner one's names.
        read = builtins.tryEval (
          if !(builtins.isFunction outer) then { }
          else
            let inner = outer (builtins.mapAttrs (name: _: throw "reprokit: ${name} is only a placeholder") (builtins.functionArgs outer));
            in if builtins.isFunction inner then builtins.functionArgs inner else { });
      in if read.success then read.value else { };

  release = lib.trivial.release or lib.version or "0";
  declared = if fromBuilder != { } then fromBuilder else fromSource;
  has = argument: since: if declared != { } then declared ? ${argument} else u.versionAtLeast release since;
in
{
  inherit release;
  readFrom =
    if fromBuilder != { } then "buildPythonPackage's arguments"
    else if fromSource != { } then "mk-python-derivation.nix's arguments"
    else "release ${release}";
  pyproject = has "pyproject" "23.11";
  buildSystem = has "build-system" "24.05";
  # Before pip's build hook (19.09) an sdist could only be a setup.py project.
  pipBuild = u.versionAtLeast release "19.09";
}
