"""``reprokit hash``: a file, folder or archive hashed as Nix does."""

from __future__ import annotations

import argparse
from pathlib import Path

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

    path = Path(args.path)
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{path}: no such file or directory")
    if args.flat and args.unpack:
        raise UsageError("--flat and --unpack exclude each other")
    last_modified = None
    if args.unpack:
        if not path.is_file():
            raise UsageError(f"{path}: --unpack takes an archive file")
        unpacked = nar.unpacked_nar_sha256(path)
        digest, mode, last_modified = unpacked.nar, "nar-unpacked", unpacked.last_modified
    elif args.flat:
        if not path.is_file():
            raise UsageError(f"{path}: --flat takes a file")
        digest, mode = hashes.file_sha256(path), "flat"
    else:
        digest, mode = nar.nar_sha256(path), "nar"
    if args.json:
        d = hashes.Digest.of(digest)
        out: dict[str, object] = {"reprokit_hash": 1, "path": str(path), "mode": mode, "sri": d.sri, "nix32": d.nix32, "hex": d.hex}
        if path.is_file() and not path.is_symlink():
            out["swhid"] = hashes.swhid(path)
        if last_modified is not None:
            out["lastModified"] = last_modified
        print_json(out)
    else:
        print(hashes.render(digest, args.format))
    return 0
