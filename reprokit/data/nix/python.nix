# The paper's Python packages, built in a scope of their own from the bundle's files.
#
# nixpkgs' Python set is never overridden: its setuptools, wheel, pip, packaging ... keep
# building everything (and the build hooks), while the paper's copies of the same names,
# when its lock has them, are what the paper imports at run time. Each package depends
# only on packages of this scope; `env` is the interpreter with all of them.
{ pkgs, python, root, lock, args }:
let
  u = import ./util.nix;
  inherit (python.pkgs) buildPythonPackage;

  # A vendored file, checked by Nix against the sha256 the lock records.
  vendored = file: builtins.path {
    path = root + "/${file.path}";
    name = file.storeName;
    recursive = false;
    sha256 = file.sha256;
  };

  fromNixpkgs = names: u.firstDerivation python.pkgs (builtins.concatStringsSep "|" names);

  nativeFor = paths:
    let found = map (p: { path = p; drv = u.firstDerivation pkgs p; }) paths;
    in {
      present = map (f: f.drv) (builtins.filter (f: f.drv != null) found);
      missing = map (f: f.path) (builtins.filter (f: f.drv == null) found);
    };

  # A manylinux wheel needs glibc, libstdc++/libgcc_s and the libraries inside it
  # (autoPatchelfHook is from 2018: older trees install the wheel as it is).
  autoPatchelf = u.derivationAt pkgs "autoPatchelfHook";
  wheelNative = native: u.optionalAttrs native {
    nativeBuildInputs = if autoPatchelf == null then [ ] else [ autoPatchelf ];
    buildInputs = [ pkgs.stdenv.cc.cc.lib pkgs.zlib ];
  };

  dependenciesArg = deps:
    if args.buildSystem then { dependencies = deps; } else { propagatedBuildInputs = deps; };

  common = p: {
    pname = p.name;
    inherit (p) version;
    # Test suites need data and network; `nix flake check` reruns the paper instead.
    doCheck = false;
    # One version of each name is in the lock; build tools may bring another at build time.
    catchConflicts = false;
  };

  # The tools that build one sdist: its build_with wheels from vendor/build (each depending
  # on the others of the same set by name), or nixpkgs' package of that name.
  buildTools = p: u.fix (tools: builtins.listToAttrs (map (entry: {
    inherit (entry) name;
    value =
      if entry ? tool then
        let t = lock.buildTools.${entry.tool}; in
        buildPythonPackage (common t // wheelNative t.native // {
          format = "wheel";
          src = vendored t.src;
          # The resolver checked the tools' requirements; the sdist's build is the test.
          dontCheckRuntimeDeps = true;
        } // dependenciesArg (builtins.filter (d: d != null) (map (d: tools.${d} or null) t.dependencies)))
      else fromNixpkgs entry.nixpkgs;
  }) p.buildSystem));

  fromWheel = scope: p: buildPythonPackage (common p // wheelNative p.native // {
    format = "wheel";
    src = vendored p.src;
  } // dependenciesArg (map (d: scope.${d}) p.dependencies));

  fromSdist = scope: p:
    let
      tools = buildTools p;
      toolsFound = builtins.filter (t: t != null) (map (e: tools.${e.name}) p.buildSystem);
      toolsMissing = map (e: e.name) (builtins.filter (e: tools.${e.name} == null) p.buildSystem);
      host = nativeFor p.nativeInputs.host;
      build = nativeFor (p.nativeInputs.build ++ (if p.zip then [ "unzip" ] else [ ]));
      missing = toolsMissing ++ host.missing ++ build.missing;
    in
    buildPythonPackage (common p
      // (if args.pyproject then { pyproject = true; } else { format = if args.pipBuild then "pyproject" else "setuptools"; })
      // (if args.buildSystem
          then { build-system = toolsFound; nativeBuildInputs = build.present; }
          else { nativeBuildInputs = toolsFound ++ build.present; })
      // { buildInputs = host.present; src = vendored p.src; }
      // dependenciesArg (map (d: scope.${d}) p.dependencies)
      // u.optionalAttrs (missing != [ ]) {
        preConfigure = ''
          echo ${u.escapeShellArg "reprokit: not in this nixpkgs, so left out of the build: ${builtins.concatStringsSep ", " missing}"} >&2
        '';
      }
      // { passthru.reprokitMissing = missing; });

  fromTree = p:
    let found = fromNixpkgs p.nixpkgs; in
    if found != null then found
    else throw "reprokit: ${p.name} ${p.version} was not vendored, and this nixpkgs has no package of that name";

  build = scope: p:
    if p.provider == "wheel" then fromWheel scope p
    else if p.provider == "sdist" then fromSdist scope p
    else fromTree p;

  scope = u.fix (self: builtins.listToAttrs (map (p: { inherit (p) name; value = build self p; }) lock.packages));
in
{
  inherit scope;
  env = python.withPackages (_: map (p: scope.${p.name}) lock.packages);
}
