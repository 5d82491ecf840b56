# A stand-in for nixpkgs in tests: just the attributes reprokit's generated flake uses,
# built with the host's Python (Debian's Nix runs without a sandbox). It lets the tests
# run `nix build` of a generated flake with no network; it is not a model for the
# generated code, which follows the real nixpkgs API.
{
  outputs = _: { };
}
