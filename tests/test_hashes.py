"""Hashes agree with the real Nix tools byte for byte (skipped only when nix is absent)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprokit import hashes

NIX = shutil.which("nix-hash")
needs_nix = pytest.mark.skipif(NIX is None, reason="nix-hash not installed (Debian package nix-bin)")
NIX_CMD = ["nix", "--extra-experimental-features", "nix-command"]


def nix_hash_path(path: Path) -> str:
    return subprocess.run(["nix-hash", "--type", "sha256", "--base32", str(path)], capture_output=True, text=True, check=True).stdout.strip()


def prefetch(url: str, *extra: str) -> str:
    out = subprocess.run(["nix-prefetch-url", *extra, url], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_nix32_round_trip_and_known_value() -> None:
    digest = hashlib.sha256(b"").digest()
    # sha256 of the empty string in Nix base32, as `nix hash to-base32` prints it.
    assert hashes.nix32_encode(digest) == "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
    assert hashes.nix32_decode(hashes.nix32_encode(digest)) == digest
    assert hashes.digest_of(hashes.sri(digest)) == digest == hashes.digest_of(digest.hex())
    with pytest.raises(ValueError):
        hashes.nix32_decode("e" * 52)


def test_swhid_is_the_git_blob_id(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"hello\n")
    # `git hash-object` of "hello\n"
    assert hashes.swhid(f) == "swh:1:cnt:ce013625030ba8dba906f756967f9e9ca394464a"


names = st.text(alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(lambda n: n not in (".", ".."))
leaf = st.one_of(
    st.tuples(st.just("file"), st.binary(max_size=3000), st.booleans()),
    st.tuples(st.just("link"), names),
)
trees = st.recursive(leaf, lambda children: st.dictionaries(names, children, max_size=5), max_leaves=25)


def materialise(path: Path, node: object) -> None:
    if isinstance(node, dict):
        path.mkdir()
        for name, child in node.items():
            materialise(path / name, child)
    elif node[0] == "file":  # type: ignore[index]
        path.write_bytes(node[1])  # type: ignore[index]
        path.chmod(0o755 if node[2] else 0o644)  # type: ignore[index]
    else:
        os.symlink(node[1], path)  # type: ignore[index]


@needs_nix
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees)
def test_nar_hash_equals_nix_hash_on_random_trees(tmp_path_factory: pytest.TempPathFactory, tree: object) -> None:
    root = tmp_path_factory.mktemp("tree") / "root"
    materialise(root, tree)
    assert hashes.nix32_encode(hashes.nar_sha256(root)) == nix_hash_path(root)


@needs_nix
def test_nar_hash_equals_nix_hash_path_sri_and_large_file(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "big.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 3))  # streamed, not read whole
    (root / "empty-dir").mkdir()
    (root / "ünï cödé").write_text("x")
    out = subprocess.run([*NIX_CMD, "hash", "path", str(root)], capture_output=True, text=True, check=True).stdout.strip()
    assert hashes.sri(hashes.nar_sha256(root)) == out


@needs_nix
def test_flat_and_unpacked_hashes_equal_nix_prefetch_url(tmp_path: Path) -> None:
    src = tmp_path / "pkg-1.0"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "run").write_text("#!/bin/sh\necho hi\n")
    (src / "bin" / "run").chmod(0o755)
    (src / "README").write_text("readme\n")
    os.symlink("README", src / "link")
    tgz = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(src, arcname="pkg-1.0")
    assert hashes.nix32_encode(hashes.file_sha256(tgz)) == prefetch(f"file://{tgz}")
    unpacked = hashes.unpacked_nar_sha256(tgz)
    assert hashes.nix32_encode(unpacked.nar) == prefetch(f"file://{tgz}", "--unpack")
    assert unpacked.last_modified == int(src.stat().st_mtime)


def test_nar_refuses_special_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="NAR holds only"):
        hashes.nar_sha256(tmp_path)


def test_hash_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from reprokit.cli import main

    f = tmp_path / "f"
    f.write_bytes(b"abc")
    assert main(["hash", str(f), "--flat", "--format", "hex"]) == 0
    assert capsys.readouterr().out.strip() == hashlib.sha256(b"abc").hexdigest()
    assert main(["hash", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "nar" and out["sri"] == hashes.sri(hashes.nar_sha256(f)) and out["swhid"].startswith("swh:1:cnt:")
    assert main(["hash", str(tmp_path / "missing")]) == 2
    assert main(["hash", str(f), "--unpack"]) == 1
    assert "not a readable archive" in capsys.readouterr().err
