"""Builders the tests share: small papers on disk, notebooks, a nixpkgs-like tarball, and
the re-sealing of a tampered bundle. Tests import them from here, never from each other."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from reprokit.bundle import manifest
from reprokit.bundle.pack import sums
from reprokit.fsutil import sha256_file
from reprokit.resolve.interpreter import running

ROOT = Path(__file__).resolve().parent.parent
# Property tests draw this many times as many examples under HYPOTHESIS_PROFILE=explore.
EXPLORE = 30 if os.environ.get("HYPOTHESIS_PROFILE") == "explore" else 1
RUNNING = running()  # the running Python, X.Y: the target of papers archived in tests
SAMPLE_PAPER = ROOT / "sample_paper"

# A tiny paper: one entry point importing alpha (which needs beta), a data file, a
# CITATION.cff with its date.
PAPER = {
    "CITATION.cff": 'cff-version: 1.2.0\nmessage: "cite"\ntitle: "Tiny study"\nauthors:\n  - family-names: Doe\n    given-names: Jo\ndate-released: "2024-01-20"\n',
    "run.py": "import json, os\nimport alpha\nif __name__ == '__main__':\n    os.makedirs('out', exist_ok=True)\n"
              "    json.dump({'alpha': alpha.__version__}, open('out/result.json', 'w'))\n",
    "data/input.csv": "a,b\n1,2\n",
    "requirements.txt": "alpha\n",
}

# A nixpkgs revision and commit time for a stand-in GitHub.
REV = "0123456789abcdef0123456789abcdef01234567"
COMMIT_TIME = 1707978831  # 2024-02-15T06:33:51Z


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> text or bytes) under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def notebook(*cells: str, nbformat: int = 4, language: str = "python") -> str:
    """A minimal notebook JSON text with the given code cells."""
    if nbformat == 3:
        return json.dumps({
            "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
            "worksheets": [{"cells": [{"cell_type": "code", "input": c, "language": "python", "outputs": [], "metadata": {}} for c in cells], "metadata": {}}],
        })
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "k", "display_name": "k", "language": language}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "source": c, "metadata": {}, "outputs": [], "execution_count": None} for i, c in enumerate(cells)],
    })


def make_tarball(tmp_path: Path) -> bytes:
    src = tmp_path / f"nixpkgs-{REV}"
    (src / "pkgs").mkdir(parents=True)
    (src / "default.nix").write_text("{ ... }: { }\n")
    (src / "pkgs" / "hello.sh").write_text("#!/bin/sh\n")
    (src / "pkgs" / "hello.sh").chmod(0o755)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for p in sorted([src, *src.rglob("*")]):
            info = tf.gettarinfo(p, arcname=str(p.relative_to(tmp_path)))
            info.mtime = COMMIT_TIME
            with open(p, "rb") if p.is_file() else io.BytesIO() as fh:
                tf.addfile(info, fh if p.is_file() else None)
    return buf.getvalue()


def resign(b: Path, manifest_text: str | None = None) -> None:
    """Seal a tampered bundle again, as a hostile author would: the manifest's paper
    digests and SHA256SUMS agree with the files, so only reprokit's rules stand."""
    if manifest_text is None:
        man = manifest.read(b / "reprokit.yaml")
        files = tuple(manifest.PaperFile(path=f.path, sha256=sha256_file(b / "paper" / f.path)) for f in man.paper_files)
        manifest_text = manifest.render(dataclasses.replace(man, paper_files=files))
    (b / "reprokit.yaml").write_text(manifest_text)
    (b / "SHA256SUMS").write_text(sums(b))


def as_format_1(doc: dict[str, Any]) -> dict[str, Any]:
    """A manifest document as format 1 says the same: outputs recorded by path and sha256
    alone (the rest of format 1 was what format 2 kept)."""
    return {**doc, "reprokit_manifest": 1, "entry_points": [
        {**e, "outputs": [{"path": o["path"], "sha256": o["sha256"]} for o in e["outputs"]]} for e in doc["entry_points"]]}


# Who a CLI run can be: root; root without the capabilities that let it read any file (as
# an unprivileged user reads); nobody (the system's Python, with this checkout and its
# venv's packages on the path, which must be readable by others).
CLI_USERS = ["root", "root-without-dac", "nobody"] if os.geteuid() == 0 else ["self"]


def reprokit_as(user: str, args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``reprokit ARGS`` run as ``user`` (see CLI_USERS), in a process of its own."""
    import pytest

    if user in ("root", "self"):
        cmd = [sys.executable, "-m", "reprokit", *args]
    elif user == "root-without-dac":
        if not shutil.which("setpriv"):
            pytest.skip("needs setpriv (util-linux)")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "reprokit", *args]
    else:
        site = Path(sysconfig.get_paths()["purelib"])
        paths = [ROOT, site]
        if not Path("/usr/bin/python3").exists() or not shutil.which("setpriv"):
            pytest.skip("needs setpriv and the system's python3 to run as another user")
        if any(not all(os.stat(p).st_mode & 0o005 for p in [q, *q.parents]) for q in paths):
            pytest.skip(f"{ROOT} or {site} is not readable by other users")
        if sys.version_info[:2] != _system_python_version():
            pytest.skip("the system's python3 is not the running Python's version (the venv's compiled packages)")
        boot = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}; from reprokit.cli import main; sys.exit(main(sys.argv[1:]))"
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", boot, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")


def _system_python_version() -> tuple[int, int]:
    out = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True)
    major, minor = out.stdout.split()
    return int(major), int(minor)


def shared_copy(tree: Path, base: Path) -> Path:
    """A copy of ``tree`` that every user can read, under a fresh folder of ``base``
    (pytest's own temporary folders are private to their user)."""
    stage = Path(tempfile.mkdtemp(prefix="reprokit-shared-", dir=base))
    stage.chmod(0o755)
    dest = stage / tree.name
    shutil.copytree(tree, dest, symlinks=True)
    for p in [dest, *dest.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    return dest
