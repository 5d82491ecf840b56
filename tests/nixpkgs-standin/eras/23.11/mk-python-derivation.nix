# The argument list of buildPythonPackage's mk-python-derivation.nix in nixpkgs 23.11 (its body
# is the stand-in's). reprokit's Nix library reads these names when nixpkgs hides them.
{ lib, python, build, ... }:

{ name ? "${attrs.pname}-${attrs.version}"
, nativeBuildInputs ? [ ]
, buildInputs ? [ ]
, checkInputs ? [ ]
, nativeCheckInputs ? [ ]
, propagatedBuildInputs ? [ ]
, pythonPath ? [ ]
, strictDeps ? true
, outputs ? [ "out" ]
, disabled ? false
, catchConflicts ? true
, makeWrapperArgs ? [ ]
, dontWrapPythonPrograms ? false
, dontUsePipInstall ? false
, permitUserSite ? false
, removeBinBytecode ? true
, pyproject ? null
, format ? null
, meta ? { }
, passthru ? { }
, doCheck ? true
, disabledTestPaths ? [ ]
, ... } @ attrs:

build attrs
