"""Build reprokit/data/nixpkgs_pins.json, the embedded table of real nixpkgs pins.

    python tools/build_pins_table.py [--shared ../shared/data/nixpkgs-pins.json]

Sources, both copied from public repositories (flake.lock, niv sources.json, fetchTarball
and nix-prefetch-git pins), never computed:

- the shared table of 3,409 pins (2020-03 onwards);
- tools/data/nixpkgs-pins-2016-2020.json: pins of 2016-2020 gathered from the git
  history of public projects, with commit times from public nixpkgs-channels forks
  (see its "about"), and commit times for some rows of the shared table that had none.

A pin enters the table only with a commit time (it must be placed on the calendar) and a
hash of the unpacked tarball (SRI narHash, or the same value in Nix base32). A pin whose
channel was inferred from the rev's branch ancestry (its source names none) gets that
release line's channel name.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reprokit.hashes import nix32_decode, sri  # noqa: E402

OUT = ROOT / "reprokit" / "data" / "nixpkgs_pins.json"
OLD = ROOT / "tools" / "data" / "nixpkgs-pins-2016-2020.json"


def channel_of(label: str | None) -> str | None:
    """A channel name from a gathered label: ``nixos-18.09``, ``nixos-18.09 line
    (inferred)``, ``release-19.03 line (inferred from pin file name)``; None for an
    unknown or master line."""
    if not label:
        return None
    m = re.match(r"(nixos|nixpkgs|release)-(\d\d\.\d\d)(-small|-darwin)?\b", label)
    if m:
        return f"{'nixos' if m.group(1) == 'release' else m.group(1)}-{m.group(2)}{m.group(3) or ''}"
    if label.startswith(("nixos-unstable", "nixpkgs-unstable")) and "or" not in label:
        return label.split()[0]
    return None


def nar_hash(row: dict[str, object]) -> str | None:
    if isinstance(row.get("narHash"), str):
        return str(row["narHash"])
    b32 = row.get("sha256_base32")
    return sri(nix32_decode(str(b32))) if isinstance(b32, str) and len(b32) == 52 else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data" / "nixpkgs-pins.json")
    args = p.parse_args()
    shared = json.loads(args.shared.read_text())
    old = json.loads(OLD.read_text())
    fills = {r["rev"]: r for r in old.get("table_null_fills", []) if r.get("lastModified")}
    rows: dict[str, list[object]] = {}
    for r in shared["pins"]:
        when = r.get("lastModified") or (fills.get(r["rev"]) or {}).get("lastModified")
        digest = nar_hash(r)
        if when and digest:
            rows[r["rev"]] = [r["channel"], r["rev"], int(when), digest, int(r.get("sources") or 1)]
    added = 0
    for r in old["pins"]:
        channel = channel_of(r.get("channel"))
        digest = nar_hash(r)
        if not (channel and digest and r.get("lastModified")) or r["rev"] in rows:
            continue
        rows[r["rev"]] = [channel, r["rev"], int(r["lastModified"]), digest, len(r.get("sources") or []) or 1]
        added += 1
    table = {
        "about": "Real NixOS/nixpkgs pins (channel, rev, lastModified = commit time, narHash, number of independent public "
                 "sources), copied from public flake.lock files, niv sources.json files, fetchTarball and nix-prefetch-git pins; "
                 "values as published, never computed. Pins without a commit time are left out. 2016-2020 rows: "
                 "tools/data/nixpkgs-pins-2016-2020.json. Built by tools/build_pins_table.py.",
        "columns": ["channel", "rev", "lastModified", "narHash", "sources"],
        "pins": sorted(rows.values(), key=lambda r: (str(r[0]), int(r[2]))),  # type: ignore[call-overload]
    }
    OUT.write_text(json.dumps(table, separators=(",", ":")).replace('],["', '],\n["') + "\n")
    print(f"{len(rows)} pins ({added} from 2016-2020 sources) -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
