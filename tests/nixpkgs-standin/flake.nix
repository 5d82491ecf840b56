# The stand-in as a flake input (`--override-input nixpkgs path:tests/nixpkgs-standin`);
# bundles import nixpkgs as a plain tree, so this only has to exist.
{
  outputs = _: { };
}
