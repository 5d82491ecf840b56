# The argument list of buildPythonPackage's mk-python-derivation.nix in nixpkgs 23.05 (its body
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
, format ? "setuptools"
, meta ? { }
, passthru ? { }
, doCheck ? true
, disabledTestPaths ? [ ]
, ... } @ attrs:

build attrs
