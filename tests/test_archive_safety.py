"""archive on a paper that holds traps: links out of it, unreadable parts, odd names,
credentials in the index URL; --force and killed runs; SIGTERM and Ctrl-C."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprokit import archive as bundle_mod
from reprokit import fsutil
from reprokit.archive import ArchiveSettings, archive
from reprokit.bundle.place import reap
from reprokit.cli import main
from reprokit.errors import InputError
from reprokit.resolve import lockfile as lock_mod
from reprokit.scan import tree
from tests.fakeindex import FakeIndex, running
from tests.helpers import RUNNING, write_tree

ROOT = Path(__file__).resolve().parent.parent
PAPER = {
    "run.py": "import alpha\nif __name__ == '__main__':\n    print(alpha.__version__)\n",
    "requirements.txt": "alpha\n",
    "data/input.csv": "a,b\n1,2\n",
}
PASSWORD = "S3cretPassw0rdXYZ"


@pytest.fixture(scope="module")
def index() -> FakeIndex:
    idx = FakeIndex()
    idx.add("alpha", "1.0", uploaded="2023-06-01T00:00:00Z")
    return idx


def make(index: FakeIndex, paper: Path, out: Path, tmp_path: Path, **kw: object) -> bundle_mod.ArchiveResult:
    with running(index) as url:
        settings = {"date": dt.date(2024, 1, 20), "offline": True, "record_outputs": False, "index_url": f"{url}/simple/", "cache_dir": tmp_path / "cache", "quiet": True, **kw}
        return archive(ArchiveSettings(python=RUNNING, paper=paper, output=out, **settings))  # type: ignore[arg-type]


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_links_leaving_the_paper_are_not_followed(index: FakeIndex, tmp_path: Path) -> None:
    outside = write_tree(tmp_path / "outside", {"shadow": "root:$6$SECRETHASH:19000::::::\n", "dir/key.pem": "SECRET-PEM\n"})
    paper = write_tree(tmp_path / "paper", PAPER)
    (paper / "shadow").symlink_to(outside / "shadow")
    (paper / "data" / "more").symlink_to(outside / "dir")
    (paper / "data" / "same.csv").symlink_to("input.csv")  # inside the paper: kept
    result = make(index, paper, tmp_path / "b", tmp_path)
    assert b"SECRETHASH" not in every_byte(result.bundle) and b"SECRET-PEM" not in every_byte(result.bundle)
    assert (result.bundle / "paper" / "data" / "same.csv").read_text() == "a,b\n1,2\n"
    notes = [n for n in result.notes if "symlink leaving the folder" in n]
    assert len(notes) == 2 and any(n.startswith(f"{paper / 'shadow'}: ") for n in notes)


def test_an_unreadable_file_or_folder_is_one_line_naming_it(index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    paper = write_tree(tmp_path / "paper", {**PAPER, "private/notes.txt": "x"})
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if str(path).endswith("private"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(tree.os, "scandir", scandir)
    with pytest.raises(InputError, match=r"private: cannot read: Permission denied; fix its permissions, or list it in .gitignore"):
        make(index, paper, tmp_path / "b", tmp_path)
    monkeypatch.undo()

    real_copy = shutil.copyfile

    def copyfile(src: Path, dst: Path) -> object:
        if str(src).endswith("input.csv"):
            raise PermissionError(13, "Permission denied")
        return real_copy(src, dst)

    monkeypatch.setattr(bundle_mod.shutil, "copyfile", copyfile)
    with pytest.raises(InputError, match=r"data/input.csv: cannot read \(Permission denied\)"):
        make(index, paper, tmp_path / "b", tmp_path)
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b.*"))


def test_a_name_that_is_not_utf8_is_one_line_naming_it(index: FakeIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paper = write_tree(tmp_path / "paper", PAPER)
    with open(os.path.join(os.fsencode(paper), b"caf\xe9.py"), "w") as fh:
        fh.write("x = 1\n")
    with running(index) as url:
        code = main(["archive", str(paper), "-o", str(tmp_path / "b"), "--date", "2024-01-20", "--offline", "--no-record-outputs", "-q",
                     "--index-url", f"{url}/simple/", "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err == f"error: {paper}/caf\\xe9.py: the name is not valid UTF-8; rename it (bundles are read on every system)\n"


def test_credentials_in_the_index_url_reach_no_file_and_no_log(index: FakeIndex, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    paper = write_tree(tmp_path / "paper", PAPER)
    caplog.set_level(logging.DEBUG)
    with running(index) as url:
        secret_url = url.replace("http://", f"http://alice:{PASSWORD}@") + "/simple/"
        code = main(["-v", "archive", str(paper), "-o", str(tmp_path / "b"), "--date", "2024-01-20", "--offline", "--no-record-outputs", "-q",
                     "--index-url", secret_url, "--cache-dir", str(tmp_path / "cache")])
        assert code == 0
        assert main(["-v", "lock", str(paper), "-o", str(tmp_path / "lock.yaml"), "--index-url", secret_url]) == 0
    out = capsys.readouterr()
    for text in (out.out, out.err, caplog.text, (tmp_path / "lock.yaml").read_text()):
        assert PASSWORD not in text
    assert PASSWORD.encode() not in every_byte(tmp_path / "b")
    urls = [a["url"] for p in json.loads(json.dumps(lock_mod.read_yaml(tmp_path / "lock.yaml").to_json()))["packages"] for a in p["artifacts"]]
    assert urls and all("@" not in u for u in urls)
    assert "GET" in caplog.text  # the log was on, and said things


def test_force_replaces_the_old_bundle_only_once_the_new_one_is_in(index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paper = write_tree(tmp_path / "paper", PAPER)
    out = tmp_path / "b"
    make(index, paper, out, tmp_path)
    before = (out / "SHA256SUMS").read_bytes()
    (paper / "data" / "input.csv").write_text("a,b\n3,4\n")
    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def failing_replace(src: object, dst: object) -> None:
        if str(out) in (str(src), str(dst)):
            calls.append((str(src), str(dst)))
            if len(calls) == 2:  # the new bundle's rename into place
                raise OSError(28, "No space left on device")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(bundle_mod.os, "replace", failing_replace)
    with pytest.raises(OSError):
        make(index, paper, out, tmp_path, force=True)
    monkeypatch.undo()
    assert (out / "SHA256SUMS").read_bytes() == before  # the old one is back
    assert calls[0][0] == str(out) and ".old." in calls[0][1] and calls[2] == (calls[0][1], str(out))
    make(index, paper, out, tmp_path, force=True)
    assert (out / "SHA256SUMS").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".b")) == []


def test_what_killed_runs_left_is_reaped(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    out = tmp_path / "b"
    aside = tmp_path / f".b.{dead.pid}.old.tmp"
    write_tree(aside, {"SHA256SUMS": "the old bundle\n"})
    write_tree(tmp_path / f".b.{dead.pid}.x1y2.tmp", {"half": "written"})
    (tmp_path / f".b.tar.gz.{dead.pid}.tmp").write_bytes(b"half a tarball")
    live = tmp_path / f".b.{os.getpid()}.z9.tmp"  # a run still going: left alone
    live.mkdir()
    reap(out)
    reap(tmp_path / "b.tar.gz")
    assert (out / "SHA256SUMS").read_text() == "the old bundle\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "b"]


def _proc_with(marker: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("contained", [True, False], ids=["sandbox", "no-sandbox"])
def test_sigterm_stops_what_the_run_started(tmp_path: Path, contained: bool) -> None:
    marker = f"reprokit-sigterm-{os.getpid()}-{contained}"
    half = len(marker) // 2  # the script names it in two halves: only the child's command line holds it whole
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
              "from pathlib import Path\nfrom reprokit import cli, sandbox\ncli.stop_on_sigterm()\n"
              f"marker = {marker[:half]!r} + {marker[half:]!r}\n"
              f"try:\n    sandbox.run(['sh', '-c', 'sleep 300; : ' + marker], cwd=Path({str(tmp_path)!r}), writable=[Path({str(tmp_path)!r})], contained={contained})\n"
              "except cli.Terminated:\n    sys.exit(143)\n")
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while not _proc_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _proc_with(marker), "the child never started"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 143
    time.sleep(0.3)
    assert _proc_with(marker) == []


def test_ctrl_c_does_not_wait_for_pending_downloads(tmp_path: Path) -> None:
    idx = FakeIndex()
    for i in range(6):
        idx.add(f"pkg{i}", "1.0", uploaded="2023-06-01T00:00:00Z", sdist=False)
    with running(idx) as url:
        pkgs = []
        for name, dists in idx.projects.items():
            import hashlib

            d = dists[0]
            art = lock_mod.Artifact(filename=d.filename, url=f"{url}/files/{d.filename}", sha256=hashlib.sha256(d.data).hexdigest(),
                                    size=len(d.data), kind="wheel", upload_time=d.upload_time)
            pkgs.append(lock_mod.Package(name=name, version="1.0", requested=True, artifacts=(art,), has_sdist=False))
            idx.fault(f"/files/{d.filename}", "stall")  # each answer takes 3 s
        locked = lock_mod.Lock(python="3.11", platform="x86_64-linux", date="2024-01-01", index_url=f"{url}/simple/",
                               versions_from="test", packages=tuple(pkgs))
        lock_mod.write(locked, tmp_path / "lock.yaml")
        # Ctrl-C as at a terminal, even when these tests run where SIGINT is ignored (a
        # background job), which a child inherits.
        script = (f"import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); sys.path.insert(0, {str(ROOT)!r})\n"
                  "from reprokit.cli import main\n"
                  f"sys.exit(main(['vendor', {str(tmp_path / 'lock.yaml')!r}, '-o', {str(tmp_path / 'v')!r}, '--jobs', '2', '-q',"
                  f" '--cache-dir', {str(tmp_path / 'cache')!r}]))")
        proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while sum(p.startswith("/files/") for p in idx.log) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # until both connections are waiting on their answers
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        time.sleep(3.5)  # long enough for a download that was still going to be asked for
        asked = [p for p in idx.log if p.startswith("/files/")]
    # Six 3-second answers on two connections: stopped while the first two are in flight,
    # the four pending downloads are never started.
    assert code == 130 and len(asked) == 2, (code, asked, proc.stderr.read() if proc.stderr else "")


def test_what_a_killed_reprokit_left_in_the_temporary_folder_is_removed(tmp_path: Path) -> None:
    """reprokit-KIND-PID-… folders of processes that are gone, untouched for a while, this
    user's: removed (read-only folders inside too); one of a live process, or recent, kept."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = int(gone.stdout)
    old = time.time() - 7 * 3600
    made = {}
    for name in (f"reprokit-env-{dead}-a1", f"reprokit-rerun-{dead}-b2", f"reprokit-env-{os.getpid()}-c3", f"reprokit-env-{dead}-young",
                 f"somebody-else-{dead}-x", f"reprokit-env-{dead}"):
        folder = tmp_path / name
        (folder / "env" / "lib").mkdir(parents=True)
        (folder / "env" / "lib" / "x.py").write_text("x = 1\n")
        (folder / "env" / "lib").chmod(0o500)  # as a sandboxed venv leaves it
        if not name.endswith("young"):
            os.utime(folder, (old, old))
        made[name] = folder
    removed = fsutil.reap_temporary(str(tmp_path))
    assert sorted(p.name for p in removed) == [f"reprokit-env-{dead}-a1", f"reprokit-rerun-{dead}-b2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n in made if n not in {p.name for p in removed})
    for folder in tmp_path.iterdir():
        (folder / "env" / "lib").chmod(0o700)
