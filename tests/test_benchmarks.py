"""The benchmarks say what their numbers compare."""

from __future__ import annotations

from benchmarks.bench_scan import speed


def test_scan_benchmark_reports_both_pipreqs_ratios_and_which_is_like_for_like() -> None:
    totals: dict[str, list[float]] = {"reprokit": [0, 0, 0, 0, 2.0], "reprokit+lazy": [0, 0, 0, 0, 0.0],
                                      "pipreqs": [0, 0, 0, 0, 20.0], "pipreqs-local": [0, 0, 0, 0, 10.0]}
    local, online = speed(totals)
    assert local.startswith("reprokit is 5.0x as fast as pipreqs --use-local") and "the like-for-like time" in local
    assert online.startswith("reprokit is 10.0x as fast as pipreqs with PyPI look-ups") and "not a like-for-like time" in online
