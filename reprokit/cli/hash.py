"""``reprokit hash``: a file, folder or archive hashed as Nix does."""

from __future__ import annotations

import argparse
import os

from reprokit import hashes, nar
from reprokit.cli.options import JSON, LOGGING, Subparsers, print_json
from reprokit.errors import UsageError


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "hash", parents=[LOGGING, JSON],
        help="hash a file, folder or archive the way Nix does (narHash, nix-prefetch-url)",
        description="Print the sha256 that Nix computes: by default the NAR hash of PATH (as 'nix hash path'); "
        "--flat hashes a file's bytes (as 'nix-prefetch-url URL'); --unpack hashes a tar or zip archive's contents "
        "after stripping a single top entry (as 'nix-prefetch-url --unpack URL'), read in memory: nothing is extracted. "
        "--json prints every form, a file's SWHID and, with --unpack, lastModified.",
    )
    p.add_argument("path", metavar="PATH")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--flat", action="store_true", help="hash the file's bytes, not its NAR")
    mode.add_argument("--unpack", action="store_true", help="hash the tree the archive holds, as Nix unpacks it")
    p.add_argument("--format", choices=("sri", "nix32", "hex"), default="sri", help="how to print the hash (default: sri)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = os.path.normpath(args.path)  # os.path, not pathlib: a hash starts in fewer imports
    if not os.path.lexists(path):
        raise UsageError(f"{path}: no such file or directory")
    if args.flat and args.unpack:
        raise UsageError("--flat and --unpack exclude each other")
    last_modified = None
    if args.unpack:
        if not os.path.isfile(path):
            raise UsageError(f"{path}: --unpack takes an archive file")
        unpacked = nar.unpacked_nar_sha256(path)
        digest, mode, last_modified = unpacked.nar, "nar-unpacked", unpacked.last_modified
    elif args.flat:
        if not os.path.isfile(path):
            raise UsageError(f"{path}: --flat takes a file")
        digest, mode = hashes.file_sha256(path), "flat"
    else:
        digest, mode = nar.nar_sha256(path), "nar"
    if args.json:
        out: dict[str, object] = {"reprokit_hash": 1, "path": path, "mode": mode,
                                  "sri": hashes.sri(digest), "nix32": hashes.nix32_encode(digest), "hex": digest.hex()}
        if os.path.isfile(path) and not os.path.islink(path):
            out["swhid"] = hashes.swhid(path)
        if last_modified is not None:
            out["lastModified"] = last_modified
        print_json(out)
    else:
        print(hashes.render(digest, args.format))
    return 0
