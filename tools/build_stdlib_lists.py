"""Build reprokit/data/stdlib.json: the top-level standard library modules of each Python.

    python tools/build_stdlib_lists.py [--python PATH ...]

Each list is what a real interpreter has: ``sys.stdlib_module_names`` where it exists
(3.10 and later), else the interpreter's builtin modules plus the modules and packages in
its standard library folder and lib-dynload (site-packages left out); joined with the
list of the stdlib-list project (which reads each version's documentation index), which
also names the modules of other platforms (``winreg``, ``msvcrt``) and of optional C
extensions a build may lack (``_gdbm``). Interpreters are looked for under pyenv and on
PATH (``--python`` adds more); a version with no interpreter here has the stdlib-list
list alone.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reprokit" / "data" / "stdlib.json"
VERSIONS = ["2.7", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]

# Run by each interpreter (2.7 included): prints its version and module names as JSON.
PROBE = r"""
import json, os, pkgutil, sys, sysconfig
names = set(sys.builtin_module_names)
if hasattr(sys, "stdlib_module_names"):
    names |= set(sys.stdlib_module_names)
else:
    stdlib = sysconfig.get_paths()["stdlib"]
    folders = [stdlib, os.path.join(stdlib, "lib-dynload")]
    for module in pkgutil.iter_modules(folders):
        names.add(module[1])
names = sorted(n for n in names if n not in ("site-packages", "dist-packages") and not n.startswith("__phello__"))
print(json.dumps({"version": "%d.%d" % sys.version_info[:2], "names": names}))
"""


def interpreters(extra: list[str]) -> list[str]:
    found = list(extra)
    pyenv = Path.home() / ".pyenv" / "versions"
    if pyenv.is_dir():
        found += [str(p / "bin" / "python") for p in sorted(pyenv.iterdir()) if (p / "bin" / "python").exists()]
    for v in VERSIONS:
        exe = shutil.which(f"python{v}")
        if exe:
            found.append(exe)
    return list(dict.fromkeys(found))


def probe(exe: str) -> tuple[str, list[str]] | None:
    proc = subprocess.run([exe, "-S", "-c", PROBE], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout)
    return data["version"], data["names"]


def stdlib_list_project() -> dict[str, list[str]]:
    """The lists of the stdlib-list project, from its newest wheel on PyPI."""
    with urllib.request.urlopen("https://pypi.org/pypi/stdlib-list/json", timeout=60) as r:
        meta = json.load(r)
    wheel = next(u for u in meta["urls"] if u["filename"].endswith(".whl"))
    with urllib.request.urlopen(wheel["url"], timeout=120) as r:
        data = r.read()
    out: dict[str, list[str]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            m = re.search(r"lists/(\d\.\d+)\.txt$", name)
            if m:
                mods = {line.strip().split(".")[0] for line in zf.read(name).decode().splitlines() if line.strip()}
                out[m.group(1)] = sorted(mods)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", action="append", default=[], help="another interpreter to read")
    args = p.parse_args()
    lists: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for exe in interpreters(args.python):
        got = probe(exe)
        if got and got[0] in VERSIONS and got[0] not in lists:
            lists[got[0]], sources[got[0]] = got[1], "interpreter"
    project = stdlib_list_project()
    for v in VERSIONS:
        if v in project:
            if v in lists:
                lists[v] = sorted(set(lists[v]) | set(project[v]))
            else:
                lists[v], sources[v] = project[v], "stdlib-list"
    for v, names in lists.items():
        # Build artefacts of one interpreter or another, never imported by code.
        lists[v] = [n for n in names if not n.startswith("_sysconfigdata") and n not in ("lib", "__phello__")]
    about = ("Top-level standard library module names per Python version: what a real interpreter has ("
             + ", ".join(v for v in VERSIONS if sources.get(v) == "interpreter")
             + "; sys.stdlib_module_names where it exists, else builtin modules and the modules of the standard library "
             "folder and lib-dynload), joined with the stdlib-list project's lists, which read each version's documentation "
             "index and name other platforms' modules too (alone for "
             + ", ".join(v for v in VERSIONS if sources.get(v) == "stdlib-list")
             + "). Built by tools/build_stdlib_lists.py.")
    OUT.write_text(json.dumps({"about": about, "versions": {v: lists[v] for v in VERSIONS if v in lists}}, indent=None) + "\n")
    for v in VERSIONS:
        print(f"{v:5} {sources.get(v, 'MISSING'):12} {len(lists.get(v, []))} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
