"""The benchmarks say what their numbers compare."""

from __future__ import annotations

from benchmarks.bench_scan import speed
from benchmarks.realpapers import blocker, phases


def test_scan_benchmark_reports_both_pipreqs_ratios_and_which_is_like_for_like() -> None:
    totals: dict[str, list[float]] = {"reprokit": [0, 0, 0, 0, 2.0], "reprokit+lazy": [0, 0, 0, 0, 0.0],
                                      "pipreqs": [0, 0, 0, 0, 20.0], "pipreqs-local": [0, 0, 0, 0, 10.0]}
    local, online = speed(totals)
    assert local.startswith("reprokit is 5.0x as fast as pipreqs --use-local") and "the like-for-like time" in local
    assert online.startswith("reprokit is 10.0x as fast as pipreqs with PyPI look-ups") and "not a like-for-like time" in online


def test_the_real_paper_benchmark_reads_the_phases_archive_prints() -> None:
    printed = ("note: Python 3.8\ntime by phase:\n  scan and resolve   3.1s    6%\n  run 1: code/a.py   2.0s    4%\n"
               "  run 2: code/a.py   2.5s    5%\n  total              7.6s\nwrote out: 3 paper files\n")
    assert phases(printed) == {"scan and resolve": 3.1, "run 1: code/a.py": 2.0, "run 2: code/a.py": 2.5}
    assert phases("error: no entry point\n") == {}


def test_the_real_paper_benchmark_tells_real_blockers_from_reprokits_failures() -> None:
    assert blocker("rerun: paper/a.ipynb: failed, as when the bundle was made (...; data absent: a.mat is not in the paper)") == "data absent"
    assert blocker("no known distribution for dolark (AiyagariDolARK.ipynb:cell 1:8): ...") == "no index has it"
    assert blocker("timed out after 1800s") == "benchmark time limit"
    assert blocker("rerun: paper/img.py: failed, ... it writes outside the paper (../../mnist_data, above the paper's folder)") == "data absent"
    assert blocker("run.py: ... it writes outside the paper (/usr/share/x, a system folder)") == "reprokit"
    assert blocker("TRACEBACK: KeyError: 'x'") == "reprokit (traceback)"
    assert blocker("could not resolve the closure: Failed to build `markupsafe==1.0`; TypeError: ...") == "reprokit"
