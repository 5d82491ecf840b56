#!/usr/bin/env python3
"""Build reprokit/data/import_names.json: which PyPI distribution provides which import name.

For each of the most downloaded distributions on PyPI (ranked list given as a TSV with
columns name, ..., rank), this reads the file list of its newest wheel straight from the
zip central directory with HTTP range requests (a few KB per wheel, never the whole
file). Distributions that publish no wheel fall back to their sdist's
``*.egg-info/top_level.txt`` (or, failing that, its package layout) when the sdist is
small. The result maps each importable name (top-level module, or ``a.b`` below a
namespace package such as ``google`` or ``mpl_toolkits``) to the distributions that
ship it, most downloaded first.

Usage:
    python tools/build_import_table.py RANKING.tsv [-o reprokit/data/import_names.json]
        [--index https://pypi.org/simple/] [--limit N] [--jobs 32]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import io
import json
import re
import struct
import sys
import tarfile
import time
import zipfile
from pathlib import PurePosixPath
from urllib.parse import urljoin

import requests

ACCEPT = "application/vnd.pypi.simple.v1+json"
OLD_CUTOFF = "2022-01-01"
# Names that wheels ship by accident (test suites, docs) and that would shadow a
# user's own folder of that name. They map only to a distribution of that very name.
GENERIC = {
    "test", "tests", "testing", "doc", "docs", "example", "examples", "benchmark",
    "benchmarks", "script", "scripts", "src", "build", "tools", "tool", "util", "utils",
    "common", "lib", "data", "sample", "samples", "demo", "demos", "bin", "conftest",
    "setup", "__pycache__", "helpers", "core", "config", "app", "main", "api", "models",
    "tasks", "settings", "resources", "static", "templates", "vendor", "_vendor", "site",
    "plugins", "contrib", "extras", "misc", "notebooks", "test_utils", "testutils",
    # Java package roots (Jython code imports com.sun..., org.python...).
    "com", "org", "net", "java", "javax",
}
WINDOWS_TAG = re.compile(r"-(win32|win_amd64|win_arm64)\.whl$")
MAC_TAG = re.compile(r"-macosx_[^-]+\.whl$")
MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXT_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z0-9_\-]+)*\.(py|pyc|so|pyd|pyi)$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_ranking(path: str) -> list[tuple[str, int]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        rank_col = next(i for i, h in enumerate(header) if h.startswith("rank"))
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > rank_col and cols[rank_col].strip().isdigit():
                rows.append((cols[0], int(cols[rank_col])))
    rows.sort(key=lambda r: r[1])
    return rows


def zip_names_by_range(session: requests.Session, url: str, size: int) -> list[str]:
    """Read a remote zip's member names from its central directory with range requests."""
    tail_len = min(size, 65536 + 22)
    tail = _range(session, url, size - tail_len, size - 1)
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd < 0:
        raise ValueError("no end of central directory")
    cd_size, cd_offset = struct.unpack("<II", tail[eocd + 12 : eocd + 20])
    if cd_offset == 0xFFFFFFFF:  # zip64: locator sits just before the EOCD
        loc = tail.rfind(b"PK\x06\x07", 0, eocd)
        (z64_off,) = struct.unpack("<Q", tail[loc + 8 : loc + 16])
        rec = _range(session, url, z64_off, z64_off + 55)
        cd_size, cd_offset = struct.unpack("<QQ", rec[40:56])
    start_in_tail = cd_offset - (size - tail_len)
    if start_in_tail >= 0:
        cd = tail[start_in_tail : start_in_tail + cd_size]
    else:
        cd = _range(session, url, cd_offset, cd_offset + cd_size - 1)
    names, pos = [], 0
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == b"PK\x01\x02":
        n_len, x_len, c_len = struct.unpack("<HHH", cd[pos + 28 : pos + 34])
        names.append(cd[pos + 46 : pos + 46 + n_len].decode("utf-8", "replace"))
        pos += 46 + n_len + x_len + c_len
    return names


