"""The Nix side of a bundle: the nixpkgs commit pinned for the paper's date
(:mod:`.nixpkgs`), what each locked package is built from (:mod:`.providers`), and the
flake written as data for the Nix library shipped in ``reprokit/data/nix/`` (:mod:`.flake`).
"""
