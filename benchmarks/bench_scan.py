#!/usr/bin/env python3
"""Scan benchmark: reprokit vs pipreqs on the source code of real scientific packages.

Downloads the newest sdist of each package below from PyPI (cached in
``benchmarks/.work``), unpacks it, removes its declaration files (pyproject.toml,
setup.cfg, setup.py, requirements*.txt ...) so that both tools see only code, and runs

- ``reprokit scan --json --no-installed --python 3.11`` (the bundled table only, offline),
- ``pipreqs --mode no-pin --print`` (its default mapping, PyPI look-ups on), and
- ``pipreqs --mode no-pin --print --use-local`` (offline: only what this environment has
  installed names a distribution),

on each tree. Timing reprokit against pipreqs with look-ups measures reprokit against
pipreqs waiting on PyPI; against ``--use-local`` both run offline, so that ratio is the
like-for-like one. ``--use-local`` finds only distributions installed here, so its recall
says more about this environment than about pipreqs. By default the tree is the library code the sdist installs (its import
packages); ``--whole`` keeps tests, docs and examples too. Ground truth is the package's own metadata (PKG-INFO ``Requires-Dist``):
recall is the share of its base requirements a tool finds; precision is the share of the
tool's non-optional findings that are declared requirements or extras. Prints a table
per package, the pooled numbers, and the wall-time ratio. reprokit is read twice from
the same run: as it reports (lazy imports, inside functions of a package, are optional)
and with its lazy imports counted as required. Last, it sorts reprokit's lazy
distributions by what the metadata says of them (base, extra, undeclared) and prints how
many undeclared ones a rule making lazy imports required could take along and still keep
precision at 0.85.

    python benchmarks/bench_scan.py [--packages a,b,c] [--no-pipreqs]
"""

from __future__ import annotations

import argparse
import email.parser
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PACKAGES = [
    "seaborn", "xarray", "statsmodels", "scikit-image", "scikit-learn", "networkx",
    "altair", "arviz", "astropy", "dask", "bokeh", "librosa", "sympy", "matplotlib",
    "pandas", "pymc", "geopandas", "shapely", "nilearn", "mne",
]
WORK = Path(__file__).resolve().parent / ".work" / "scan"
WHOLE = "--whole" in sys.argv
DECLARATIONS = re.compile(r"^(pyproject\.toml|setup\.cfg|setup\.py|Pipfile|environment\.ya?ml|.*requirements.*\.(txt|in)|PKG-INFO|tox\.ini)$")


def fetch_sdist(name: str) -> Path:
    dest = WORK / "sdists"
    dest.mkdir(parents=True, exist_ok=True)
    info = requests.get(f"https://pypi.org/pypi/{name}/json", timeout=60).json()
    sdist = next(u for u in info["urls"] if u["packagetype"] == "sdist")
    sdist["url"] = urljoin(f"https://pypi.org/pypi/{name}/json", sdist["url"])
    path = dest / sdist["filename"]
    if not path.exists():
        with requests.get(sdist["url"], timeout=300, stream=True) as r:
            r.raise_for_status()
            tmp = path.with_suffix(".part")
            with open(tmp, "wb") as fh:
                fh.writelines(r.iter_content(1 << 20))
            tmp.rename(path)
    return path


def unpack(archive: Path) -> tuple[Path, str]:
    """Unpack, return the code tree (declarations removed) and the PKG-INFO text."""
    tree = WORK / "trees" / archive.name.split(".tar")[0].removesuffix(".zip")
    pkg_info = ""
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    if archive.suffix == ".zip":
        zipfile.ZipFile(archive).extractall(tree)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(tree, filter="data")
    for p in sorted(tree.rglob("PKG-INFO"), key=lambda p: len(p.parts)):
        pkg_info = p.read_text(encoding="utf-8", errors="replace")
        break
    for p in list(tree.rglob("*")):
        if p.is_file() and DECLARATIONS.match(p.name):
            p.unlink()
    if not WHOLE:
        # Keep the library code only (what the wheel installs, which is what the metadata's
        # requirements describe): import packages at the sdist root or under src/.
        (top,) = [p for p in tree.iterdir() if p.is_dir()]
        for base in (top, top / "src", top / "lib"):
            if not base.is_dir():
                continue
            for child in list(base.iterdir()):
                keep = (child.is_dir() and (child / "__init__.py").exists()) or child.name in ("src", "lib")
                if not keep:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
    return tree, pkg_info


def truth(pkg_info: str, own: str) -> tuple[set[str], set[str]]:
    msg = email.parser.Parser().parsestr(pkg_info)
    base: set[str] = set()
    extras: set[str] = set()
    for line in msg.get_all("Requires-Dist") or []:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name == own:
            continue
        if req.marker and "extra" in str(req.marker):
            extras.add(name)
        elif req.marker is None or req.marker.evaluate({"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython", "platform_python_implementation": "CPython"}):
            base.add(name)
    return base, extras


LAZY_FOUND: set[str] = set()  # the last reprokit run's lazy distributions
REPORTED: set[str] = set()  # every distribution of the last reprokit run, optional ones too


def run_reprokit(tree: Path) -> tuple[set[str], float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "reprokit", "scan", str(tree), "--json", "--no-installed", "--python", "3.11"], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    data = json.loads(out.stdout)
    LAZY_FOUND.clear()
    LAZY_FOUND.update(canonicalize_name(d["name"]) for d in data["distributions"] if d.get("lazy"))
    REPORTED.clear()
    REPORTED.update(canonicalize_name(d["name"]) for d in data["distributions"])
    return {canonicalize_name(d["name"]) for d in data["distributions"] if not d["optional"]}, elapsed


