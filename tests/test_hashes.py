"""Hashes agree with the real Nix tools byte for byte (skipped only when nix is absent)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprokit import hashes, nar
from reprokit.errors import InputError
from reprokit.nar import walk
from tests.helpers import EXPLORE

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
@settings(max_examples=60 * EXPLORE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees)
def test_nar_hash_equals_nix_hash_on_random_trees(tmp_path_factory: pytest.TempPathFactory, tree: object) -> None:
    root = tmp_path_factory.mktemp("tree") / "root"
    materialise(root, tree)
    assert hashes.nix32_encode(nar.nar_sha256(root)) == nix_hash_path(root)


@needs_nix
def test_nar_hash_equals_nix_hash_path_sri_and_large_file(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "big.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 3))  # streamed, not read whole
    (root / "empty-dir").mkdir()
    (root / "ünï cödé").write_text("x")
    out = subprocess.run([*NIX_CMD, "hash", "path", str(root)], capture_output=True, text=True, check=True).stdout.strip()
    assert hashes.sri(nar.nar_sha256(root)) == out


def test_a_large_file_that_grows_while_it_is_hashed_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large file is hashed from memory it is mapped into, its size taken first: one
    that grows meanwhile is refused, not hashed as it was (flat or in a NAR)."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 22) + 5))

    def growing(piece: bytes) -> None:
        with open(big, "ab") as fh:
            fh.write(b"more")

    with pytest.raises(InputError, match=r"big\.bin: changed while it was hashed"):
        nar.format.stream((os.fsencode(big), big.stat().st_size), growing)
    real_mapped = hashes.mapped

    def mapped_growing(fd: int, size: int) -> Iterator[memoryview]:
        for view in real_mapped(fd, size):
            growing(b"")
            yield view

    monkeypatch.setattr(hashes, "mapped", mapped_growing)
    size = big.stat().st_size
    with pytest.raises(OSError, match="changed while it was hashed"):
        hashes.file_sha256(big)
    assert big.stat().st_size > size


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
    unpacked = nar.unpacked_nar_sha256(tgz)
    assert hashes.nix32_encode(unpacked.nar) == prefetch(f"file://{tgz}", "--unpack")
    assert unpacked.last_modified == int(src.stat().st_mtime)


def _member(tf: tarfile.TarFile, name: str, data: bytes | None = None, *, kind: bytes = tarfile.REGTYPE, mode: int = 0o644,
            link: str = "", mtime: int = 1_700_000_000) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, mtime, link
    if data is None:
        tf.addfile(info)
    else:
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))


def awkward_tarball(path: Path, top: str = "top/") -> Path:
    """Links Python's extraction filters refuse and Nix hashes: absolute, dangling and
    upward symlinks; a hard link; a file given twice; folders only implied; odd modes."""
    with tarfile.open(path, "w:gz") as tf:
        _member(tf, top, kind=tarfile.DIRTYPE, mode=0o755)
        _member(tf, f"{top}a.txt", b"hello\n")
        _member(tf, f"{top}etc-passwd", kind=tarfile.SYMTYPE, link="/etc/passwd")
        _member(tf, f"{top}dangling", kind=tarfile.SYMTYPE, link="nowhere/x")
        _member(tf, f"{top}up", kind=tarfile.SYMTYPE, link="../../x")
        _member(tf, f"{top}run.sh", b"#!/bin/sh\n", mode=0o744, mtime=1_710_000_000)
        _member(tf, f"{top}group-exec-only", b"g\n", mode=0o654)
        _member(tf, f"{top}hard", kind=tarfile.LNKTYPE, link=f"{top}run.sh")
        _member(tf, f"{top}sub/deep/f", b"implied folders\n")
        _member(tf, f"{top}empty/", kind=tarfile.DIRTYPE, mode=0o700)
        _member(tf, f"{top}dup", b"first\n")
        _member(tf, f"{top}dup", b"second\n")
    return path


def awkward_archives(tmp_path: Path) -> dict[str, Path]:
    out = {"links-and-modes.tar.gz": awkward_tarball(tmp_path / "links-and-modes.tar.gz"),
           "no-top-folder.tar.gz": awkward_tarball(tmp_path / "no-top-folder.tar.gz", top="")}
    with tarfile.open(tmp_path / "one-file.tar", "w") as tf:  # a single file is the top itself
        _member(tf, "only.txt", b"just a file\n", mode=0o755)
    with tarfile.open(tmp_path / "one-link.tar", "w") as tf:
        _member(tf, "top", kind=tarfile.SYMTYPE, link="/nix/store")
    with tarfile.open(tmp_path / "two-tops.tar.xz", "w:xz") as tf:
        _member(tf, "a/x", b"1")
        _member(tf, "b", b"2")
    with tarfile.open(tmp_path / "dot-slash.tar.bz2", "w:bz2") as tf:
        _member(tf, "./", kind=tarfile.DIRTYPE, mode=0o755)
        _member(tf, "./pkg/", kind=tarfile.DIRTYPE, mode=0o755)
        _member(tf, "./pkg/f", b"f\n")
    with zipfile.ZipFile(tmp_path / "pkg.zip", "w") as zf:
        zf.writestr(zipfile.ZipInfo("pkg/"), b"")
        run = zipfile.ZipInfo("pkg/bin/run", date_time=(2021, 3, 4, 5, 6, 8))
        run.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(run, b"#!/bin/sh\n")
        link = zipfile.ZipInfo("pkg/etc", date_time=(2020, 1, 1, 0, 0, 0))
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, b"/etc")
        zf.writestr(zipfile.ZipInfo("pkg/README", date_time=(2019, 5, 6, 7, 8, 10)), b"readme\n")
    for name in ("one-file.tar", "one-link.tar", "two-tops.tar.xz", "dot-slash.tar.bz2", "pkg.zip"):
        out[name] = tmp_path / name
    return out


@needs_nix
@pytest.mark.parametrize("name", ["links-and-modes.tar.gz", "no-top-folder.tar.gz", "one-file.tar", "one-link.tar", "two-tops.tar.xz",
                                  "dot-slash.tar.bz2", "pkg.zip"])
def test_unpacked_hash_of_awkward_archives_equals_nix_prefetch_url(tmp_path: Path, name: str) -> None:
    archive = awkward_archives(tmp_path)[name]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert hashes.nix32_encode(nar.unpacked_nar_sha256(archive).nar) == prefetch(f"file://{archive}", "--unpack")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_hash_unpack_takes_links_nix_takes_and_dates_a_zip_by_its_newest_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from reprokit.cli import main

    archives = awkward_archives(tmp_path)
    assert main(["hash", "--unpack", "--json", str(archives["links-and-modes.tar.gz"])]) == 0
    assert json.loads(capsys.readouterr().out)["lastModified"] == 1_710_000_000
    assert main(["hash", "--unpack", "--json", str(archives["pkg.zip"])]) == 0
    assert json.loads(capsys.readouterr().out)["lastModified"] == 1_614_834_368  # 2021-03-04T05:06:08Z, pkg/bin/run


@pytest.mark.parametrize(("members", "why"), [
    ([("top/../x", b"x")], "'..'"),
    ([("top/link", "/tmp"), ("top/link/f", b"x")], "through the symlink top/link"),
    ([("top/f", b"x"), ("top/h", ("hard", "top/nowhere"))], "hard link to top/nowhere"),
])
def test_what_nix_refuses_to_unpack_is_one_line_naming_the_member(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  members: list[tuple[str, object]], why: str) -> None:
    from reprokit.cli import main

    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tf:
        for name, what in members:
            if isinstance(what, bytes):
                _member(tf, name, what)
            elif isinstance(what, tuple):
                _member(tf, name, kind=tarfile.LNKTYPE, link=what[1])
            else:
                _member(tf, name, kind=tarfile.SYMTYPE, link=str(what))
    assert main(["hash", "--unpack", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and why in err and err.count("\n") == 1


def test_nar_refuses_special_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="NAR holds only"):
        nar.nar_sha256(tmp_path)


def test_hash_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from reprokit.cli import main

    f = tmp_path / "f"
    f.write_bytes(b"abc")
    assert main(["hash", str(f), "--flat", "--format", "hex"]) == 0
    assert capsys.readouterr().out.strip() == hashlib.sha256(b"abc").hexdigest()
    assert main(["hash", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "nar" and out["sri"] == hashes.sri(nar.nar_sha256(f)) and out["swhid"].startswith("swh:1:cnt:")
    assert main(["hash", str(tmp_path / "missing")]) == 2
    assert main(["hash", str(f), "--unpack"]) == 1
    assert "not a readable archive" in capsys.readouterr().err


def _many_subtrees(root: Path) -> None:
    for i in range(90):
        d = root / f"d{i:02d}" / ("sub" if i % 3 else "ünï")
        d.mkdir(parents=True)
        (d / "a.txt").write_text(f"file {i}\n" * (i + 1))
        if i % 7 == 0:
            (d / "run.sh").write_text("#!/bin/sh\n")
            (d / "run.sh").chmod(0o755)
        if i % 11 == 0:
            (d / "link").symlink_to("a.txt")
            (d / "dangling").symlink_to("/nowhere/at/all")
        if i % 13 == 0:
            (d / "empty").mkdir()
        if i == 40:
            (d / "large.bin").write_bytes(os.urandom(3 * (1 << 20) + 5))
    (root / "top.txt").write_text("at the top\n")


@needs_nix
@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_a_large_tree_hashed_by_several_processes_equals_nix_hash(tmp_path: Path, jobs: int) -> None:
    """Enough subtrees for the walk to be shared by processes: folders, files small and
    large, executables, symlinks (dangling too), empty folders, non-ASCII names, a file
    at the top beside the folders."""
    root = tmp_path / "big"
    _many_subtrees(root)
    # With 2 or more jobs the walk really is shared: enough subtrees, and no other thread here.
    assert len([x for x in walk._plan(os.fsencode(root), nar.PARALLEL_UNITS) if isinstance(x, tuple)]) >= nar.PARALLEL_UNITS
    assert threading.active_count() == 1
    assert hashes.nix32_encode(nar.nar_sha256(root, jobs=jobs)) == nix_hash_path(root)
    assert not list(Path("/dev/shm").glob("reprokit-nar-*"))  # the workers' pieces are cleaned up


@pytest.mark.parametrize("jobs", [1, 2, 3])
@pytest.mark.parametrize("where", [3, 88])
def test_a_tree_a_nar_cannot_hold_fails_the_same_whoever_walks_it(tmp_path: Path, jobs: int, where: int) -> None:
    """A FIFO early (walked by this process) or late (by a worker) in a large tree: the
    same one-line error naming it, and no worker left behind."""
    root = tmp_path / "big"
    _many_subtrees(root)
    fifo = root / f"d{where:02d}" / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=f"{fifo}: a NAR holds only files, directories and symlinks"):
        nar.nar_sha256(root, jobs=jobs)
    assert not list(Path("/dev/shm").glob("reprokit-nar-*"))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@pytest.mark.parametrize("how", ["here", "forked", "forked-and-stopped"])
def test_many_files_hash_as_sha256sum_hashes_them_large_and_small_and_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                  how: str) -> None:
    """Small files are hashed here, or by a forked process when there are many; one that
    stops before it is done leaves its share to this process."""
    if how != "here":
        monkeypatch.setattr(hashes, "FORKED_SMALL", 1)
    if how == "forked-and-stopped":
        parent, plain = os.getpid(), hashes.file_sha256

        def stops_when_forked(path: str) -> bytes:
            if os.getpid() != parent:
                raise SystemExit(3)
            return plain(path)
        monkeypatch.setattr(hashes, "file_sha256", stops_when_forked)
    sizes = [0, 1, hashes.CHUNK - 1, hashes.CHUNK, hashes.CHUNK + 1, hashes.LARGE, 3 * hashes.LARGE + 5, 4096]
    paths = []
    for i, n in enumerate(sizes * 3):
        p = tmp_path / f"f{i:02d}"
        p.write_bytes(os.urandom(n))
        paths.append(str(p))
    gone = str(tmp_path / "gone")
    found = hashes.Hashing([*paths, gone], [*sizes * 3, hashes.LARGE]).result()
    out = subprocess.run(["sha256sum", *paths], capture_output=True, text=True, check=True).stdout.splitlines()
    assert [d.hex() for d in found[:-1]] == [line.split()[0] for line in out]  # type: ignore[union-attr]
    assert isinstance(found[-1], FileNotFoundError)
