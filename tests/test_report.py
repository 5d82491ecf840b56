"""The reviewer's report: badges earned for the right reasons, one self-contained HTML file,
and a page that really renders in headless Chromium (title, badges, figures)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from reprokit.checks import CheckResult, Evidence, judge
from reprokit.outputs import compare_outputs
from reprokit.outputs.config import OutputsConfig
from reprokit.outputs.learn import learn
from reprokit.report import EntryPointResult, Holdings, Paper, build, output_view, render
from reprokit.validate.review import available, functional, reproduced
from tests.outputs_papers import ANTIALIASED, FLOAT_NOISE, TIMESTAMPED, make_paper, run_paper, runs

PAPER = Paper(title="Leaf area and growth under supplemental light: analysis code", authors=("Okafor, Adaeze", "Lindqvist, Henrik"),
              doi="10.5281/zenodo.1234567", date="2024-02-15", name="greenhouse")
HOLDINGS = Holdings(files=9, size_bytes=48_213_004, packages=14, python="3.11", platform="x86_64-linux", nixpkgs="nixos-23.11 @ 1a2b3c4d5e6f",
                    entry_points=3, recorded_outputs=6, archive_record="")
CHECKS = [
    CheckResult(name="integrity", status="passed", reason="every one of 212 files matches SHA256SUMS and reprokit.yaml"),
    CheckResult(name="completeness", status="passed", reason="every third-party import is locked"),
    CheckResult(name="rebuild-pip", status="passed", reason="offline, from vendor/ only"),
    CheckResult(name="airgap", status="not-run", reason="could not make a network namespace (needs root or user namespaces)"),
]


def entry_point(tmp: Path, name: str, script: str, envs: list[dict[str, str]], rerun_env: dict[str, str]) -> EntryPointResult:
    paper = make_paper(tmp / name / "paper", script)
    archived = runs(paper, tmp / name, envs)
    learned = learn(archived, OutputsConfig())
    run_paper(paper, tmp / name / "rerun", env=rerun_env)
    views = []
    for v in compare_outputs(learned.outputs, tmp / name / "run0", tmp / name / "rerun"):
        rec, new = tmp / name / "run0" / v.path, tmp / name / "rerun" / v.path
        views.append(output_view(v, rec.read_bytes(), new.read_bytes() if new.is_file() else None))
    return EntryPointResult(name=name, path=f"{name}.py", kind="script", status="ran", outputs=tuple(views))


@pytest.fixture(scope="module")
def entry_points(tmp_path_factory: pytest.TempPathFactory) -> list[EntryPointResult]:
    tmp = tmp_path_factory.mktemp("papers")
    return [
        entry_point(tmp, "figures", TIMESTAMPED, [{}, {}], {}),
        entry_point(tmp, "smooth_fit", ANTIALIASED, [{"OFFSET": "0"}, {"OFFSET": "0.25"}], {"OFFSET": "0.5"}),
        entry_point(tmp, "table1", FLOAT_NOISE, [{}, {}], {"SCALE": "1.01"}),
    ]


def test_badges_reasons() -> None:
    assert available(PAPER, HOLDINGS).earned
    no_doi = Paper(title="x")
    assert not available(no_doi, HOLDINGS).earned and "reprokit publish" in available(no_doi, HOLDINGS).reason
    archived = available(no_doi, dataclasses.replace(HOLDINGS, archive_record="10.5281/zenodo.9"))
    assert archived.earned and "10.5281/zenodo.9" in archived.reason

    ran = EntryPointResult(name="a", path="a.py", kind="script", status="ran")
    crashed = EntryPointResult(name="b", path="b.py", kind="script", status="failed", message="exited with status 1: ValueError")
    assert functional(CHECKS, [ran]).earned
    assert "pip" in functional(CHECKS, [ran]).reason
    f = functional(CHECKS, [ran, crashed])
    assert not f.earned and f.reason == "b.py failed: exited with status 1: ValueError"
    assert not functional(CHECKS[:2], [ran]).earned  # never rebuilt
    not_rebuilt = [*CHECKS[:2], CheckResult(name="rebuild-nix", status="not-run", reason="nix is not installed")]
    assert functional(not_rebuilt, [ran]).reason == "rebuild-nix did not run: nix is not installed"
    assert not reproduced([ran]).earned and "no outputs" in reproduced([ran]).reason


def test_reproduced_needs_every_output_within_its_rule(entry_points: list[EntryPointResult]) -> None:
    good = entry_points[:2]
    assert reproduced(good).earned
    assert "equivalent within their rules" in reproduced(good).reason
    bad = reproduced(entry_points)
    assert not bad.earned
    assert bad.reason.startswith("3 outputs of 6 not reproduced; first: results/log.txt: different at line 2")


def _report(entry_points: list[EntryPointResult]) -> str:
    outcome = judge([*CHECKS, CheckResult(name="rerun", status="failed", reason="3 of 6 outputs differ",
                                          evidence=(Evidence(path="results/summary.json", message="different at $.model.slope"),))],
                    allow_skip=["airgap"])
    report = build(bundle="greenhouse-bundle", paper=PAPER, holdings=HOLDINGS, outcome=outcome, entry_points=entry_points,
                   generated="2026-11-30 12:00 UTC", tool_version="0.1.0")
    return render(report)


def test_report_is_one_self_contained_file(entry_points: list[EntryPointResult]) -> None:
    page = _report(entry_points)
    # Nothing fetched: every src is a data: URI, no stylesheet or script links.
    assert re.findall(r'\bsrc="(?!data:)', page) == []
    assert "<link" not in page and "<script" not in page and "@import" not in page and "url(http" not in page
    assert page.count('src="data:image/png;base64,') == 5  # two figures side by side, one diff (the other has the same pixels)
    assert "Leaf area and growth" in page and "Okafor, Adaeze" in page
    assert "10.5281/zenodo.1234567" in page
    for words in ("Artifacts Available", "Artifacts Evaluated – Functional", "Results Reproduced"):
        assert words in page
    assert "$.model.slope" in page and "0.51234567891" in page  # the failing value, in the numbers table
    assert "airgap not run, as allowed" not in page  # the rerun failed: the verdict line names that instead
    assert "FAILED: rerun failed" in page
    assert "<script" not in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(args: list[str], page: Path, profile: str) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium() or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
           *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (CI installs Debian's chromium)")
def test_report_renders_in_headless_chromium(entry_points: list[EntryPointResult], tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    page = tmp_path / "report.html"
    page.write_text(_report(entry_points), encoding="utf-8")
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory(prefix="reprokit-chromium-") as profile:
        dom = _browser(["--dump-dom"], page, profile)
        assert dom.returncode == 0, dom.stderr[-2000:]
        proc = _browser([f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars"], page, profile)
        assert proc.returncode == 0, proc.stderr[-2000:]
    html_after = dom.stdout
    assert "<title>Artifact report: Leaf area and growth" in html_after
    assert html_after.count('class="badge ') == 3
    assert len(re.findall(r"<img [^>]*src=\"data:image/png;base64,", html_after)) == 5
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        rgb = im.convert("RGB")
        # Not blank: many colours, and the top band (the masthead) is not the page colour alone.
        assert len(rgb.getcolors(maxcolors=1 << 20) or []) > 50
        assert max(ImageStat.Stat(rgb.crop((0, 0, 1280, 300))).stddev) > 10
        # The verdict banner is drawn in the failure colour somewhere near the top.
        import numpy as np

        band = np.asarray(rgb.crop((0, 200, 1280, 600))).reshape(-1, 3)
        assert ((band[:, 0] > 150) & (band[:, 1] < 80) & (band[:, 2] < 80)).any()
    keep = os.environ.get("REPROKIT_REPORT_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
        shutil.copyfile(page, Path(keep).with_suffix(".html"))


def test_the_report_of_a_bundle_without_nix_gathers_what_it_holds(tmp_path: Path) -> None:
    """A pip-only bundle (archive --no-nix) has no pin: the report says so."""
    from reprokit.bundle import manifest
    from reprokit.validate import gather_review

    man = dataclasses.replace(manifest.read(Path(__file__).parent / "golden" / "reprokit.yaml"), nixpkgs=None)
    (tmp_path / "reprokit.yaml").write_text(manifest.render(man), encoding="utf-8")
    report = gather_review(tmp_path, tmp_path, man, judge([]), ())
    assert report.holdings.nixpkgs == "none (archived without Nix)" and report.holdings.recorded_outputs == 4
    assert (report.paper.date, report.paper.authors) == ("2024-01-20", ("Doe, Jo", "The Consortium"))


def test_a_committed_figure_is_put_beside_the_shown_figure_most_like_it() -> None:
    """The paper commits figures/fig2.png; the rerun showed two figures (plt.show()), one of
    them the same plot drawn at another size. That pair is shown with the share of pixels
    that differ; the other figure and an unrelated committed image are left alone."""
    import base64
    import io

    from PIL import Image

    from reprokit.validate.review import likenesses
    from tests.outputs_papers import png

    committed = base64.b64decode(png(0.0))
    same_plot = Image.open(io.BytesIO(base64.b64decode(png(0.3))))
    buf = io.BytesIO()
    same_plot.resize((320, 240)).save(buf, format="PNG")
    black = io.BytesIO()
    Image.new("RGB", (160, 120), "black").save(black, format="PNG")
    got = likenesses({"figures/fig2.png": committed, "figures/logo.png": black.getvalue()},
                     {"shown/figure-1.png": base64.b64decode(png(0.0, colour=(200, 30, 30))), "shown/figure-2.png": buf.getvalue()})
    pairs = {(x.committed, x.shown): x.differing for x in got}
    assert ("figures/fig2.png", "shown/figure-2.png") in pairs and pairs[("figures/fig2.png", "shown/figure-2.png")] < 0.05
    assert all(c != "figures/logo.png" for c, _ in pairs)
    ep = EntryPointResult(name="plots", path="plots.py", kind="script", status="ran", likenesses=got)
    page = render(build(bundle="b", paper=PAPER, holdings=HOLDINGS, outcome=judge(CHECKS, allow_skip=["airgap"]), entry_points=[ep],
                        generated="2026-11-30 12:00 UTC", tool_version="0.1.0"))
    assert "The paper's own figures beside what the rerun showed" in page
    assert "<code>figures/fig2.png</code> beside <code>shown/figure-2.png</code>" in page