def _range(session: requests.Session, url: str, start: int, end: int) -> bytes:
    for attempt in range(4):
        try:
            r = session.get(url, headers={"Range": f"bytes={start}-{end}"}, timeout=60)
            if r.status_code == 206:
                return r.content
            if r.status_code == 200:  # server ignored the range
                return r.content[start : end + 1]
            r.raise_for_status()
        except requests.RequestException:
            if attempt == 3:
                raise
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def importable_names(paths: list[str]) -> set[str]:
    """Import names a wheel provides: top-level modules, and namespace children."""
    files = []
    for p in paths:
        parts = PurePosixPath(p).parts
        if not parts or p.endswith("/"):
            continue
        if parts[0].endswith(".dist-info"):
            continue
        if parts[0].endswith(".data"):
            if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
                parts = parts[2:]
            else:
                continue
        files.append(parts)
    packages_with_init = {parts[:-1] for parts in files if parts[-1] in ("__init__.py", "__init__.pyc") or parts[-1].startswith("__init__.")}
    names: set[str] = set()

    def walk(prefix: tuple[str, ...]) -> None:
        # prefix is a directory without __init__: a namespace; record it and descend
        children = {parts[len(prefix)] for parts in files if len(parts) > len(prefix) and parts[: len(prefix)] == prefix}
        for child in children:
            sub = prefix + (child,)
            m = EXT_RE.match(child)
            if m and any(parts == sub for parts in files):
                names.add(".".join(prefix + (m.group(1),)))
            elif MODULE_RE.match(child) and child != "__pycache__":
                if sub in packages_with_init:
                    names.add(".".join(sub))
                elif len(sub) < 4 and any(p[-1].endswith((".py", ".so", ".pyd")) for p in files if p[: len(sub)] == sub):
                    names.add(".".join(sub))
                    walk(sub)

    tops = {parts[0] for parts in files}
    for top in tops:
        m = EXT_RE.match(top)
        if m and (top,) in files:
            names.add(m.group(1))
        elif MODULE_RE.match(top) and top != "__pycache__":
            if (top,) in packages_with_init:
                names.add(top)
            elif any(p[-1].endswith((".py", ".so", ".pyd")) for p in files if p[0] == top):
                names.add(top)
                walk((top,))
    return names


def sdist_names(session: requests.Session, url: str) -> set[str]:
    data = session.get(url, timeout=120).content
    members: list[str]
    if url.endswith(".zip"):
        members = zipfile.ZipFile(io.BytesIO(data)).namelist()
        opener = zipfile.ZipFile(io.BytesIO(data))
        def read(n):
            return opener.read(n).decode("utf-8", "replace")
    else:
        tf = tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115 - read() below uses it; in memory only
        members = tf.getnames()
        def read(n):
            return tf.extractfile(n).read().decode("utf-8", "replace")  # type: ignore[union-attr]
    top_level = [m for m in members if m.endswith(".egg-info/top_level.txt") and m.count("/") <= 3]
    if top_level:
        return {line.strip().replace("/", ".") for line in read(sorted(top_level, key=len)[0]).splitlines() if line.strip()}
    # No metadata: strip the sdist's own folder and an optional src/, then read the layout.
    paths = []
    for m in members:
        parts = PurePosixPath(m).parts[1:]
        if parts and parts[0] == "src":
            parts = parts[1:]
        if parts and parts[-1].endswith(".py") and parts[-1] not in ("setup.py", "conftest.py"):
            paths.append("/".join(parts))
    return importable_names(paths)


