{ system ? builtins.currentSystem, ... }:
let
  hostPython = "/usr/bin/python3";
  run = name: script: derivation {
    inherit name system;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
  };
  marker = name: run name "mkdir -p $out";

  # Each package: site-packages in $out/site, and what it propagates.
  buildPythonPackage = args:
    let
      deps = (args.dependencies or [ ]) ++ (args.propagatedBuildInputs or [ ]);
      isWheel = (args.format or "") == "wheel";
      drv = run "${args.pname}-${args.version}" (
        if isWheel then ''
          mkdir -p $out/site
          ${hostPython} -m zipfile -e ${args.src} $out/site
        '' else ''
          mkdir -p $out/site
          ${hostPython} -m pip install --no-deps --no-index --no-build-isolation --target $out/site ${args.src}
        '');
    in drv // { propagated = deps; pname = args.pname; version = args.version; };

  closure = pkgs:
    let
      go = seen: list:
        if list == [ ] then seen
        else
          let h = builtins.head list; t = builtins.tail list;
          in if builtins.elem h.outPath (map (p: p.outPath) seen) then go seen t
             else go (seen ++ [ h ]) (h.propagated ++ t);
    in go [ ] pkgs;

  makePython = { packageOverrides ? (final: prev: { }), ... }:
    let
      base = final: {
        inherit buildPythonPackage;
        setuptools = marker "setuptools";
        wheel = marker "wheel";
      };
      set = let fix = f: let x = f x; in x;
            in fix (final: let prev = base final; in prev // packageOverrides final prev);
    in {
      override = makePython;
      pkgs = set;
      withPackages = f:
        let all = closure (f set);
        in run "python3-env" ''
          mkdir -p $out/bin
          printf '#!/bin/sh\nexport PYTHONPATH=%s\nexec ${hostPython} "$@"\n' \
            "${builtins.concatStringsSep ":" (map (p: "${p}/site") all)}" > $out/bin/python
          chmod +x $out/bin/python
        '';
    };
in {
  python311 = makePython { };
  python310 = makePython { };
  python312 = makePython { };
  autoPatchelfHook = marker "autoPatchelfHook";
  zlib = marker "zlib";
  stdenv.cc.cc.lib = marker "libstdcxx";
  mkShell = args: marker "shell";
  writeShellScript = name: text: run name "printf '%s' '${text}' > $out; chmod +x $out";
  runCommand = name: env: script: run name script;
  dockerTools.buildLayeredImage = args: marker "image";
}