def run_pipreqs(tree: Path, local: bool = False) -> tuple[set[str], float]:
    exe = shutil.which("pipreqs") or str(Path(sys.executable).parent / "pipreqs")
    where = ["--use-local"] if local else ["--pypi-server", "https://pypi.org/pypi/"]
    start = time.perf_counter()
    out = subprocess.run([exe, "--mode", "no-pin", "--print", "--force", *where, str(tree)], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    found = set()
    for line in out.stdout.splitlines():
        line = line.strip()
        if line and not line.startswith(("INFO", "WARNING", "ERROR")):
            try:
                found.add(canonicalize_name(Requirement(line).name))
            except Exception:
                continue
    return found, elapsed


def speed(totals: dict[str, list[float]]) -> list[str]:
    """The wall-time ratios, each saying whether it compares like with like."""
    ours = totals["reprokit"][4]
    if not (ours and totals["pipreqs"][4]):
        return []
    return [f"reprokit is {totals['pipreqs-local'][4] / ours:.1f}x as fast as pipreqs --use-local: both offline, the like-for-like time",
            f"reprokit is {totals['pipreqs'][4] / ours:.1f}x as fast as pipreqs with PyPI look-ups: most of that is pipreqs "
            "waiting on the network, not a like-for-like time"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packages", default=",".join(PACKAGES))
    ap.add_argument("--no-pipreqs", action="store_true")
    ap.add_argument("--whole", action="store_true", help="scan the whole sdist (tests, docs, examples too), not just the library")
    args = ap.parse_args()
    # hits, base, tp, found, time; "reprokit+lazy" reads lazy imports as required.
    totals: dict[str, list[float]] = {"reprokit": [0, 0, 0, 0, 0.0], "reprokit+lazy": [0, 0, 0, 0, 0.0], "pipreqs": [0, 0, 0, 0, 0.0], "pipreqs-local": [0, 0, 0, 0, 0.0]}
    reported_hits = 0
    lazy_kinds = {"base": 0, "extra": 0, "undeclared": 0}  # reprokit's lazy distributions, by the metadata
    print(f"{'package':<14} {'base':>4} | {'reprokit R':>10} {'P':>5} {'s':>6} | {'pipreqs R':>9} {'P':>5} {'s':>6} | {'--use-local R':>13} {'P':>5} {'s':>6}")
    for name in args.packages.split(","):
        tree, pkg_info = unpack(fetch_sdist(name))
        base, extras = truth(pkg_info, canonicalize_name(name))
        row = [f"{name:<14} {len(base):>4}"]
        tools = [("reprokit", run_reprokit)] + ([] if args.no_pipreqs else [("pipreqs", run_pipreqs),
                                                                              ("pipreqs-local", lambda t: run_pipreqs(t, local=True))])
        for tool, fn in tools:
            found, elapsed = fn(tree)
            found.discard(canonicalize_name(name))
            if tool == "reprokit":
                reported_hits += len(REPORTED & base)
                lazy = LAZY_FOUND - {canonicalize_name(name)}
                lazy_kinds["base"] += len(lazy & base)
                lazy_kinds["extra"] += len(lazy & extras - base)
                lazy_kinds["undeclared"] += len(lazy - base - extras)
                strict = (found | LAZY_FOUND) - {canonicalize_name(name)}
                t = totals["reprokit+lazy"]
                t[0] += len(strict & base)
                t[1] += len(base)
                t[2] += len(strict & (base | extras))
                t[3] += len(strict)
            hits = len(found & base)
            tp = len(found & (base | extras))
            t = totals[tool]
            t[0] += hits
            t[1] += len(base)
            t[2] += tp
            t[3] += len(found)
            t[4] += elapsed
            recall = hits / len(base) if base else 1.0
            precision = tp / len(found) if found else 1.0
            row.append(f"{recall:>{13 if tool == 'pipreqs-local' else 10}.2f} {precision:>5.2f} {elapsed:>6.2f}")
            missed = sorted(base - found)
            extra = sorted(found - base - extras)
            if missed or extra:
                print(f"    {tool}: missed {missed} extra {extra}", file=sys.stderr)
        print(" | ".join(row))
    print()
    for tool, (hits, nbase, tp, nfound, elapsed) in totals.items():
        if nfound or nbase:
            wall = f"  wall {elapsed:.1f}s" if elapsed else "  (the same run, lazy imports read as required)"
            print(f"{tool:<13} recall {hits / nbase:.3f}  precision {tp / max(nfound, 1):.3f}{wall}")
    print(f"reprokit recall counting every distribution it reports (optional ones too): {reported_hits / max(totals['reprokit'][1], 1):.3f}")
    # Extras count as right for precision, so a rule that made lazy imports required could
    # take every base and extra one but only so many undeclared ones and keep 0.85.
    _, _, tp, nfound, _ = totals["reprokit"]
    good = lazy_kinds["base"] + lazy_kinds["extra"]
    budget = max(0, int((tp + good) / 0.85 - nfound - good))
    print(f"reprokit lazy distributions: {lazy_kinds['base']} base, {lazy_kinds['extra']} extras, {lazy_kinds['undeclared']} undeclared; "
          f"making lazy imports required keeps precision >= 0.85 only if at most {budget} undeclared ones come along")
    for line in speed(totals):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