def examine(session: requests.Session, index: str, name: str) -> dict:
    url = urljoin(index, normalize(name) + "/")
    for attempt in range(4):
        try:
            r = session.get(url, headers={"Accept": ACCEPT}, timeout=60)
            if r.status_code == 404:
                return {"name": name, "error": "not on the index"}
            r.raise_for_status()
            break
        except requests.RequestException as exc:
            if attempt == 3:
                return {"name": name, "error": str(exc)}
            time.sleep(1 + attempt)
    page = r.json()
    files = [f for f in page["files"] if not f.get("yanked")]
    for f in files:
        f["url"] = urljoin(r.url, f["url"])
    display = page.get("name", name)
    wheels = [f for f in files if f["filename"].endswith(".whl")]
    if wheels:
        def score(f: dict) -> tuple:
            fn = f["filename"]
            return (f.get("upload-time") or "", "none-any" in fn, "manylinux" in fn and "x86_64" in fn)
        # The newest wheel, and the newest one from before OLD_CUTOFF: papers are old, and
        # distributions drop modules (setuptools' pkg_resources) or rename them.
        chosen = [max(wheels, key=score)]
        older = [f for f in wheels if (f.get("upload-time") or "9") < OLD_CUTOFF]
        if older:
            chosen.append(max(older, key=score))
        found: set[str] = set()
        for wheel in chosen:
            try:
                names = zip_names_by_range(session, wheel["url"], int(wheel["size"]))
            except Exception as exc:  # a broken wheel is a row to skip, not a crash
                return {"name": display, "error": f"{wheel['filename']}: {exc}"}
            found |= importable_names(names)
        result = {"name": display, "from": chosen[0]["filename"], "imports": sorted(found)}
        has_sdist = any(not f["filename"].endswith(".whl") for f in files)
        if not has_sdist and all(WINDOWS_TAG.search(f["filename"]) for f in wheels):
            result["only_on"] = "windows"
        elif not has_sdist and all(MAC_TAG.search(f["filename"]) for f in wheels):
            result["only_on"] = "macos"
        return result
    sdists = [f for f in files if f["filename"].endswith((".tar.gz", ".zip", ".tgz"))]
    if sdists:
        sdist = max(sdists, key=lambda f: f.get("upload-time") or "")
        if int(sdist.get("size") or 0) > 5_000_000:
            return {"name": display, "error": "sdist only, too large to read"}
        try:
            return {"name": display, "from": sdist["filename"], "imports": sorted(sdist_names(session, sdist["url"]))}
        except Exception as exc:
            return {"name": display, "error": f"{sdist['filename']}: {exc}"}
    return {"name": display, "error": "no files"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ranking")
    ap.add_argument("-o", "--output", default="reprokit/data/import_names.json")
    ap.add_argument("--index", default="https://pypi.org/simple/")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=32)
    args = ap.parse_args(argv)
    ranking = read_ranking(args.ranking)
    if args.limit:
        ranking = ranking[: args.limit]
    rank_of = {normalize(n): r for n, r in ranking}
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=args.jobs, pool_maxsize=args.jobs)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    results: list[dict] = []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(examine, session, args.index, n) for n, _ in ranking]
        for i, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            results.append(fut.result())
            if i % 500 == 0:
                print(f"{i}/{len(futures)} in {time.monotonic() - started:.0f}s", file=sys.stderr)
    providers: dict[str, list[tuple[int, str]]] = {}
    failed = 0
    for res in results:
        if "error" in res:
            failed += 1
            continue
        rank = rank_of[normalize(res["name"])]
        for mod in res["imports"]:
            top = mod.split(".")[0]
            if top in GENERIC and normalize(top) != normalize(res["name"]):
                continue
            providers.setdefault(mod, []).append((rank, res["name"]))
    table = {mod: [n for _, n in sorted(v)[:4]] for mod, v in sorted(providers.items())}
    only_on = {res["name"]: res["only_on"] for res in results if res.get("only_on")}
    doc = {
        "about": (
            "Import name -> PyPI distributions that ship it, most downloaded first. Made by "
            "tools/build_import_table.py from the file lists of the newest wheel (zip central "
            "directory read with HTTP range requests) of each of the most downloaded PyPI "
            "distributions, or the sdist's top_level.txt when no wheel exists. Dotted keys are "
            "packages below a namespace package (look up the longest known prefix)."
        ),
        "generated": dt.date.today().isoformat(),
        "index": args.index,
        "distributions_examined": len(results),
        "distributions_skipped": failed,
        "only_on": dict(sorted(only_on.items())),
        "modules": table,
    }
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=0, sort_keys=False, ensure_ascii=False)
        fh.write("\n")
    import os

    os.replace(tmp, args.output)
    print(f"{len(table)} import names from {len(results) - failed} distributions ({failed} skipped) in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
