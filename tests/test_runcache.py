"""Runs kept between archives: taken again only when everything they see is the same,
only when every entry point ran to its end, the four most recently used kept."""

from __future__ import annotations

import time
from pathlib import Path

from reprokit import sandbox
from reprokit.archive import runcache
from reprokit.run import RunResult
from reprokit.scan.entrypoints import EntryPoint

EPS = [EntryPoint(name="fit", kind="script", path="fit.py"), EntryPoint(name="plot", kind="notebook", path="plot.ipynb")]
PAPER = {"fit.py": "a" * 64, "plot.ipynb": "b" * 64}


def _key(paper: dict[str, str] = PAPER, eps: list[EntryPoint] = EPS, timeout: int = 60, number: int = 0,
         policy: sandbox.Policy | None = None) -> str:
    return runcache.key("env1", paper, eps, (), timeout, policy or sandbox.Policy(), number)


def _ran(collect: Path, ok: bool = True) -> list[RunResult]:
    (collect / "fit" / "out").mkdir(parents=True)
    (collect / "fit" / "out" / "r.json").write_text('{"x": 1}')
    return [RunResult(entry_point=EPS[0], ok=True, message="", outputs={"out/r.json": "c" * 64}, seconds=1.5, window=(10.0, 11.5)),
            RunResult(entry_point=EPS[1], ok=ok, message="" if ok else "exited with status 1: ValueError", outputs={}, seconds=2.0,
                      window=(11.5, 13.5))]


def test_a_run_is_taken_again_with_its_files_when_nothing_it_sees_changed(tmp_path: Path) -> None:
    results = _ran(tmp_path / "first")
    runcache.save(tmp_path / "cache", _key(), results, tmp_path / "first")
    again = runcache.load(tmp_path / "cache", _key(), EPS, tmp_path / "second")
    assert again == results
    assert (tmp_path / "second" / "fit" / "out" / "r.json").read_text() == '{"x": 1}'


def test_any_change_to_what_a_run_sees_is_another_run(tmp_path: Path) -> None:
    keys = {_key(), _key(paper={**PAPER, "fit.py": "d" * 64}), _key(paper={**PAPER, "data.csv": "e" * 64}), _key(eps=EPS[:1]),
            _key(eps=[EntryPoint(name="fit", kind="script", path="fit.py", args=("--n", "3")), EPS[1]]), _key(timeout=61),
            _key(number=1), _key(policy=sandbox.Policy(network=True))}
    assert len(keys) == 8
    assert _key() == _key(paper=dict(reversed(PAPER.items())))  # the order files were listed in is no change


def test_a_failed_run_is_never_kept(tmp_path: Path) -> None:
    runcache.save(tmp_path / "cache", _key(), _ran(tmp_path / "first", ok=False), tmp_path / "first")
    assert runcache.load(tmp_path / "cache", _key(), EPS, tmp_path / "second") is None
    assert not (tmp_path / "second").exists()


def test_what_is_kept_and_does_not_fit_is_not_taken(tmp_path: Path) -> None:
    runcache.save(tmp_path / "cache", _key(), _ran(tmp_path / "first"), tmp_path / "first")
    assert runcache.load(tmp_path / "cache", _key(), EPS[::-1], tmp_path / "x") is None
    (tmp_path / "cache" / "runs" / _key() / "results.json").write_text("{not json")
    assert runcache.load(tmp_path / "cache", _key(), EPS, tmp_path / "y") is None


def test_the_four_most_recently_used_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for n in range(6):
        runcache.save(cache, _key(number=n), _ran(tmp_path / f"r{n}"), tmp_path / f"r{n}")
        time.sleep(0.02)
        if n == 3:
            assert runcache.load(cache, _key(number=0), EPS, tmp_path / "touch") is not None  # used again: kept
            time.sleep(0.02)
    kept = {d.name for d in (cache / "runs").iterdir() if d.is_dir()}
    assert kept == {_key(number=n) for n in (0, 3, 4, 5)}
