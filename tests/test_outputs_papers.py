"""The issue's "done when": small papers whose outputs (a) vary in the 12th digit, (b) carry
a time stamp in a PNG and a PDF, (c) move a few anti-aliased pixels, pass as equivalent
with the measured difference; (d) a result changed by 1% fails, naming the file and the
value. Archive-time runs teach the rules; a later run is compared with the first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprokit.outputs import Learned, Verdict, compare_outputs
from reprokit.outputs.config import OutputsConfig
from reprokit.outputs.learn import learn
from tests.outputs_papers import (
    ANTIALIASED,
    FLOAT_NOISE,
    TIMESTAMPED,
    WALL_CLOCK,
    make_paper,
    notebook,
    png,
    run_paper,
    runs,
)


def archive_and_rerun(tmp_path: Path, script: str, rerun_env: dict[str, str] | None = None,
                      envs: tuple[dict[str, str], ...] = ({}, {})) -> tuple[Learned, dict[str, Verdict]]:
    paper = make_paper(tmp_path / "paper", script)
    archived = runs(paper, tmp_path, list(envs))
    learned = learn(archived, OutputsConfig())
    rerun = run_paper(paper, tmp_path / "rerun", env=rerun_env)
    verdicts = {v.path: v for v in compare_outputs(learned.outputs, tmp_path / "run0", tmp_path / "rerun")}
    assert set(verdicts) == set(rerun)
    return learned, verdicts


def test_float_noise_in_the_12th_digit_is_equivalent_with_the_difference_measured(tmp_path: Path) -> None:
    learned, verdicts = archive_and_rerun(tmp_path, FLOAT_NOISE)
    by_path = {o.path: o for o in learned.outputs}
    assert {"results/summary.json", "results/table1.csv", "results/log.txt"} <= set(by_path)
    assert not by_path["results/summary.json"].stable
    assert "rel" in by_path["results/summary.json"].noise
    assert by_path["results/summary.json"].rule.kind == "json"
    for path in ("results/summary.json", "results/table1.csv", "results/log.txt"):
        v = verdicts[path]
        assert v.status == "equivalent", v.summary
        assert v.worst_rel is not None and 0 < v.worst_rel.rel < 1e-10  # type: ignore[operator]
        assert "worst rel" in v.summary
    assert verdicts["results/summary.json"].worst_rel.where.startswith("$.")  # type: ignore[union-attr]
    assert verdicts["results/table1.csv"].worst_rel.where.startswith("row ")  # type: ignore[union-attr]
    assert verdicts["results/log.txt"].worst_rel.where.startswith("line ")  # type: ignore[union-attr]


def test_a_result_changed_by_one_percent_is_different_naming_file_and_value(tmp_path: Path) -> None:
    _, verdicts = archive_and_rerun(tmp_path, FLOAT_NOISE, rerun_env={"SCALE": "1.01"})
    v = verdicts["results/summary.json"]
    assert v.status == "different"
    assert v.failures[0].where == "$.model.slope"
    assert v.failures[0].recorded.startswith("0.5123456789")
    assert v.failures[0].rerun.startswith("0.51746")
    assert v.failures[0].rel == pytest.approx(0.01 / 1.01, rel=1e-6)
    assert "$.model.slope" in v.summary and "0.5123456789" in v.summary
    t = verdicts["results/table1.csv"]
    assert t.status == "different"
    assert t.failures[0].where == "row 3, column 'mean_growth'"
    assert verdicts["results/log.txt"].status == "different"


def test_timestamped_png_and_pdf_are_equivalent_and_say_how(tmp_path: Path) -> None:
    learned, verdicts = archive_and_rerun(tmp_path, TIMESTAMPED)
    by_path = {o.path: o for o in learned.outputs}
    assert not by_path["figures/fig1.png"].stable
    assert "metadata" in by_path["figures/fig1.png"].hint
    png_v, pdf_v = verdicts["figures/fig1.png"], verdicts["figures/fig1.pdf"]
    assert png_v.status == "equivalent", png_v.summary
    assert "same pixels" in png_v.summary
    assert pdf_v.status == "equivalent", pdf_v.summary
    assert "stripping" in pdf_v.method and "CreationDate" in pdf_v.method


def test_antialiased_pixels_that_move_are_equivalent_with_the_count_reported(tmp_path: Path) -> None:
    learned, verdicts = archive_and_rerun(tmp_path, ANTIALIASED, rerun_env={"OFFSET": "0.5"}, envs=({"OFFSET": "0"}, {"OFFSET": "0.25"}))
    rec = learned.outputs[0]
    assert not rec.stable and "pixels" in rec.noise
    v = verdicts["figures/fig2.png"]
    assert v.status == "equivalent", v.summary
    assert v.compared == 320 * 240
    assert "anti-aliasing" in v.summary
    assert v.diff_image is not None and v.diff_image.startswith(b"\x89PNG")
    assert v.worst_abs is not None and v.worst_abs.where.startswith("pixel (")


def test_a_moved_curve_is_different_with_a_diff_image(tmp_path: Path) -> None:
    import base64

    from reprokit.outputs import comparison
    from reprokit.outputs.rule import default_rule

    a, b = base64.b64decode(png(0.0)), base64.b64decode(png(4.0))
    v = comparison.compare("fig.png", a, b, default_rule("fig.png"))
    assert v.status == "different"
    assert v.failures[0].where.startswith("pixels x ")
    assert v.diff_image is not None


STORED = dict(mean="2.71828182845904", array="array([1.00000000000003, 2.5, 3.75])", address="0x7f3a2b1c9d00",
              wall="5.2 ms", figure=png(0.0))


def test_notebook_whose_rerun_matches_within_tolerance_passes() -> None:
    from reprokit.outputs import comparison
    from reprokit.outputs.rule import default_rule

    rerun = dict(mean="2.71828182845911", array="array([1.00000000000001, 2.5, 3.75])", address="0x55d0c0ffee00",
                 wall="7.9 ms", figure=png(0.4), stderr="DeprecationWarning: something moved\n")
    v = comparison.compare("analysis.ipynb", notebook(**STORED), notebook(**rerun), default_rule("analysis.ipynb"))
    assert v.status == "equivalent", v.summary
    assert v.worst_rel is not None and v.worst_rel.where.startswith("cell 2 (In [2])")


def test_notebook_whose_printed_number_changed_fails_at_that_cell() -> None:
    from reprokit.outputs import comparison
    from reprokit.outputs.rule import default_rule

    v = comparison.compare("analysis.ipynb", notebook(**STORED), notebook(**{**STORED, "mean": "2.74546"}), default_rule("analysis.ipynb"))
    assert v.status == "different"
    assert v.failed == 1
    f = v.failures[0]
    assert f.where == "cell 2 (In [2]) stdout, line 1"
    assert (f.recorded, f.rerun) == ("2.71828182845904", "2.74546")
    assert "cell 2" in v.summary


def test_notebook_figure_changed_fails_at_its_cell_with_a_diff_image() -> None:
    from reprokit.outputs import comparison
    from reprokit.outputs.rule import default_rule

    v = comparison.compare("analysis.ipynb", notebook(**STORED), notebook(**{**STORED, "figure": png(0.0, colour=(214, 39, 40))}),
                           default_rule("analysis.ipynb"))
    assert v.status == "different"
    assert v.failures[0].where.startswith("cell 5 (In [5]), pixels")
    assert v.diff_image is not None


def test_wall_clock_values_are_learned_as_time_stamps_and_compared_by_type(tmp_path: Path) -> None:
    """Two archive-time runs a moment apart differ in the 10th digit of their epoch times;
    a rerun days later differs far more. Where each run wrote its own time, the value is
    a time stamp: learned as such, and a rerun is compared there by presence and type."""
    paper = make_paper(tmp_path / "paper", WALL_CLOCK)
    windows: list[tuple[float, float]] = []
    learned = learn(runs(paper, tmp_path, [{}, {}], windows), OutputsConfig(), windows=windows)
    by_path = {o.path: o for o in learned.outputs}
    summary, log = by_path["results/summary.json"], by_path["results/log.csv"]
    assert summary.rule.stamps == ("$.generated_at", "$.runs[*].ms", "$.when") and not summary.varies
    assert log.rule.stamps == ("column 'finished'",) and not log.varies
    assert summary.set_by == "learned" and "the time each run wrote it (a time stamp)" in summary.hint
    assert any(n.startswith("results/summary.json: ") and "$.generated_at" in n for n in learned.notes)
    rerun = run_paper(paper, tmp_path / "rerun", env={"LATER": str(9 * 86400)})
    verdicts = {v.path: v for v in compare_outputs(learned.outputs, tmp_path / "run0", tmp_path / "rerun")}
    assert set(verdicts) == set(rerun)
    assert verdicts["results/summary.json"].status == "equivalent", verdicts["results/summary.json"].summary
    assert "$.generated_at: time stamps, compared by presence and type" in verdicts["results/summary.json"].notes
    assert verdicts["results/log.csv"].status == "equivalent", verdicts["results/log.csv"].summary
    # A time stamp is still a value the rerun must write, as a time.
    changed = tmp_path / "rerun" / "results" / "summary.json"
    changed.write_text(changed.read_text().replace('"generated_at": ', '"generated_at": "soon", "x": '))
    (v,) = compare_outputs([summary], tmp_path / "run0", tmp_path / "rerun")
    assert v.status == "different" and v.failures[0].where == "$.generated_at" and v.failures[0].note == "a time stamp was recorded here"


def test_a_result_that_changes_is_no_time_stamp(tmp_path: Path) -> None:
    """Only values inside the run's own time window are time stamps: unseeded results,
    a date alone and numbers of another size are not."""
    paper = make_paper(tmp_path / "paper", WALL_CLOCK.replace("random.seed(7)", "random.seed()"))
    windows: list[tuple[float, float]] = []
    learned = learn(runs(paper, tmp_path, [{}, {}], windows), OutputsConfig(), windows=windows)
    summary = next(o for o in learned.outputs if o.path == "results/summary.json")
    assert "$.mean_y" not in summary.rule.stamps and "$.day" not in summary.rule.stamps and "$.runs[*].step" not in summary.rule.stamps
    assert summary.varies
    # Windows that do not hold the times: nothing is a time stamp.
    stale = [(w[0] - 3600, w[1] - 3600) for w in windows]
    again = learn(runs(paper, tmp_path / "again", [{}, {}]), OutputsConfig(), windows=stale)
    assert all(not o.rule.stamps for o in again.outputs)
