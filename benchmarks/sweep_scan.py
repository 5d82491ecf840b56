#!/usr/bin/env python3
"""Robustness sweep: ``reprokit scan`` over the sdists of many real PyPI distributions.

Takes the N most downloaded distributions of a ranking file (a TSV with a ``name`` column
and a ``rank…`` column, as for ``tools/build_import_table.py``), downloads the newest
sdist of each (at most 15 MB; cached in ``benchmarks/.work/sweep``), unpacks it, and
scans each whole tree in its own process. It prints every scan that crashed or wrote
invalid JSON, the warnings by kind, the most common unresolved names, and the slowest
trees. A notebook found on the way is also read with IPython's own input transformer,
and the modules both readings import are compared (when IPython is installed). Cells
under ``%%time`` or ``%%timeit`` differ by design: IPython hands their body to the magic
as a string, reprokit reads it as the Python it runs.

    python benchmarks/sweep_scan.py RANKING.tsv [--top 2000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import ast
import collections
import concurrent.futures as cf
import csv
import json
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import requests

WORK = Path(__file__).resolve().parent / ".work" / "sweep"
MAX_SDIST = 15_000_000


def top_names(ranking: Path, top: int) -> list[str]:
    with open(ranking, newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        rank_col = next(c for c in rows.fieldnames or () if c.startswith("rank"))
        ranked = [(int(r[rank_col]), r["name"]) for r in rows if (r.get(rank_col) or "").isdigit()]
    return [name for _, name in sorted(ranked)[:top]]


def fetch(session: requests.Session, name: str) -> Path | None:
    api = f"https://pypi.org/pypi/{name}/json"
    try:
        info = session.get(api, timeout=30).json()
        sdist = next(u for u in info["urls"] if u["packagetype"] == "sdist" and u["size"] <= MAX_SDIST)
        dest = WORK / "sdists" / sdist["filename"]
        if not dest.exists():
            response = session.get(urljoin(api, sdist["url"]), timeout=120)  # mirrors answer relative URLs
            response.raise_for_status()
            tmp = dest.with_suffix(".part")
            tmp.write_bytes(response.content)
            tmp.rename(dest)
    except (requests.RequestException, ValueError, KeyError, StopIteration):
        return None
    return dest


def unpack(archive: Path) -> Path | None:
    tree = WORK / "trees" / archive.name
    if tree.exists():
        return tree
    tmp = tree.with_name(tree.name + ".part")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        if archive.suffix == ".zip":
            zipfile.ZipFile(archive).extractall(tmp)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(tmp, filter="data")
    except (OSError, tarfile.TarError, zipfile.BadZipFile):
        return None
    tmp.rename(tree)
    return tree


def scan(tree: Path) -> tuple[str, str, dict | None, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "reprokit", "scan", str(tree), "--json", "--no-installed", "--jobs", "1"],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or "Traceback" in proc.stderr:
        return tree.name, f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}", None, elapsed
    try:
        return tree.name, "ok", json.loads(proc.stdout), elapsed
    except ValueError as exc:
        return tree.name, f"invalid JSON: {exc}", None, elapsed


def notebook_differences(trees: list[Path]) -> tuple[int, list[str]]:
    """Notebooks whose imports differ between reprokit and IPython's transformer + ast."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return 0, ["IPython is not installed: notebooks not cross-checked"]
    from reprokit import scan as scan_mod

    manager = TransformerManager()
    checked, out = 0, []
    for nb_path in (p for t in trees for p in t.rglob("*.ipynb")):
        try:
            nb = json.loads(nb_path.read_text(encoding="utf-8"))
            cells = [c for c in nb["cells"] if isinstance(c, dict) and c.get("cell_type") == "code"]
            sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
            trees_ = [ast.parse(manager.transform_cell(src)) for src in sources]
        except Exception:  # not a v4 notebook IPython can read: nothing to compare with
            continue
        ipython = set()
        for tree in trees_:
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    ipython |= {a.name for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    ipython.add(node.module)
        found = scan_mod.scan_file(str(nb_path.parent), nb_path.name, (3, 11))
        ours = {i.module for i in found.imports if not i.relative}
        checked += 1
        if ours != ipython:
            out.append(f"{nb_path}: only IPython {sorted(ipython - ours)}, only reprokit {sorted(ours - ipython)}")
    return checked, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ranking", type=Path)
    ap.add_argument("--top", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    (WORK / "sdists").mkdir(parents=True, exist_ok=True)
    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=16))
    with cf.ThreadPoolExecutor(16) as ex:
        archives = [a for a in ex.map(lambda n: fetch(session, n), top_names(args.ranking, args.top)) if a]
    trees = [t for t in map(unpack, archives) if t]
    start = time.perf_counter()
    with cf.ThreadPoolExecutor(args.jobs) as ex:
        results = list(ex.map(scan, trees))
    wall = time.perf_counter() - start
    failures = [(name, status) for name, status, _, _ in results if status != "ok"]
    warnings: collections.Counter[str] = collections.Counter()
    unresolved: collections.Counter[str] = collections.Counter()
    files = 0
    for _, _, data, _ in results:
        if data:
            files += data["files"]["scanned"]
            warnings.update(re.sub(r"\d+", "N", re.sub(r" \(.*", "", w["message"]))[:60] for w in data["warnings"])
            unresolved.update(data["unresolved"])
    print(f"{len(trees)} sdists, {files} files scanned in {wall:.0f} s ({args.jobs} at a time); {len(failures)} failed")
    for name, status in failures:
        print(f"  FAILED {name}: {status}")
    print("warnings by kind:")
    for kind, n in warnings.most_common(12):
        print(f"  {n:5}  {kind}")
    print("most common unresolved:", ", ".join(f"{u} ({n})" for u, n in unresolved.most_common(15)))
    print("slowest:", ", ".join(f"{name} {s:.1f}s" for name, _, _, s in sorted(results, key=lambda r: -r[3])[:5]))
    checked, diffs = notebook_differences(trees)
    print(f"notebooks cross-checked with IPython: {checked}, differing: {len(diffs)}")
    for d in diffs[:20]:
        print("  " + d)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
