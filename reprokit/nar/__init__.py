"""Nix's archive format (NAR) and the hashes Nix computes from it: of a file or folder (as
``nix hash path``, ``nix-hash``) and of a tar or zip archive's contents (as
``nix-prefetch-url --unpack``), read in memory with Nix's unpacking rules.
"""

from typing import TYPE_CHECKING

from reprokit import lazy

if TYPE_CHECKING:
    from reprokit.nar.format import nar_serialise
    from reprokit.nar.unpacked import UnpackedHash, unpacked_nar_sha256
    from reprokit.nar.walk import PARALLEL_UNITS, nar_sha256
else:
    __getattr__ = lazy.exports(__name__)

__all__ = ["PARALLEL_UNITS", "UnpackedHash", "nar_serialise", "nar_sha256", "unpacked_nar_sha256"]
