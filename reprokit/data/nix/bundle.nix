# The outputs of a reprokit bundle's flake, from `nix/lock.json` (written by reprokit) and
# the pinned nixpkgs, which is imported as a plain source tree so that revisions older than
# nixpkgs' own flake.nix (2020) work too.
#
#   packages.<system>.default        the paper's Python environment
#   packages.<system>.pypi-<name>    each locked package
#   packages.<system>.docker         a Docker image with the environment and paper/
#   devShells.<system>.default       a shell with the environment
#   apps.<system>.<entry point>      run an entry point in a copy of paper/
#   checks.<system>.<entry point>    rerun it and compare its outputs' sha256
{ nixpkgs, root }:
let
  lock = builtins.fromJSON (builtins.readFile (root + "/nix/lock.json"));
  inherit (lock) system;

  pkgs = import nixpkgs { inherit system; config = { }; overlays = [ ]; };
  release = pkgs.lib.trivial.release or pkgs.lib.version or "unknown";

  python =
    if pkgs ? ${lock.interpreter} then pkgs.${lock.interpreter}
    else throw "reprokit: this nixpkgs (${release}) has no ${lock.interpreter}, for Python ${lock.python}; pin a nixpkgs that has it";

  args = import ./builder.nix {
    inherit (pkgs) lib;
    tree = nixpkgs;
    inherit (python.pkgs) buildPythonPackage;
  };
  py = import ./python.nix { inherit pkgs python root lock args; };
  paper = import ./paper.nix { inherit pkgs root lock; inherit (py) env; };

  packages = builtins.listToAttrs (map (p: { name = "pypi-${p.name}"; value = py.scope.${p.name}; }) lock.packages);
in
{
  packages.${system} = packages // {
    default = py.env;
    docker = paper.image;
  };
  devShells.${system}.default = paper.shell;
  apps.${system} = paper.apps;
  checks.${system} = paper.checks;
}
