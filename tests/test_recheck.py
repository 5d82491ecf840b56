"""recheck: many bundles checked again on Dask (a LocalCluster, and a real scheduler with two
workers started here), a worker killed mid-check, the history across runs, Zenodo records
(zenodo-mock, and a local server speaking Zenodo's records API), time bombs found with the
clock ahead, and the dashboard rendered in headless Chromium."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil
import pytest
from zenodo_mock.testing import spawn

from reprokit import sandbox
from reprokit.archive import ArchiveSettings, archive
from reprokit.bundle.pack import write_tar
from reprokit.cli import main
from reprokit.errors import InputError, UsageError
from reprokit.recheck import RecheckSettings, Tally, recheck, sources
from reprokit.recheck.causes import cause, change
from reprokit.recheck.history import MIGRATIONS, History
from reprokit.recheck.results import OutputSeen, Result, Step
from reprokit.recheck.zenodo import Records, RemoteFile, reference
from reprokit.report import dashboard
from reprokit.report.rechecks import RunBar
from reprokit.sandbox.clock import seconds_ahead
from reprokit.validate import ValidateSettings, validate
from tests.fakeindex import Dist, FakeIndex, build_sdist, running
from tests.fakeservers import reply, serve
from tests.helpers import PAPER, RUNNING, resign, write_tree

# An sdist whose metadata builds but whose wheel does not: what an old C extension does
# on a machine without its compiler, years later.
NO_WHEEL_SETUP = ("import sys\nfrom setuptools import setup\nif 'bdist_wheel' in sys.argv:\n"
                  "    raise SystemExit('error: command gcc-4.8 failed: No such file or directory')\n"
                  "setup(name='gamma', version='1.0', packages=['gamma'])\n")
BOMB = ("import datetime, json, os\nimport alpha\nif __name__ == '__main__':\n"
        "    if datetime.date.today() >= datetime.date(2031, 1, 1):\n"
        "        raise RuntimeError('the licence of the solver expired on 2031-01-01')\n"
        "    os.makedirs('out', exist_ok=True)\n    json.dump({'alpha': alpha.__version__}, open('out/result.json', 'w'))\n")
CHANGED = PAPER["run.py"].replace("alpha.__version__}", "alpha.__version__ + '-changed'}")


def needs_sandbox() -> None:
    why = sandbox.available()
    if why:
        pytest.skip(f"no sandbox here: {why}")


# --- bundles --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bundles archived offline against a fake index: the tiny paper (its output recorded),
    one whose dependency's sdist no longer builds, and one with a time bomb."""
    needs_sandbox()
    base = tmp_path_factory.mktemp("made")
    index = FakeIndex()
    index.add_build_tools()
    index.add("alpha", "1.0", uploaded="2023-06-01T00:00:00Z")
    index.projects["gamma"] = [Dist(*build_sdist("gamma", "1.0", code={
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
        "PKG-INFO": "Metadata-Version: 2.1\nName: gamma\nVersion: 1.0\n", "setup.py": NO_WHEEL_SETUP, "gamma/__init__.py": "x = 1\n"}),
        "2023-06-01T00:00:00Z")]
    papers = {"tiny": (PAPER, True), "nobuild": ({**PAPER, "run.py": "import gamma\nprint(gamma.x)\n", "requirements.txt": "gamma\n"}, False),
              "bomb": ({**PAPER, "run.py": BOMB}, True)}
    out = {}
    with running(index) as url:
        for name, (files, record) in papers.items():
            paper = write_tree(base / name, files)
            out[name] = archive(ArchiveSettings(python=RUNNING, paper=paper, output=base / f"{name}-bundle", offline=True, nix=False,
                                                record_outputs=record, index_url=f"{url}/simple/", cache_dir=base / "cache", quiet=True)).bundle
    return out


def copy(bundle: Path, dest: Path) -> Path:
    shutil.copytree(bundle, dest)
    return dest


def change_output(bundle: Path) -> None:
    """The paper now writes another result, sealed again as its author would."""
    (bundle / "paper" / "run.py").write_text(CHANGED, encoding="utf-8")
    resign(bundle)


