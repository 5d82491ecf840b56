# A stand-in for nixpkgs in tests: the attributes a reprokit bundle's Nix library uses,
# built with the host's /usr/bin/python3 (Debian's Nix builds without a sandbox), so that
# tests can run `nix build` of a bundle with no network and no stdenv bootstrap.
#
# Its Python builder is that of one NixOS release (./era.nix): it takes the arguments that
# release's mk-python-derivation.nix takes (a copy of its argument list is in
# pkgs/development/interpreters/python/), and it refuses the Python-builder arguments of
# other releases, which the real one would silently turn into environment variables.
{ system ? builtins.currentSystem, config ? { }, overlays ? [ ], ... }:
let
  era = import ./era.nix;
  hostPython = "/usr/bin/python3";
  run = name: script: derivation {
    inherit name system;
    builder = "/bin/sh";
    # As stdenv does: the first failing command fails the build.
    args = [ "-e" "-c" script ];
    PATH = "/usr/bin:/bin";
  };
  marker = name: run name "mkdir -p $out";

  lib = {
    trivial.release = era.release;
    version = era.release + ".0";
    functionArgs = f: f.__functionArgs or (builtins.functionArgs f);
    id = x: x;
  };

  # Arguments some release's buildPythonPackage understands; an era refuses those it lacks.
  builderOnly = [ "pyproject" "build-system" "dependencies" "optional-dependencies" ];

  mkPythonDerivation = import ./pkgs/development/interpreters/python/mk-python-derivation.nix;
  inner = mkPythonDerivation { inherit lib; python = { }; build = buildPackage; };
  known = builtins.functionArgs inner;

  buildPackage = attrs:
    let
      unknown = builtins.filter (a: attrs ? ${a} && !(known ? ${a})) builderOnly;
      format = if attrs.pyproject or null == true then "pyproject" else attrs.format or (era.defaultFormat or "setuptools");
      deps = (attrs.dependencies or [ ]) ++ (attrs.propagatedBuildInputs or [ ]);
      drv = run "python3-${attrs.pname}-${attrs.version}" (
        if format == "wheel" then ''
          mkdir -p $out/site
          ${hostPython} -m zipfile -e ${attrs.src} $out/site
        '' else ''
          mkdir -p $out/site
          ${hostPython} -m pip install --no-deps --no-index --no-build-isolation --target $out/site ${attrs.src}
        '');
    in
    if unknown != [ ] then throw "stand-in buildPythonPackage (${era.release}): ${builtins.concatStringsSep ", " unknown} is not an argument of this release's builder"
    else if attrs ? pyproject && attrs ? format then throw "stand-in buildPythonPackage (${era.release}): pyproject and format are exclusive"
    else drv // { propagated = deps; inherit (attrs) pname version; args = attrs; };

  # 23.11 and later expose the builder's arguments; earlier releases hid them behind
  # makeOverridablePythonPackage's `f: origArgs:`.
  buildPythonPackage = if era.argsVisible then { __functor = _: inner; __functionArgs = known; } else (origArgs: inner origArgs);

  closure = pkgs:
    let
      go = seen: list:
        if list == [ ] then seen
        else
          let h = builtins.head list; t = builtins.tail list;
          in if builtins.elem h.outPath (map (p: p.outPath) seen) then go seen t
             else go (seen ++ [ h ]) (h.propagated ++ t);
    in go [ ] pkgs;

  makePython = version: rec {
    inherit version;
    pkgs = { inherit buildPythonPackage; setuptools = marker "setuptools"; wheel = marker "wheel"; };
    withPackages = f:
      let all = closure (f pkgs);
      in run "python3-${version}-env" ''
        mkdir -p $out/bin
        # As nixpkgs' wrapper (NIX_PYTHONPATH through site): a PYTHONPATH of the caller's stays, first.
        printf '#!/bin/sh\nexport PYTHONPATH=''${PYTHONPATH:+$PYTHONPATH:}%s\nexec ${hostPython} "$@"\n' \
          "${builtins.concatStringsSep ":" (map (p: "${p}/site") all)}" > $out/bin/python
        chmod +x $out/bin/python
      '' // { packages = all; };
  };

  coreutils = run "coreutils" ''
    mkdir -p $out/bin
    for tool in cp chmod mkdir mktemp sha256sum; do ln -s /usr/bin/$tool $out/bin/$tool; done
  '';
in
builtins.listToAttrs (map (v: { name = "python${builtins.replaceStrings [ "." ] [ "" ] v}"; value = makePython v; }) era.pythons) // {
  inherit lib coreutils;
  path = ./.;
  runtimeShell = "/bin/sh";
  autoPatchelfHook = marker "autoPatchelfHook";
  zlib = marker "zlib";
  unzip = marker "unzip";
  stdenv.cc.cc.lib = marker "libstdcxx";
  mkShell = args: marker "shell" // { inherit (args) buildInputs; };
  writeScript = name: text: run name "cat > $out <<'REPROKIT_EOF'\n${text}\nREPROKIT_EOF\nchmod +x $out";
  writeText = name: text: run name "cat > $out <<'REPROKIT_EOF'\n${text}REPROKIT_EOF";
  runCommand = name: env: script: run name script;
  dockerTools.buildLayeredImage = args: marker "image" // { inherit (args) config; };
}