@pytest.fixture(scope="module")
def folder(made: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of bundles: intact (as a tarball), tampered, one whose output changed, one
    that no longer rebuilds, and one that passes now and will drift before the next run."""
    root = tmp_path_factory.mktemp("shelf") / "bundles"
    root.mkdir()
    write_tar(made["tiny"], "tiny", root / "intact.tar.gz", 1705708800)
    tampered = copy(made["tiny"], root / "tampered")
    with open(tampered / "paper" / "run.py", "a", encoding="utf-8") as fh:
        fh.write("import os; os.system('true')\n")
    change_output(copy(made["tiny"], root / "changed"))
    copy(made["nobuild"], root / "nobuild")
    copy(made["tiny"], root / "drifting")
    return root


# --- a real Dask scheduler and two workers --------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Cluster:
    address: str
    nannies: list[subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """``dask-scheduler`` and two ``dask-worker`` processes (each a nanny that restarts its
    worker when it dies) on 127.0.0.1, as on a cluster; the scheduler's own settings."""
    import distributed

    logs = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    started: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:
        def launch(args: list[str], log: str) -> subprocess.Popen[bytes]:
            out = stack.enter_context(open(logs / log, "wb"))
            proc = subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=logs)
            started.append(proc)
            return proc

        try:
            launch(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", "--dashboard-address", ":0"], "scheduler.log")
            nannies = [launch(["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1", "--memory-limit", "6GiB",
                               "--no-dashboard", "--name", f"w{i}", "--local-directory", str(logs / f"w{i}")], f"worker{i}.log")
                       for i in range(2)]
            with distributed.Client(address, timeout="60s") as client:
                client.wait_for_workers(2, timeout=120)
            yield Cluster(address=address, nannies=nannies)
        finally:
            for proc in reversed(started):
                proc.terminate()
            for proc in reversed(started):
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


# --- two runs over the folder: a LocalCluster, then the real scheduler -----------------

@pytest.fixture(scope="module")
def two_runs(folder: Path, scheduler: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("history") / "history.sqlite"
    seen: list[Tally] = []
    first = recheck(RecheckSettings(sources=(str(folder),), db=db, workers=2, progress=seen.append))
    change_output(folder / "drifting")
    second = recheck(RecheckSettings(sources=(str(folder),), db=db, scheduler=scheduler.address))
    return {"db": db, "first": first, "second": second, "tallies": seen}


EXPECTED = {"intact": ("passed", None), "tampered": ("failed", "bundle changed or damaged"), "changed": ("failed", "output differs"),
            "nobuild": ("failed", "sdist no longer builds")}


def by_source(results: tuple[Result, ...] | list[Result]) -> dict[str, Result]:
    return {Path(r.source).name.removesuffix(".tar.gz"): r for r in results}


def statuses(results: tuple[Result, ...]) -> dict[str, tuple[str, str | None]]:
    return {k: (r.status, c.label if (c := cause(r)) else None) for k, r in by_source(results).items()}


@pytest.mark.slow
def test_a_folder_of_bundles_rechecked_on_a_local_cluster(two_runs: dict[str, Any], folder: Path, made: dict[str, Path]) -> None:
    first = two_runs["first"]
    assert statuses(first.results) == {**EXPECTED, "drifting": ("passed", None)}
    assert first.run.scheduler == "LocalCluster (2 workers)" and not first.resumed and first.run.finished
    assert any(n.startswith("checks ran on LocalCluster (2 workers of ") for n in first.notes)
    got = by_source(first.results)
    intact = got["intact"]
    assert intact.name == "tiny" and intact.bundle_id == str((folder / "intact.tar.gz").resolve())
    assert intact.sums_sha256 == hashlib.sha256((made["tiny"] / "SHA256SUMS").read_bytes()).hexdigest()
    assert [s.name for s in intact.steps] == ["integrity", "completeness", "rebuild-pip", "rerun"]
    assert intact.verdicts()["identical"] == 1 and intact.duration > 0.5
    assert intact.peak_memory > 1 << 20  # pip and the paper's run, sampled
    assert intact.worker.startswith("tcp://127.0.0.1:") and intact.attempts == 1
    assert intact.python and intact.platform and intact.reprokit_version
    assert "paper/run.py" in (got["tampered"].step("integrity") or Step(name="", status="")).reason
    assert (got["tampered"].step("rebuild-pip") or Step(name="", status="")).status == "not-run"  # nothing of it ran
    assert got["changed"].verdicts()["different"] == 1
    assert "gamma" in (got["nobuild"].step("rebuild-pip") or Step(name="", status="")).reason
    tallies: list[Tally] = two_runs["tallies"]
    assert tallies[0].done == 0 and tallies[-1].done == tallies[-1].total == 5 and tallies[-1].failed == 3
    assert any(t.running for t in tallies) and tallies[-1].eta == 0


@pytest.mark.slow
def test_the_same_folder_on_a_real_scheduler_and_two_workers(two_runs: dict[str, Any], scheduler: Cluster) -> None:
    import distributed

    second = two_runs["second"]
    assert statuses(second.results) == {**EXPECTED, "drifting": ("failed", "output differs")}
    assert second.run.id == two_runs["first"].run.id + 1 and second.run.scheduler == scheduler.address
    with distributed.Client(scheduler.address) as client:
        addresses = set(client.scheduler_info()["workers"])
    assert {r.worker for r in second.results} <= addresses


@pytest.mark.slow
def test_the_history_across_two_runs(two_runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    db = two_runs["db"]
    with History(db) as h:
        runs = h.runs()
        assert [r.id for r in runs] == [1, 2] and all(r.finished for r in runs)
        every = h.results()
        assert len(every) == 10 and {b: sum(r.bundle_id == b for r in every) for b in h.bundles()} == dict.fromkeys(h.bundles(), 2)
        drifting = [r for r in every if r.source.endswith("drifting")]
    moved = change(drifting)
    assert moved is not None and (moved.last_pass.run_id, moved.first_failure.run_id) == (1, 2)
    assert moved.checks == (("rerun", "passed", "failed"),)
    assert moved.outputs == (("out/result.json", "identical", "different"),)
    assert [what for what, _, _ in moved.around] == ["the bundle's SHA256SUMS"]
    assert main(["recheck", "--history", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert text.count("tiny  (") == 4 and "nobuild  (" in text  # a block per bundle, under its paper's name
    assert "sdist no longer builds: requirements.lock: pip install from vendor/ failed: gamma: building its wheel failed" in text
    assert "rerun:failed" in text and "1 identical" in text and "1 different" in text
    assert main(["recheck", "--history", str(two_runs["second"].results[0].bundle_id), "--db", str(db), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reprokit_recheck"] == 1 and [r["run"] for r in doc["history"]["results"]] == [1, 2]
    assert main(["recheck", "--history", "no-such-bundle", "--db", str(db)]) == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(args: list[str], page: Path, profile: str) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium() or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
           *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (CI installs Debian's chromium)")
def test_the_dashboard_renders_in_headless_chromium(two_runs: dict[str, Any], tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    assert main(["recheck", "--report", str(tmp_path / "site"), "--db", str(two_runs["db"])]) == 0
    page = tmp_path / "site" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert re.findall(r'\b(?:src|href)="(?!data:)', text) == [] and "<script" not in text and "@import" not in text
    shot = tmp_path / "dashboard.png"
    with tempfile.TemporaryDirectory(prefix="reprokit-chromium-") as profile:
        dom = _browser(["--dump-dom"], page, profile)
        assert dom.returncode == 0, dom.stderr[-2000:]
        proc = _browser([f"--screenshot={shot}", "--window-size=1280,1800", "--hide-scrollbars"], page, profile)
        assert proc.returncode == 0, proc.stderr[-2000:]
    html = dom.stdout
    assert "<title>Ten-year check: 1 of 5 bundles pass in their latest check</title>" in html
    assert html.count('class="cell ') == 10  # five bundles, two runs each
    assert len(re.findall(r'<rect class="bar passed"', html)) == 2 and len(re.findall(r'<rect class="bar failed"', html)) == 2
    for label in ("bundle changed or damaged", "sdist no longer builds", "output differs"):
        assert f"<span>{label}</span>" in html
    assert "<li><strong>tiny (tampered)</strong>: paper/run.py: sha256 differs from SHA256SUMS</li>" in html
    drifting = re.search(r'<tr class="bundle failed"><th>tiny \(drifting\)<div class="small mono">[^<]*drifting</div>.*?</tr>', html, re.S)
    assert drifting is not None
    assert "Passed in run 1" in drifting.group(0) and "<code>out/result.json</code>: identical → <strong>different</strong>" in drifting.group(0)
    with Image.open(shot) as im:
        rgb = im.convert("RGB")
        assert rgb.size == (1280, 1800) and len(rgb.getcolors(maxcolors=1 << 20) or []) > 50
        pixels = np.asarray(rgb).reshape(-1, 3)
        for colour in ((26, 127, 55), (179, 38, 30)):  # the strips' and bars' green and red, drawn
            assert (pixels == colour).all(axis=1).any(), colour
    keep = os.environ.get("REPROKIT_REPORT_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
        shutil.copyfile(page, Path(keep).with_suffix(".html"))


SBATCH = """#!/bin/sh
# Slurm's sbatch, stood in for: the job script runs on this machine, in a session of its own.
n=$(ls "$JOBS" | wc -l)
cp "$1" "$JOBS/job-$n.sh"
setsid bash "$JOBS/job-$n.sh" > "$JOBS/job-$n.log" 2>&1 < /dev/null &
echo "Submitted batch job $!"
"""
SCANCEL = """#!/bin/sh
for id in "$@"; do kill -TERM -- "-$id" 2>/dev/null; echo "$id" >> "$JOBS/cancelled"; done
exit 0
"""


@pytest.mark.slow
def test_the_readme_slurm_example_runs_against_a_stand_in_for_slurm(made: dict[str, Path], tmp_path: Path) -> None:
    """The README's SLURMCluster script, as written: dask-jobqueue writes the job script and
    calls sbatch (here a stand-in that runs it on this machine), a worker joins, recheck
    runs on it, and the job is cancelled at the end."""
    pytest.importorskip("dask_jobqueue")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```python\n(# slurm_recheck\.py.*?)```", readme, re.S)
    assert found is not None
    (tmp_path / "slurm_recheck.py").write_text(found.group(1), encoding="utf-8")
    tools, jobs, home = tmp_path / "bin", tmp_path / "jobs", tmp_path / "home"
    for folder in (tools, jobs, home / "rk" / "bin"):
        folder.mkdir(parents=True)
    (home / "rk" / "bin" / "activate").write_text("")  # the README's environment: this one is on PATH already
    for name, text in (("sbatch", SBATCH), ("scancel", SCANCEL)):
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    copy(made["tiny"], tmp_path / "shelf" / "tiny")
    env = {**os.environ, "PATH": os.pathsep.join([str(tools), str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "HOME": str(home), "JOBS": str(jobs), "DASK_JOBQUEUE__SLURM__INTERFACE": "lo"}  # scheduler and workers on 127.0.0.1
    proc = subprocess.run([sys.executable, "slurm_recheck.py", str(tmp_path / "shelf"), "--db", str(tmp_path / "h.sqlite"),
                           "--rebuild", "none", "--no-rerun", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = json.loads(proc.stdout)["results"]
    assert result["status"] == "passed" and result["worker"].startswith("tcp://127.0.0.1:")
    script = (jobs / "job-0.sh").read_text()
    assert "#SBATCH --mem=8G" in script and "export DASK_DISTRIBUTED__WORKER__DAEMON=False" in script and "--nthreads 1" in script
    assert (jobs / "cancelled").read_text().split() and json.loads(proc.stdout)["run"]["scheduler"].startswith("tcp://127.0.0.1:")


# --- workers that die ---------------------------------------------------------------------

@pytest.mark.slow
def test_a_worker_killed_mid_check_loses_nothing_and_one_killed_twice_is_recorded(made: dict[str, Path], scheduler: Cluster,
                                                                                   tmp_path: Path) -> None:
    """SIGKILL to the worker process while its check's sandboxed rebuild runs: the nanny
    starts a new worker, the scheduler runs the check again, and the run completes with
    every bundle recorded once. A bundle whose workers die twice is not started a third time."""
    import distributed

    shelf = tmp_path / "shelf"
    for name in ("survivor", "victim", "bystander"):
        copy(made["tiny"], shelf / name)
    kills = {str((shelf / "survivor").resolve()): 1, str((shelf / "victim").resolve()): 2}
    killed: dict[str, list[int]] = {k: [] for k in kills}
    stop = threading.Event()

    def killer() -> None:
        with distributed.Client(scheduler.address) as client:
            while not stop.is_set():
                for bundle_id, times in kills.items():
                    starts = client.get_events(f"reprokit-recheck:1:{bundle_id}")
                    if len(starts) > len(killed[bundle_id]) and len(killed[bundle_id]) < times:
                        pid = int(starts[-1][1]["pid"])
                        with contextlib.suppress(psutil.Error):
                            worker = psutil.Process(pid)
                            if worker.children(recursive=True):  # mid-check: its sandboxed build is running
                                worker.kill()
                                killed[bundle_id].append(pid)
                time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        outcome = recheck(RecheckSettings(sources=(str(shelf),), db=tmp_path / "h.sqlite", scheduler=scheduler.address))
    finally:
        stop.set()
        thread.join()
    assert [len(v) for v in killed.values()] == [1, 2]
    got = by_source(outcome.results)
    assert (got["survivor"].status, got["survivor"].attempts) == ("passed", 2)
    assert got["survivor"].worker and got["bystander"].status == "passed"
    victim = got["victim"]
    assert (victim.status, victim.attempts) == ("killed-workers", 3) and "died 2 times" in victim.detail
    assert cause(victim).label == "kills its worker"  # type: ignore[union-attr]
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        assert db.execute("SELECT bundle_id, count(*) FROM results GROUP BY bundle_id").fetchall() == [
            (str((shelf / n).resolve()), 1) for n in ("bystander", "survivor", "victim")]
    with distributed.Client(scheduler.address) as client:  # the nannies have brought both workers back
        client.wait_for_workers(2, timeout=120)


# --- interrupted runs resume ------------------------------------------------------------

@pytest.mark.slow
def test_an_interrupted_run_resumes_and_records_each_bundle_once(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    picked = [str(folder / n) for n in ("tampered", "changed", "nobuild")]

    def stop_after_one(t: Tally) -> None:
        if t.done == 1:
            raise KeyboardInterrupt

    settings = RecheckSettings(sources=tuple(picked), db=db, rebuild="none", rerun=False, workers=1)
    with pytest.raises(KeyboardInterrupt):
        recheck(dataclasses.replace(settings, progress=stop_after_one))
    with History(db) as h:
        (run,) = h.runs()
        assert run.finished is None and len(h.results(run_id=run.id)) == 1
    again = recheck(settings)
    assert again.resumed and again.skipped == 1 and again.run.id == run.id and again.run.finished
    assert sorted(r.source for r in again.results) == sorted(picked)
    assert "resumed run 1" in again.notes[0]
    fresh = recheck(dataclasses.replace(settings, resume=False))
    assert fresh.run.id == 2 and not fresh.resumed and len(fresh.results) == 3


# --- the clock ahead ------------------------------------------------------------------------

@pytest.mark.slow
def test_a_time_bomb_passes_today_and_is_found_with_the_clock_ahead(made: dict[str, Path], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bomb = made["bomb"]
    assert main(["validate", str(bomb), "--rebuild", "pip", "--rerun", "--clock-ahead", "10y", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["rerun"]["status"] == "passed"  # today it reruns and its output is identical
    ahead = checks["rerun-clock-ahead"]
    assert ahead["status"] == "failed" and ahead["problems"][0]["path"] == "paper/run.py"
    assert ahead["problems"][0]["message"].startswith("time bomb: exited with status 1: RuntimeError: the licence of the solver expired")
    years = doc["clock_ahead"]["seconds"] / (365.25 * 86400)
    assert doc["clock_ahead"]["ahead"] == "10y" and 9.99 < years < 10.01
    assert doc["clock_ahead"]["date"][:4] == str(dt.date.today().year + 10)

    outcome = recheck(RecheckSettings(sources=(str(bomb),), db=tmp_path / "h.sqlite", clock_ahead="10y", workers=1))
    (r,) = outcome.results
    assert r.status == "failed" and r.clock_ahead == "10y" and abs((r.clock_seconds or 0) - doc["clock_ahead"]["seconds"]) < 60
    assert cause(r).label == "time bomb" and r.time_bombs  # type: ignore[union-attr]
    assert cause(r).reason.startswith("exited with status 1: RuntimeError: the licence")  # type: ignore[union-attr]
    with History(tmp_path / "h.sqlite") as h:
        (kept,) = h.results()
    assert kept.clock_ahead == "10y" and kept.time_bombs == r.time_bombs and kept.step("rerun").status == "passed"  # type: ignore[union-attr]


def test_clock_spans() -> None:
    start = dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.timezone.utc)
    assert seconds_ahead("10y", start) == int((dt.datetime(2034, 2, 28, 12, 0, tzinfo=dt.timezone.utc) - start).total_seconds())
    assert seconds_ahead("400d", start) == 400 * 86400
    assert seconds_ahead("1y 1d", start) == 366 * 86400  # to 28 February 2025, and a day
    for bad in ("soon", "10", "0y", "10 years", "-1y", "10y!"):
        with pytest.raises(UsageError):
            seconds_ahead(bad, start)
    with pytest.raises(UsageError):
        validate(ValidateSettings(bundle=Path("/nonexistent"), clock_ahead="tomorrow"))


def test_the_clock_moves_inside_the_sandbox_and_nowhere_else(tmp_path: Path) -> None:
    needs_sandbox()
    policy, why = sandbox.clock_ahead(sandbox.Policy(), "10y", python=sys.executable)
    assert policy is not None and policy.clock is not None, why
    assert f"clock 10y ahead (to {dt.date.today().year + 10}-" in policy.describe()
    proc = policy.run([sys.executable, "-c", "import datetime, subprocess, time; t = time.monotonic(); time.sleep(0.2); "
                       "print(datetime.date.today().year, subprocess.run(['date', '+%Y'], capture_output=True, text=True).stdout.strip(), "
                       "round(time.monotonic() - t, 1))"], cwd=tmp_path, writable=[tmp_path])
    assert proc.stdout.split() == [str(dt.date.today().year + 10)] * 2 + ["0.2"], proc.stderr
    assert dt.date.today().year < 2100 and "LD_PRELOAD" not in os.environ


# --- the history file ---------------------------------------------------------------------

def a_result(name: str, status: str, when: str, run_id: int, **kw: Any) -> Result:
    return Result(bundle_id=f"/shelf/{name}", name=name, source=f"/shelf/{name}", status=status, checked_at=when, run_id=run_id,  # type: ignore[arg-type]
                  **kw)


def test_history_migrates_an_older_file_in_place_and_refuses_a_newer_one(tmp_path: Path) -> None:
    db_path = tmp_path / "h.sqlite"
    old = sqlite3.connect(db_path, isolation_level=None)
    MIGRATIONS[0](old)  # a file that schema 1 wrote
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO runs VALUES (1, 'f', '2026-01-01T00:00:00+00:00', '2026-01-01T01:00:00+00:00', 1, 'LocalCluster', '0.1.0', "
                "'Linux', '3.11.7', '{}')")
    report = {"outputs": [{"path": "out/result.json", "status": "different", "summary": "different at $.alpha"}]}
    old.execute("INSERT INTO results (run_id, bundle_id, name, source, checked_at, status, detail, identical, equivalent, different, missing, "
                "varies, duration, peak_memory, reprokit_version, platform, python, worker, attempts, report) VALUES "
                "(1, '/shelf/a', 'a', '/shelf/a', '2026-01-01T00:30:00+00:00', 'failed', '', 0, 0, 1, 0, 0, 3.5, 1000, '0.1.0', 'Linux', "
                "'3.11.7', '', 1, ?)", (json.dumps(report),))
    old.close()
    with History(db_path) as h:
        (r,) = h.results()
        assert h.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 2
        assert h.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert r.outputs == (OutputSeen(path="out/result.json", status="different", summary="different at $.alpha"),)
    assert r.verdicts()["different"] == 1 and r.clock_ahead is None and r.time_bombs == ()

    with History(db_path, writer=True) as writer:
        with pytest.raises(UsageError, match="another reprokit recheck is writing to this history"):
            History(db_path, writer=True)
        with History(db_path) as reader:  # reading alongside the writer is fine
            assert len(reader.results()) == 1
        run, resumed = writer.start_run(fingerprint="g", bundles=1, scheduler="x", reprokit_version="v", platform="p", python="3", options={})
        assert not resumed and writer.record(a_result("b", "passed", "2026-02-01T00:00:00+00:00", run.id))
        assert not writer.record(a_result("b", "failed", "2026-02-01T00:01:00+00:00", run.id))  # once per run
    newer = sqlite3.connect(db_path)
    newer.execute("PRAGMA user_version = 9")
    newer.close()
    with pytest.raises(InputError, match="a history of schema 9, newer than this reprokit's"):
        History(db_path)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(InputError, match=r"junk\.sqlite: not a reprokit history"):
        History(tmp_path / "junk.sqlite")
    with pytest.raises(UsageError, match="no history yet"):
        History(tmp_path / "none.sqlite")


def test_failures_are_grouped_by_cause_and_what_changed_is_found() -> None:
    def steps(**statuses: str) -> tuple[Step, ...]:
        return tuple(Step(name=k.replace("_", "-"), status=v, reason=f"{k} {v}") for k, v in statuses.items())

    building = Step(name="rebuild-pip", status="failed", reason="requirements.lock: gamma: building its wheel failed: the compiler `gcc` failed")
    no_python = Step(name="rebuild-pip", status="failed", reason="no Python 3.6 on this machine (looked for python3.6 on PATH, ...)")
    cases = {
        "bundle changed or damaged": a_result("a", "failed", "t", 1, steps=steps(integrity="failed")),
        "sdist no longer builds": a_result("b", "failed", "t", 1, steps=(*steps(integrity="passed"), building)),
        "interpreter missing": a_result("c", "failed", "t", 1, steps=(no_python,)),
        "output differs": a_result("d", "failed", "t", 1, steps=steps(rerun="failed"), counts={"different": 1}),
        "entry point fails": a_result("e", "failed", "t", 1, steps=steps(rerun="failed")),
        "time bomb": a_result("f", "failed", "t", 1, steps=steps(rerun="passed", rerun_clock_ahead="failed"), time_bombs=("time bomb: x",)),
        "kills its worker": a_result("g", "killed-workers", "t", 1, detail="died twice"),
        "record unavailable": a_result("h", "unavailable", "t", 1, detail="404"),
        "could not run": a_result("i", "failed", "t", 1, steps=steps(integrity="passed", rebuild_pip="not-run")),
    }
    assert {label: cause(r).label for label, r in cases.items()} == {label: label for label in cases}  # type: ignore[union-attr]
    assert cause(cases["time bomb"]).reason == "x"  # type: ignore[union-attr]
    assert cause(a_result("j", "passed", "t", 1)) is None

    out = (OutputSeen(path="out/a.json", status="identical"),)
    history = [a_result("k", "failed", "2026-01-01", 1, steps=steps(rerun="failed")),
               a_result("k", "passed", "2026-02-01", 2, steps=steps(rerun="passed"), outputs=out, sums_sha256="a" * 64, reprokit_version="0.1"),
               a_result("k", "failed", "2026-03-01", 3, steps=steps(rerun="failed"), sums_sha256="a" * 64, reprokit_version="0.2",
                        outputs=(OutputSeen(path="out/a.json", status="different"), OutputSeen(path="out/b.csv", status="missing"))),
               a_result("k", "failed", "2026-04-01", 4, steps=steps(rerun="failed"))]
    moved = change(history)
    assert moved is not None and (moved.last_pass.run_id, moved.first_failure.run_id) == (2, 3)
    assert moved.checks == (("rerun", "passed", "failed"),)
    assert moved.outputs == (("out/a.json", "identical", "different"), ("out/b.csv", "absent", "missing"))
    assert moved.around == (("reprokit", "0.1", "0.2"),)
    assert change(history[:2]) is None and change(history[:1]) is None  # passes now; never passed


# --- sources ------------------------------------------------------------------------------

def test_sources_are_folders_tarballs_lists_and_zenodo_references(tmp_path: Path) -> None:
    shelf = tmp_path / "shelf"
    for name in ("a", "b"):
        write_tree(shelf / name, {"reprokit.yaml": "x"})
    (shelf / "c.tar.gz").write_bytes(b"")
    (shelf / "notes.txt").write_text("not a bundle")
    write_tree(tmp_path / "more" / "d", {"reprokit.yaml": "x"})
    (tmp_path / "list.txt").write_text("# bundles of 2016\nmore/d   # relative to the list\n\nshelf/a\n", encoding="utf-8")
    got = sources.gather([str(shelf), str(tmp_path / "list.txt")])
    assert [t.bundle_id for t in got] == [str(shelf / "a"), str(shelf / "b"), str(shelf / "c.tar.gz"), str(tmp_path / "more" / "d")]
    assert [t.name for t in got] == ["a", "b", "c", "d"]
    (tmp_path / "nested.txt").write_text(str(tmp_path / "list.txt") + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not other lists"):
        sources.gather([str(tmp_path / "nested.txt")])
    with pytest.raises(UsageError, match="no such bundle folder or tarball, list of bundles, Zenodo DOI or record URL"):
        sources.gather([str(tmp_path / "missing")])
    with pytest.raises(UsageError, match="no bundle in it"):
        sources.gather([str(tmp_path / "more")]) if False else sources.gather([str(write_tree(tmp_path / "empty", {"x.txt": ""}))])

    zenodo_url = "https://zenodo.org"
    assert reference("10.5281/zenodo.123", zenodo_url) == ("https://zenodo.org", "123")
    assert reference("doi:10.5281/ZENODO.123") == ("https://zenodo.org", "123")
    assert reference("https://doi.org/10.5281/zenodo.77") == ("https://zenodo.org", "77")
    assert reference("https://zenodo.org/records/5") == ("https://zenodo.org", "5")
    assert reference("https://zenodo.org/record/5#files") == ("https://zenodo.org", "5")
    assert reference("http://127.0.0.1:8000/api/records/9") == ("http://127.0.0.1:8000", "9")
    assert reference("10.5072/zenodo.1000", "http://127.0.0.1:9") == ("http://127.0.0.1:9", "1000")
    assert reference("10.1234/paper.5") is None and reference("shelf/a") is None
    with pytest.raises(UsageError, match="use https://"):
        Records("http://zenodo.example.org")


# --- a local server speaking Zenodo's records API ---------------------------------------------

@dataclasses.dataclass
class FakeZenodo:
    """Records with files (and the checksums Zenodo lists for them), and communities."""

    records: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    blobs: dict[tuple[str, str], bytes] = dataclasses.field(default_factory=dict)
    communities: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    base: str = ""
    log: list[str] = dataclasses.field(default_factory=list)

    def add(self, rid: str, files: dict[str, bytes], *, lie: bool = False, community: str | None = None) -> None:
        entries = []
        for key, data in files.items():
            self.blobs[(rid, key)] = data
            md5 = hashlib.md5(data if not lie else data + b"x").hexdigest()
            entries.append({"id": key, "key": key, "size": len(data), "checksum": f"md5:{md5}",
                            "links": {"self": f"{self.base}/api/records/{rid}/files/{key}/content"}})
        self.records[rid] = {"id": int(rid), "doi": f"10.5281/zenodo.{rid}", "files": entries,
                             "links": {"html": f"{self.base}/records/{rid}"}, "metadata": {"title": f"record {rid}"}}
        if community:
            self.communities.setdefault(community, []).append(rid)

    def handle(self, h: Any) -> None:
        url = urlsplit(h.path)
        self.log.append(h.path)
        parts = url.path.strip("/").split("/")
        if parts == ["api", "records"]:
            q = parse_qs(url.query)
            ids = self.communities.get(q["communities"][0], [])
            size, page = int(q["size"][0]), int(q["page"][0])
            hits = [self.records[i] for i in ids[(page - 1) * size: page * size]]
            reply(h, 200, json.dumps({"hits": {"hits": hits, "total": len(ids)}}).encode())
        elif len(parts) == 3 and parts[:2] == ["api", "records"] and parts[2] in self.records:
            reply(h, 200, json.dumps(self.records[parts[2]]).encode())
        elif len(parts) == 6 and parts[3] == "files" and (parts[2], parts[4]) in self.blobs:
            reply(h, 200, self.blobs[(parts[2], parts[4])], "application/octet-stream")
        else:
            reply(h, 404, b'{"message": "not found"}')


@contextlib.contextmanager
def fake_zenodo() -> Iterator[FakeZenodo]:
    z = FakeZenodo()
    with serve(z.handle) as (base, _):
        z.base = base
        yield z


def test_a_zenodo_file_that_does_not_match_its_checksum_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    with fake_zenodo() as z:
        z.add("12", {"tiny.tar.gz": b"\x1f\x8b" + b"\x00" * 64, "README.md": b"hi"}, lie=True)
        outcome = recheck(RecheckSettings(sources=("10.5281/zenodo.12", "10.5281/zenodo.404"), zenodo_url=z.base,
                                          cache_dir=tmp_path / "cache", db=tmp_path / "h.sqlite"))
    got = {r.bundle_id: r for r in outcome.results}
    bad = got["10.5281/zenodo.12"]
    assert bad.status == "unavailable" and bad.doi == "10.5281/zenodo.12" and cause(bad).label == "record unavailable"  # type: ignore[union-attr]
    assert re.fullmatch(r"record 12: tiny\.tar\.gz: md5 [0-9a-f]{32}, but Zenodo lists [0-9a-f]{32}; refused, nothing kept", bad.detail)
    assert bad.steps == (Step(name="fetch", status="failed", reason=bad.detail),)
    assert got["10.5281/zenodo.404"].status == "unavailable" and "no such record (404)" in got["10.5281/zenodo.404"].detail
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []  # no bad bytes, no .part
    assert not outcome.ok and outcome.exit_status == 1


def test_zenodo_files_are_downloaded_once_and_a_community_is_read_page_by_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reprokit.recheck import zenodo

    monkeypatch.setattr(zenodo, "PAGE", 2)
    with fake_zenodo() as z:
        for rid in ("21", "22", "23"):
            z.add(rid, {f"paper{rid}.tar.gz": rid.encode() * 1000}, community="lab")
        z.add("24", {"data.csv": b"1,2\n"}, community="lab")  # holds no bundle
        said: list[str] = []
        found = sources.gather([], ["lab"], zenodo_url=z.base, say=said.append)
        assert [t.bundle_id for t in found] == ["10.5281/zenodo.21", "10.5281/zenodo.22", "10.5281/zenodo.23"]
        assert said == ["community lab: 4 records, 3 bundle tarballs"]
        assert sum("communities=lab" in p for p in z.log) == 2
        records = Records(z.base)
        target = found[0]
        assert target.remote is not None
        path, vouch = records.download(target.remote, tmp_path / "cache")
        assert path.read_bytes() == b"21" * 1000 and vouch == "md5 as Zenodo lists it"
        before = len(z.log)
        assert records.download(target.remote, tmp_path / "cache")[0] == path and len(z.log) == before  # from the cache
        path.write_bytes(b"damaged")
        assert records.download(target.remote, tmp_path / "cache")[0].read_bytes() == b"21" * 1000 and len(z.log) == before + 1
        evil = RemoteFile(record_id="21", key="../../etc/x.tar.gz", size=1, checksum="", url=f"{z.base}/x")
        with pytest.raises(Exception, match="not a plain file name"):
            records.download(evil, tmp_path / "cache")
        elsewhere = dataclasses.replace(target.remote, url="http://127.0.0.2:9/api/records/21/files/x/content")
        with pytest.raises(Exception, match="not followed"):
            records.download(elsewhere, tmp_path / "cache2")


@pytest.mark.slow
def test_bundles_published_on_zenodo_mock_are_fetched_once_and_checked(made: dict[str, Path], tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """publish to zenodo-mock, then recheck by DOI and by record URL (the same bundle, once):
    the tarball is downloaded into the cache, unpacked as validate unpacks, and checked."""
    monkeypatch.setenv("ZENODO_API_TOKEN", "tok" + "e" * 40 + "n")
    bundle = copy(made["tiny"], tmp_path / "tiny")
    cache = tmp_path / "cache"
    db = tmp_path / "h.sqlite"
    with spawn(tmp_path / "zenodo") as base:
        assert main(["publish", str(bundle), "--zenodo-url", base, "--yes", "--json"]) == 0
        published = json.loads(capsys.readouterr().out)
        doi, dep = published["doi"], published["deposition_id"]
        args = ["recheck", doi, f"{base}/records/{dep}", "--zenodo-url", base, "--cache-dir", str(cache), "--db", str(db),
                "--rebuild", "none", "--no-rerun", "--workers", "1", "--json"]
        assert main(args) == 0
        first = json.loads(capsys.readouterr().out)
        cached = sorted(p for p in cache.rglob("*") if p.is_file())
        assert main([*args, "--new-run"]) == 0  # again: from the cache
        second = json.loads(capsys.readouterr().out)
    (r,) = first["results"]
    assert (r["bundle_id"], r["doi"], r["name"], r["status"]) == (doi, doi, "tiny", "passed")
    assert [c["name"] for c in r["checks"]] == ["fetch", "integrity", "completeness"]
    assert r["checks"][0]["reason"].startswith(f"tiny.tar.gz from {base} (cached in ")
    assert "no checksum listed by Zenodo (its SHA256SUMS is checked)" in r["checks"][0]["reason"]  # zenodo-mock lists none
    assert r["sums_sha256"] == hashlib.sha256((made["tiny"] / "SHA256SUMS").read_bytes()).hexdigest()
    assert [p.name for p in cached] == ["tiny.tar.gz"] and cached[0].parent.name == str(dep)
    assert sorted(p for p in cache.rglob("*") if p.is_file()) == cached and second["results"][0]["status"] == "passed"
    assert second["run"]["id"] == first["run"]["id"] + 1


# --- what people see ---------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_counts_done_running_and_failed_and_is_quiet_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    bar = RunBar(Terminal())
    failing = a_result("b", "failed", "t", 1, steps=(Step(name="integrity", status="failed", reason="paper/x.py: changed"),), duration=2.0)
    bar(Tally(total=4, done=1, failed=0, running=2, eta=None, last=a_result("a", "passed", "t", 1)))
    bar(Tally(total=4, done=2, failed=1, running=1, eta=90.0, last=failing))
    bar.close()
    out = bar.stream.getvalue()  # type: ignore[attr-defined]
    assert "[########>>>>>>>>>>>>>>>>........] 1/4 done, 2 running, 0 failed" in out
    assert "FAILED      b: bundle changed or damaged: paper/x.py: changed\n[########xxxxxxxx>>>>>>>>........] 2/4 done, 1 running, 1 failed, ETA 1 min 30 s" in out
    plain = io.StringIO()
    RunBar(plain)(Tally(total=4, done=2, failed=1, running=1, eta=90.0, last=failing))
    assert plain.getvalue() == "[2/4] FAILED      b (2 s): bundle changed or damaged: paper/x.py: changed\n"
    page = dashboard.render([], [], generated="now", tool_version="0")
    assert "No rechecks recorded yet" in page
    from reprokit.recheck import Outcome
    from reprokit.recheck.results import Run
    from reprokit.report.rechecks import outcome

    two = (dataclasses.replace(failing, bundle_id="/shelf/x/paper", name="paper"), a_result("paper", "passed", "t", 1, duration=61.0))
    text = outcome(Outcome(run=Run(id=1, started="t", finished="t", bundles=2), results=two, resumed=False, skipped=0))
    assert text.splitlines()[1:3] == ["FAILED  paper (x/paper)  2 s         -       bundle changed or damaged: paper/x.py: changed",
                                      "passed  paper (paper)    1 min 01 s  -"]
    assert text.endswith("run 1: 1 of 2 bundles passed\n")


def test_the_command_line_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recheck"]) == 2
    assert "name what to recheck" in capsys.readouterr().err
    assert main(["recheck", "--history", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no history yet" in capsys.readouterr().err
    assert main(["recheck", str(tmp_path), "--clock-ahead", "soon", "--db", str(tmp_path / "h.sqlite")]) == 2
    assert "--clock-ahead 'soon': give a span such as 10y" in capsys.readouterr().err
    assert main(["recheck", str(tmp_path), "--history"]) == 2


def test_a_libfaketime_that_does_not_move_the_clock_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first library found is no library (as one built for another machine would be):
    the probe sees the clock unmoved and takes the next; with none that works, the rerun
    with the clock ahead is not run, and says why."""
    import reprokit.sandbox as sb
    from reprokit.sandbox import clock

    needs_sandbox()
    fake = tmp_path / "lib" / "faketime" / "libfaketime.so.1"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"\x7fELF not really")
    monkeypatch.setattr(clock, "SYSTEM_LIBRARIES", (str(tmp_path / "li*" / "faketime" / "libfaketime.so.1"),))
    real = clock.libraries()
    assert real[-1] == fake and len(real) == 2  # the wheel's first, then the system's
    monkeypatch.setattr(sb, "libraries", lambda: [fake, real[0]])
    policy, why = sb.clock_ahead(sb.Policy(), "10y", python=sys.executable)
    assert policy is not None and policy.clock is not None and policy.clock.library == real[0] and why == ""
    monkeypatch.setattr(sb, "libraries", lambda: [fake])
    policy, why = sb.clock_ahead(sb.Policy(), "10y", python=sys.executable)
    assert policy is None and why.startswith(f"libfaketime did not move the clock of a run here ({fake}: the clock stayed at ")
    monkeypatch.setattr(sb, "libraries", list)
    assert sb.clock_ahead(sb.Policy(), "10y", python=sys.executable)[1].startswith("no libfaketime here")
