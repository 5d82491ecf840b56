"""archive and validate on a tiny paper served by a local index; faults named by file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from reprokit import run as rerun
from reprokit import schemas
from reprokit.archive import ArchiveResult, ArchiveSettings, archive
from reprokit.archive.paper import extension_builds, unbuilt_extensions
from reprokit.bundle import manifest
from reprokit.cli import main
from reprokit.errors import InputError
from reprokit.report import text as render
from reprokit.run.failure import failure
from reprokit.scan import ScanSettings, scan
from reprokit.scan.entrypoints import EntryPoint
from reprokit.validate import ValidateSettings, check_completeness, validate
from tests.fakeindex import FakeIndex, running
from tests.helpers import PAPER, REV, RUNNING, as_format_1, make_tarball, resign, write_tree


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[ArchiveResult, FakeIndex, ArchiveResult]:
    base = tmp_path_factory.mktemp("archive")
    index = FakeIndex()
    index.add("alpha", "1.0", ["beta"], uploaded="2023-06-01T00:00:00Z")
    index.add("beta", "2.0", uploaded="2023-06-01T00:00:00Z")
    paper = write_tree(base / "tiny-paper", PAPER)
    with running(index) as url:
        result = archive(ArchiveSettings(python=RUNNING, paper=paper, output=base / "out1", tar=True, offline=True, index_url=f"{url}/simple/", cache_dir=base / "cache", quiet=True))
        again = archive(ArchiveSettings(python=RUNNING, paper=paper, output=base / "elsewhere" / "out2", tar=True, offline=True, index_url=f"{url}/simple/", cache_dir=base / "cache", quiet=True))
        # With a cache of its own: every run made again, nothing taken from the first.
        apart = archive(ArchiveSettings(python=RUNNING, paper=paper, output=base / "apart" / "out3", tar=True, offline=True, index_url=f"{url}/simple/", cache_dir=base / "cache2", quiet=True))
    assert result.tarball and again.tarball and apart.tarball
    assert result.tarball.read_bytes() == again.tarball.read_bytes() == apart.tarball.read_bytes()  # same inputs, same bytes, whatever OUT is
    assert not any("runs of the entry points were taken" in n for n in apart.notes)
    return result, index, again


@pytest.fixture(scope="module")
def built(archived: tuple[ArchiveResult, FakeIndex, ArchiveResult]) -> tuple[Path, Path, FakeIndex]:
    result, index, _ = archived
    assert result.tarball
    return result.bundle, result.tarball, index


def test_a_second_archive_of_a_paper_reuses_its_environment(archived: tuple[ArchiveResult, FakeIndex, ArchiveResult]) -> None:
    """The second archive of the same lock installs nothing: the environment the first
    built is kept in the cache and shown read-only to the runs, and the bundle is byte for
    byte the same (the fixture compares the tarballs)."""
    first, _, again = archived
    reused = "the environment of an earlier archive of the same lock was reused (none of its sdists was built again)"
    assert reused not in first.notes and reused in again.notes
    envs = [d for d in (first.bundle.parent / "cache" / "envs").iterdir() if (d / "complete").is_file()]
    assert len(envs) == 1 and (envs[0] / "env" / "pyvenv.cfg").is_file()
    # Nor does it run the paper again: same paper, lock and settings, the same runs.
    taken = [n for n in again.notes if "runs of the entry points were taken from an earlier archive" in n]
    assert taken and taken[0].startswith("2 of the 2 runs") and not any("were taken" in n for n in first.notes)
    assert "run 1: run.py" not in dict(again.timings) and "run 1: run.py" in dict(first.timings)


def test_archive_says_where_its_time_went(archived: tuple[ArchiveResult, FakeIndex, ArchiveResult]) -> None:
    result, _, _ = archived
    phases = dict(result.timings)
    # Every phase this archive went through, in the order it ran; two recorded runs of run.py.
    assert list(phases) == ["scan and resolve", "build tools", "nixpkgs pin", "vendor", "environment (pip, offline, with the sdist builds)",
                            "run 1: run.py", "run 2: run.py", "seal (manifest, SHA256SUMS, integrity)", "tarball"]
    assert all(s >= 0 for s in phases.values()) and phases["environment (pip, offline, with the sdist builds)"] > 0
    table = render.archived(result, timings=True)
    assert "time by phase:" in table and "run 2: run.py" in table and "  total " in table
    assert "time by phase:" not in render.archived(result)


def test_bundle_layout_manifest_and_outputs(built: tuple[Path, Path, FakeIndex]) -> None:
    bundle, tarball, _ = built
    names = sorted(p.name for p in bundle.iterdir())
    assert names == ["CITATION.cff", "README.md", "SHA256SUMS", "flake.lock", "flake.nix", "nix", "outputs", "paper", "pylock.toml", "reprokit.yaml", "requirements.lock", "vendor", "verify.py"]
    man = manifest.read(bundle / "reprokit.yaml")
    assert man.paper.title == "Tiny study" and man.paper.date == dt.date(2024, 1, 20) and man.paper.authors == ("Doe, Jo",)
    assert {p.name: p.provider for p in man.packages} == {"alpha": "wheel", "beta": "wheel"}
    art = man.packages[0].artifacts[0]
    assert art.swhid.startswith("swh:1:cnt:") and art.sri.startswith("sha256-") and (bundle / art.path).is_file()
    (ep,) = man.entry_points
    assert ep.path == "run.py" and [o.recorded.path for o in ep.outputs] == ["out/result.json"]
    (out,) = (o.recorded for o in ep.outputs)
    # Format 2: the output's rule and what two archive-time runs measured; its bytes kept.
    assert man.format == 2
    assert (out.rule.kind, out.kept, out.stable, out.runs, out.set_by) == ("json", True, True, 2, "default")
    kept = bundle / "outputs" / "run" / "out" / "result.json"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == out.sha256
    assert {f.path for f in man.paper_files} == set(PAPER)
    assert {i.module: (i.optional, i.lazy) for i in man.imports} == {"alpha": (False, False), "json": (False, False), "os": (False, False)}
    with tarfile.open(tarball) as tf:
        members = tf.getmembers()
    assert {m.name.split("/")[0] for m in members} == {"tiny-paper"}
    assert all(m.mtime == 1705708800 and m.uid == 0 and m.uname == "" for m in members)  # 2024-01-20, the paper's date
    assert "T0" not in (bundle / "reprokit.yaml").read_text()  # no wall-clock timestamps


def test_verify_py_and_sha256sum_agree(built: tuple[Path, Path, FakeIndex]) -> None:
    bundle = built[0]
    ok = subprocess.run([sys.executable, "verify.py"], cwd=bundle, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: all")
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=bundle).returncode == 0


def test_intact_bundle_validates_with_rebuild_and_rerun(built: tuple[Path, Path, FakeIndex], capsys: pytest.CaptureFixture[str]) -> None:
    bundle, tarball, _ = built
    assert main(["validate", str(tarball), "--rebuild", "pip", "--rerun", "--airgap", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reprokit_validate"] == 2 and out["ok"] is True and out["exit_status"] == 0
    assert [c["name"] for c in out["checks"]] == ["integrity", "completeness", "rebuild-pip", "rerun"]
    assert {c["status"] for c in out["checks"]} == {"passed"}
    assert main(["validate", str(bundle)]) == 0


def target_of(b: Path, place: str) -> Path:
    if place == "paper":
        return b / "paper" / "data" / "input.csv"
    if place == "vendor":
        return next((b / "vendor" / "wheels").iterdir())
    return b / "reprokit.yaml"


@pytest.mark.parametrize("place", ["paper", "vendor", "manifest"])
@pytest.mark.parametrize("op", ["flip", "truncate", "delete", "add", "rename"])
def test_each_file_fault_fails_and_names_the_file(built: tuple[Path, Path, FakeIndex], tmp_path: Path, op: str, place: str) -> None:
    b = tmp_path / "b"
    shutil.copytree(built[0], b, symlinks=True)
    target = target_of(b, place)
    named = target.relative_to(b).as_posix()
    if op == "flip":
        raw = bytearray(target.read_bytes())
        raw[len(raw) // 2] ^= 1
        target.write_bytes(bytes(raw))
    elif op == "truncate":
        target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
    elif op == "delete":
        target.unlink()
    elif op == "add":
        extra = target.with_name("added-" + target.name)
        extra.write_bytes(b"new\n")
        named = extra.relative_to(b).as_posix()
    elif op == "rename":
        moved = target.with_name("renamed-" + target.name)
        target.rename(moved)
        named = moved.relative_to(b).as_posix()
    report = validate(ValidateSettings(bundle=b))
    assert not report.ok
    assert named in {p.path for c in report.checks for p in c.problems}


def mutate(bundle: Path, tmp_path: Path, how: str) -> tuple[Path, str]:
    b = tmp_path / "b"
    shutil.copytree(bundle, b, symlinks=True)
    if how == "manifest-lies":
        text = (b / "reprokit.yaml").read_text()
        first = manifest.read(b / "reprokit.yaml").paper_files[0]
        real = first.sha256
        (b / "reprokit.yaml").write_text(text.replace(real, "ab" * 32, 1))
        # Even with SHA256SUMS updated to match the edited manifest, the lie shows.
        sums = [ln for ln in (b / "SHA256SUMS").read_text().splitlines() if not ln.endswith("  reprokit.yaml")]
        sums.append(f"{hashlib.sha256((b / 'reprokit.yaml').read_bytes()).hexdigest()}  reprokit.yaml")
        (b / "SHA256SUMS").write_text("\n".join(sorted(sums, key=lambda s: s[66:])) + "\n")
        return b, "paper/" + first.path
    doc = json.loads((b / "flake.lock").read_text())
    key = "rev" if how == "flake-rev" else "narHash"
    doc["nodes"]["nixpkgs"]["locked"][key] = "1" * 40 if key == "rev" else "sha256-" + "A" * 43 + "="
    (b / "flake.lock").write_text(json.dumps(doc, indent=2))
    return b, "flake.lock"


@pytest.mark.parametrize("how", ["manifest-lies", "flake-rev", "flake-narhash"])
def test_each_fault_fails_and_names_the_file(built: tuple[Path, Path, FakeIndex], tmp_path: Path, how: str) -> None:
    bundle, path = mutate(built[0], tmp_path, how)
    report = validate(ValidateSettings(bundle=bundle))
    assert not report.ok
    named = {p.path for c in report.checks for p in c.problems}
    assert path in named, named


def evil_tarball(tmp_path: Path, kind: str) -> Path:
    def member(name: str, **attrs: object) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        for k, v in attrs.items():
            setattr(info, k, v)
        return info

    out = tmp_path / f"{kind}.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        tf.addfile(member("bundle/README.md", size=1), io.BytesIO(b"x"))
        if kind == "dotdot":
            tf.addfile(member("bundle/../../escape.txt", size=1), io.BytesIO(b"x"))
        elif kind == "absolute":
            tf.addfile(member("/tmp/abs-escape.txt", size=1), io.BytesIO(b"x"))
        elif kind == "symlink":
            tf.addfile(member("bundle/link", type=tarfile.SYMTYPE, linkname="../../../etc/passwd"))
        elif kind == "device":
            tf.addfile(member("bundle/dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3))
    return out


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "device"])
def test_unsafe_tarballs_are_refused(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    tgz = evil_tarball(tmp_path, kind)
    assert main(["validate", str(tgz)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tgz) in err
    assert not Path("/tmp/abs-escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()


@pytest.mark.parametrize("content", [b"not an archive\n", gzip.compress(b"x" * 10000)[:300]])
def test_a_file_that_is_no_tarball_is_one_line_of_error(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(content)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}: not a bundle folder, and not readable as a tarball (gzip, bzip2, xz or plain tar)\n"


def test_existing_output_is_not_overwritten(built: tuple[Path, Path, FakeIndex], capsys: pytest.CaptureFixture[str]) -> None:
    bundle = built[0]
    before = (bundle / "SHA256SUMS").read_bytes()
    assert main(["archive", str(bundle.parent / "tiny-paper"), "-o", str(bundle), "--offline"]) == 2
    assert "exists" in capsys.readouterr().err and (bundle / "SHA256SUMS").read_bytes() == before


@pytest.mark.slow
@pytest.mark.network
def test_sample_paper_end_to_end(sample_paper: Path, tmp_path: Path) -> None:
    """The README's main job: archive the sample paper, then validate with rebuild, rerun and airgap."""
    result = archive(ArchiveSettings(python=RUNNING, paper=sample_paper, output=tmp_path / "bundle", offline=True, quiet=True))
    man = manifest.read(result.bundle / "reprokit.yaml")
    assert all(ep.outputs for ep in man.entry_points) and len(man.entry_points) == 2
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True, report=True))
    assert report.ok, [(c.name, c.problems) for c in report.checks]
    assert report.checks[-1].details.startswith(f"{sum(len(ep.outputs) for ep in man.entry_points)} recorded outputs match")
    # The reviewer's report of it: every badge but Available (the sample paper has no DOI).
    from reprokit import report as review

    assert report.review is not None
    page = review.render(report.review)
    assert "Leaf area and growth under supplemental light" in page and page.count('class="badge earned"') == 2
    assert page.count('src="data:image/png;base64,') >= 4  # Figures 1 and 2, recorded and rerun
    assert man.paper.date == dt.date(2024, 2, 15)


@pytest.mark.slow  # archives with two recording runs, then rebuilds and reruns again
def test_the_archive_run_is_the_record_and_a_differing_author_copy_is_reported(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    index = built[2]
    paper = write_tree(tmp_path / "with-results", {**PAPER, "out/result.json": '{"alpha": "0.9"}'})  # not what run.py writes
    with running(index) as url:
        result = archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", offline=True, index_url=f"{url}/simple/", cache_dir=tmp_path / "cache", quiet=True))
    (out,) = manifest.read(result.bundle / "reprokit.yaml").entry_points[0].outputs
    written = json.dumps({"alpha": "1.0"}).encode()
    assert (out.recorded.sha256, out.paper_sha256) == (hashlib.sha256(written).hexdigest(), hashlib.sha256(b'{"alpha": "0.9"}').hexdigest())
    assert (result.bundle / "outputs" / "run" / "out" / "result.json").read_bytes() == written
    assert any(n.startswith("run.py wrote other bytes than the paper's own copy of 1 file(s): out/result.json (different at $.alpha")
               for n in result.notes), result.notes
    # The fresh bundle passes its own rerun: what it recorded is what the run writes.
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    assert report.ok, report.checks
    assert report.checks[-1].details == "1 recorded outputs match"


def test_vendor_nixpkgs_keeps_the_pinned_tarball(built: tuple[Path, Path, FakeIndex], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import urlparse

    from tests.fakeservers import reply, serve

    tarball = make_tarball(tmp_path)

    def github(h) -> None:  # type: ignore[no-untyped-def]
        path = urlparse(h.path).path
        if path == "/repos/NixOS/nixpkgs/commits":
            reply(h, 200, json.dumps([{"sha": REV, "commit": {"committer": {"date": "2024-01-19T06:33:51Z"}}}]).encode())
        elif path == f"/NixOS/nixpkgs/archive/{REV}.tar.gz":
            reply(h, 200, tarball, "application/gzip")
        else:
            reply(h, 404, b"{}")

    paper = write_tree(tmp_path / "p", PAPER)
    with running(built[2]) as url, serve(github) as (gh, _):
        monkeypatch.setenv("REPROKIT_GITHUB_API", gh)
        monkeypatch.setenv("REPROKIT_GITHUB_ARCHIVE", gh)
        result = archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", vendor_nixpkgs=True, record_outputs=False,
                                         index_url=f"{url}/simple/", cache_dir=tmp_path / "cache", quiet=True))
    kept = result.bundle / "vendor" / "nixpkgs" / f"{REV}.tar.gz"
    assert kept.read_bytes() == tarball
    pin = manifest.read(result.bundle / "reprokit.yaml").nixpkgs
    assert pin is not None and pin.source == "github" and pin.rev == REV
    assert f"tar xzf vendor/nixpkgs/{REV}.tar.gz" in (result.bundle / "README.md").read_text()
    assert validate(ValidateSettings(bundle=result.bundle)).ok


def test_vendor_nixpkgs_without_a_tarball_is_a_clear_error(built: tuple[Path, Path, FakeIndex], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paper = write_tree(tmp_path / "p", PAPER)
    with running(built[2]) as url:
        code = main(["archive", str(paper), "-o", str(tmp_path / "b"), "--offline", "--vendor-nixpkgs", "--no-record-outputs",
                     "--index-url", f"{url}/simple/", "--cache-dir", str(tmp_path / "cache"), "-q"])
    assert code == 2
    assert "--vendor-nixpkgs needs the tarball of nixpkgs" in capsys.readouterr().err
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b.*"))  # nothing half-written


def test_archive_says_what_it_leaves_out(tmp_path: Path) -> None:
    index = FakeIndex()
    index.add("alpha", "1.0", uploaded="2023-06-01T00:00:00Z")
    quiet = write_tree(tmp_path / "no-entry-points", {
        "plot_results.py": "import json\nimport alpha\nprint(json.load(open('results.json')))\nopen('figure.txt', 'w').write('plot')\n",
        "make_data.py": "import json\nimport alpha\nimport util\njson.dump({'n': util.X}, open('results.json', 'w'))\n",
        "util.py": "X = 1\n", "requirements.txt": "alpha\n"})
    lazy = write_tree(tmp_path / "lazy", {
        "reprokit.toml": 'entry-points = ["run.py"]\n',
        "requirements.txt": "alpha\n",
        "figlib/__init__.py": "",
        "figlib/banner.py": "def banner(text):\n    import pyfiglet\n    return pyfiglet.figlet_format(text)\n",
        "run.py": "from figlib.banner import banner\nprint(banner('hi'))\n",
    })
    with running(index) as url:
        common = {"date": dt.date(2024, 1, 20), "offline": True, "index_url": f"{url}/simple/", "cache_dir": tmp_path / "cache", "quiet": True}
        result = archive(ArchiveSettings(python=RUNNING, paper=quiet, output=tmp_path / "b1", **common))  # type: ignore[arg-type]
        # The paper names nothing to run: its scripts nothing imports run (util.py is a
        # helper), the one that makes data first, and what they write is recorded.
        assert any(n.startswith("the paper names nothing to run") and "make_data.py, plot_results.py;" in n for n in result.notes), result.notes
        eps = manifest.read(result.bundle / "reprokit.yaml").entry_points
        assert [(e.path, e.status, [o.recorded.path for o in e.outputs]) for e in eps] == [
            ("make_data.py", "ran", ["results.json"]), ("plot_results.py", "ran", ["figure.txt"])]
        with pytest.raises(InputError, match=r"No module named 'pyfiglet'.*pyfiglet is imported only lazily \(figlib/banner.py:2: inside functions"):
            archive(ArchiveSettings(python=RUNNING, paper=lazy, output=tmp_path / "b2", **common))  # type: ignore[arg-type]
    assert not (tmp_path / "b2").exists()  # nothing half-written


def test_a_check_that_could_not_run_fails_unless_allowed(built: tuple[Path, Path, FakeIndex], capsys: pytest.CaptureFixture[str]) -> None:
    bundle = built[0]
    assert main(["validate", str(bundle), "--rerun"]) == 1  # --rerun needs --rebuild pip: not run, so not passed
    out = capsys.readouterr().out
    assert "rerun         NOT RUN  needs --rebuild pip" in out and out.endswith("FAILED: rerun did not run\n")
    assert main(["validate", str(bundle), "--rerun", "--allow-skip", "rerun"]) == 0
    out = capsys.readouterr().out
    assert "NOT RUN (allowed)" in out and out.endswith("OK: every requested check ran and passed (rerun not run, as allowed)\n")


def test_validate_writes_the_reviewers_report(built: tuple[Path, Path, FakeIndex], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "report.html"
    assert main(["validate", str(built[0]), "--rebuild", "pip", "--rerun", "--report", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "<title>Artifact report: Tiny study</title>" in html and "Doe, Jo" in html
    assert html.count('class="badge earned"') == 2  # functional and reproduced; no DOI, so not available
    assert "out/result.json" in html and "Identical" in html
    assert "no DOI and no archive record" in html


def test_a_format_1_bundle_still_validates_and_reruns(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """Before format 2, outputs were recorded by sha256 alone and not kept: still valid,
    and a rerun is compared by bytes."""
    from reprokit.bundle.pack import sums

    b = tmp_path / "old"
    shutil.copytree(built[0], b, symlinks=True)
    shutil.rmtree(b / "outputs")
    (b / "reprokit.yaml").write_text(schemas.dump(as_format_1(manifest.read(b / "reprokit.yaml").to_dict()), "format 1"), encoding="utf-8")
    (b / "SHA256SUMS").write_text(sums(b), encoding="utf-8")
    report = validate(ValidateSettings(bundle=b, rebuild="pip", rerun=True))
    assert report.ok, [(c.name, c.problems) for c in report.checks]
    (verdict,) = report.verdicts
    assert verdict.status == "identical" and verdict.rule.kind == "exact"


def resum(b: Path, rel: str) -> None:
    """SHA256SUMS updated for an edited file, so that only the check under test can object."""
    sums = [ln for ln in (b / "SHA256SUMS").read_text().splitlines() if not ln.endswith(f"  {rel}")]
    sums.append(f"{hashlib.sha256((b / rel).read_bytes()).hexdigest()}  {rel}")
    (b / "SHA256SUMS").write_text("\n".join(sorted(sums, key=lambda s: s[66:])) + "\n")


def test_the_nix_build_and_the_manifest_name_the_same_vendored_files(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    bundle = built[0]
    doc = json.loads((bundle / "nix" / "lock.json").read_text())
    assert doc["interpreter"] == "python" + "".join(manifest.read(bundle / "reprokit.yaml").python.version.split("."))
    assert {p["src"]["path"] for p in doc["packages"]} == {str(p.relative_to(bundle)) for p in (bundle / "vendor" / "wheels").iterdir()}
    b = tmp_path / "b"
    shutil.copytree(bundle, b, symlinks=True)
    doc["packages"][0]["src"]["path"] = "vendor/wheels/never-vendored.whl"
    (b / "nix" / "lock.json").write_text(json.dumps(doc))
    resum(b, "nix/lock.json")
    problems = [p.message for c in validate(ValidateSettings(bundle=b)).checks for p in c.problems]
    assert "builds from vendor/wheels/never-vendored.whl, which the bundle's vendor/ does not hold" in problems
    assert any(m.startswith(f"does not build {doc['packages'][0]['name']} from vendor/wheels/") for m in problems)
    # The flake's check compares what the manifest records, nothing else.
    doc = json.loads((bundle / "nix" / "lock.json").read_text())
    ep = doc["entryPoints"][0]
    assert [o["path"] for o in ep["outputs"] + ep["ruled"]] == ["out/result.json"]
    (ep["outputs"] or ep["ruled"])[0]["path"] = "out/elsewhere.json"
    (b / "nix" / "lock.json").write_text(json.dumps(doc))
    resum(b, "nix/lock.json")
    problems = [p.message for c in validate(ValidateSettings(bundle=b)).checks for p in c.problems]
    assert problems == ["the outputs its check compares for run are not those reprokit.yaml records"]


NIX_BUILD_FAILED = """\
warning: not writing modified lock file of flake 'path:/tmp/b':
python3.8-foo> Processing /build/foo-1.0
python3.8-foo> ERROR: Could not find a version that satisfies the requirement hatchling (from versions: none)
python3.8-foo> ERROR: No matching distribution found for hatchling
error: builder for '/nix/store/0c3hzl7m2qcbyf8mvajw8gv0jp3clk7x-python3.8-foo-1.0.drv' failed with exit code 1;
       last 3 log lines:
       > Processing /build/foo-1.0
       > ERROR: Could not find a version that satisfies the requirement hatchling (from versions: none)
       > ERROR: No matching distribution found for hatchling
       For full logs, run 'nix log /nix/store/0c3hzl7m2qcbyf8mvajw8gv0jp3clk7x-python3.8-foo-1.0.drv'.
error: 1 dependencies of derivation '/nix/store/a3hzl7m2qcbyf8mvajw8gv0jp3clk7xq-python3-3.8.3-env.drv' failed to build
"""
NIX_EVAL_FAILED = """\
error: reprokit: this nixpkgs (20.09) has no python311, for Python 3.11; pin a nixpkgs that has it
(use '--show-trace' to show detailed location information)
"""


def test_the_first_real_error_of_a_nix_build_is_reported() -> None:
    from reprokit.validate.nixbuild import first_error

    assert first_error(NIX_BUILD_FAILED) == "python3.8-foo: ERROR: Could not find a version that satisfies the requirement hatchling (from versions: none)"
    # Without -L, Nix quotes the builder's last lines only.
    quoted = "\n".join(ln for ln in NIX_BUILD_FAILED.splitlines() if not ln.startswith("python3.8-foo>"))
    assert first_error(quoted) == "python3.8-foo-1.0: ERROR: Could not find a version that satisfies the requirement hatchling (from versions: none)"
    garbled = "python3-beta> \x05\x00\x00\x00Error\x00\x00\x05\x00Error\x00\x00D\x00\x00executing '/bin/sh': No such file or directory\x00\x00\n"
    assert first_error(garbled) == "python3-beta: executing '/bin/sh': No such file or directory"
    assert first_error(NIX_EVAL_FAILED) == "reprokit: this nixpkgs (20.09) has no python311, for Python 3.11; pin a nixpkgs that has it"


def test_nix_rebuild_runs_in_the_sandbox_and_checks_before_it_builds(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    from reprokit.validate.nixbuild import nix_build_command, rebuild_nix

    bundle = built[0]
    cmd = nix_build_command(bundle)
    assert cmd[:2] == ["nix", "build"] and "sandbox" in cmd and cmd[cmd.index("sandbox") + 1] == "true"
    assert cmd[cmd.index("sandbox-fallback") + 1] == "false" and cmd[-1] == f"path:{bundle}"
    man = manifest.read(bundle / "reprokit.yaml")
    assert man.nixpkgs is not None
    # A pin without the interpreter is refused without running Nix.
    too_new = dataclasses.replace(man, nixpkgs=dataclasses.replace(man.nixpkgs, channel="nixos-20.09", last_modified=1603921147))
    check = rebuild_nix(bundle, too_new)
    assert check.ok is False and "nixos-20.09" in check.problems[0].message and "has no python" in check.problems[0].message
    b = tmp_path / "b"
    shutil.copytree(bundle, b, symlinks=True)
    next((b / "vendor" / "wheels").iterdir()).unlink()
    check = rebuild_nix(b, man)
    assert check.ok is False and check.problems[0].path == "nix/lock.json" and "not in the bundle" in check.problems[0].message


STANDIN = Path(__file__).parent / "nixpkgs-standin"


@pytest.mark.skipif(shutil.which("nix") is None, reason="nix not installed (Debian package nix-bin)")
def test_nix_rebuild_cannot_reach_the_host_from_the_sandbox(built: tuple[Path, Path, FakeIndex]) -> None:
    """The stand-in nixpkgs builds with the host's /bin/sh: in Nix's sandbox there is none."""
    from reprokit.validate import rebuild_nix

    bundle = built[0]
    check = rebuild_nix(bundle, manifest.read(bundle / "reprokit.yaml"), nixpkgs=STANDIN)
    if check.ok is None:  # a machine without user namespaces: not built at all, and said so
        assert check.skipped and "sandbox" in check.skipped
    else:
        assert check.ok is False and check.problems[0].message.endswith(": executing '/bin/sh': No such file or directory")


def test_without_any_date_archive_asks_for_one(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # No --date, no date-released in CITATION.cff, no git history: the bundle would carry
    # today's date (and resolve as of today), so archive asks instead.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    paper = write_tree(tmp_path / "undated", {"run.py": "print(1)\n", "CITATION.cff": PAPER["CITATION.cff"].replace('date-released: "2024-01-20"\n', "")})
    assert main(["archive", str(paper), "-o", str(tmp_path / "b"), "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {paper}: no date to archive it as of") and "--date YYYY-MM-DD" in err
    assert not (tmp_path / "b").exists()


def test_pylock_agrees_with_the_manifest_and_is_checked(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    from reprokit.bundle.pack import sums
    from reprokit.resolve.lockfile import parse_pylock

    bundle = tmp_path / "b"
    shutil.copytree(built[0], bundle)
    text = (bundle / "pylock.toml").read_text()
    locked = parse_pylock(text)
    man = manifest.read(bundle / "reprokit.yaml")
    assert [(p.name, str(p.version)) for p in locked.packages] == [(p.name, p.version) for p in man.packages]
    for p, pkg in zip(locked.packages, man.packages, strict=True):
        assert [(w.path, w.size, w.hashes["sha256"], w.url) for w in p.wheels or ()] == [
            (a.path, a.size, a.sha256, a.url) for a in pkg.artifacts if a.kind == "wheel"]
        assert all((bundle / (w.path or "")).is_file() and w.upload_time is not None for w in p.wheels or ())
    assert "  pylock.toml\n" in (bundle / "SHA256SUMS").read_text()
    # Re-signed, a pylock.toml that pins another version, or is no PEP 751 lock, fails integrity.
    beta = man.packages[1].artifacts[0]
    for bad, why in ((text.replace(beta.sha256, "0" * 64), f"pylock.toml: gives {beta.path} another sha256 or size than reprokit.yaml"),
                     (text.replace('lock-version = "1.0"', 'lock-version = "9.0"'), "pylock.toml: not a PEP 751 lock")):
        (bundle / "pylock.toml").write_text(bad)
        (bundle / "SHA256SUMS").write_text(sums(bundle))
        report = validate(ValidateSettings(bundle=bundle))
        assert not report.ok
        problems = [f"{p.path}: {p.message}" for p in report.checks[0].problems]
        assert any(p.startswith(why) for p in problems), problems


def test_a_module_only_a_run_asks_for_is_added_to_the_lock(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """pandas imports xlrd only when a notebook reads an Excel file: no scan sees it, the
    archive-time run does, and the bundle must then hold it."""
    index = built[2]
    index.add("zzdelta", "2.0", uploaded="2023-06-01T00:00:00Z")
    paper = write_tree(tmp_path / "needs", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "run.py": "import importlib, json, os\nimport alpha\nif __name__ == '__main__':\n"
                  "    delta = importlib.import_module(''.join(['zzdel', 'ta']))\n"
                  "    os.makedirs('out', exist_ok=True)\n    json.dump({'zzdelta': delta.__version__}, open('out/b.json', 'w'))\n",
    })
    result = archive_offline(index, paper, tmp_path)
    assert "zzdelta" in {p.name for p in manifest.read(result.bundle / "reprokit.yaml").packages}
    assert any(n.startswith("run.py needs zzdelta at run time (ModuleNotFoundError: No module named 'zzdelta' (in run.py, line 4))") for n in result.notes), result.notes
    assert json.loads((result.bundle / "outputs" / "run" / "out" / "b.json").read_text()) == {"zzdelta": "2.0"}
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok


def test_a_found_entry_point_needing_what_nothing_provides_is_recorded_as_failing(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """An old draft among the scripts reprokit found asks, at run time, for a module of
    the authors' that is long gone and that no index has: that script is recorded as
    failing, with a note, and the others are archived and recorded as they run."""
    index = built[2]
    paper = write_tree(tmp_path / "drafts", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "run.py": PAPER["run.py"],
        "old_draft.py": "import importlib\nif __name__ == '__main__':\n    importlib.import_module(''.join(['zzgone', '_model']))\n",
    })
    result = archive_offline(index, paper, tmp_path)
    assert any(n.startswith("old_draft.py needs zzgone_model at run time") and "no PyPI project provides" in n for n in result.notes), result.notes
    man = manifest.read(result.bundle / "reprokit.yaml")
    status = {e.name: (e.status, len(e.outputs)) for e in man.entry_points}
    assert status["old_draft"][0] == "failed" and status["run"] == ("ran", 1), status


def test_a_crash_in_a_wheels_compiled_code_builds_it_from_its_sdist(tmp_path: Path) -> None:
    """A wheel built years ago against another patch release of CPython can crash under
    today's (numba 0.38's under 3.6.15): the archive-time run crashes in its code, and the
    archive builds that distribution from its sdist instead, with a note; the bundle holds
    the sdist, not the wheel, and its rerun passes."""
    from tests.fakeindex import build_sdist, build_wheel

    index = FakeIndex()
    index.add_build_tools()
    crashing = "import ctypes\n\ndef compute():\n    return ctypes.CDLL(None).strlen(None)\n"  # reads address 0
    index.add_file("zzcrash", *build_wheel("zzcrash", "1.0", tag="py3-none-manylinux2014_x86_64", purelib=False,
                                           code={"zzcrash/__init__.py": crashing}), uploaded="2023-06-01T00:00:00Z")
    index.add_file("zzcrash", *build_sdist("zzcrash", "1.0", code={
        "PKG-INFO": "Metadata-Version: 2.1\nName: zzcrash\nVersion: 1.0\n",
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
                          '[project]\nname = "zzcrash"\nversion = "1.0"\n',
        "zzcrash/__init__.py": "def compute():\n    return 42\n"}), uploaded="2023-06-01T00:00:00Z")
    paper = write_tree(tmp_path / "crash", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "zzcrash\n",
        "run.py": "import zzcrash\nif __name__ == '__main__':\n    open('answer.txt', 'w').write(str(zzcrash.compute()))\n",
    })
    result = archive_offline(index, paper, tmp_path)
    assert any(n.startswith("run.py crashed in the compiled code of zzcrash (Segmentation fault in zzcrash/__init__.py, line 4): "
                            "its wheel was built for another release") for n in result.notes), result.notes
    (pkg,) = [p for p in manifest.read(result.bundle / "reprokit.yaml").packages if p.name == "zzcrash"]
    assert [a.kind for a in pkg.artifacts] == ["sdist"] and pkg.provider == "sdist"
    assert (result.bundle / "outputs" / "run" / "answer.txt").read_text() == "42"
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok


def test_a_crash_names_the_python_frame_it_happened_under(tmp_path: Path) -> None:
    """faulthandler's frames make a crash in compiled code a one-line error that says where."""
    paper = write_tree(tmp_path / "p", {"lib.py": "import ctypes\n\ndef boom():\n    ctypes.CDLL(None).strlen(None)\n",
                                        "run.py": "import lib\nlib.boom()\n"})
    env = rerun.Env(python=Path(sys.executable), bindir=Path(sys.executable).parent)
    (res,) = rerun.run_entry_points(paper, env, [EntryPoint(name="run", kind="script", path="run.py")])
    assert not res.ok
    assert res.message == "crashed: Segmentation fault in lib.py, line 4", res.message
    assert rerun.crash(-11, "") == "Segmentation fault" and rerun.crash(1, "Traceback ...\nValueError: x") is None
    # The frame's file names its distribution; only a wheel of compiled code is one to build from source.
    from reprokit.archive.record import compiled_distribution

    site = tmp_path / "env" / "lib" / "python3.6" / "site-packages"
    for name, purelib in (("numba", "false"), ("brian2", "true")):
        info = write_tree(site / f"{name}-1.0.dist-info", {"RECORD": f"{name}/core.py,sha256=x,1\n", "METADATA": f"Name: {name}\n",
                                                            "WHEEL": f"Wheel-Version: 1.0\nRoot-Is-Purelib: {purelib}\n"})
        assert info.is_dir()
    assert compiled_distribution(tmp_path / "env", "crashed: Segmentation fault in numba/core.py, line 9") == "numba"
    assert compiled_distribution(tmp_path / "env", "crashed: Segmentation fault in brian2/core.py, line 9") is None
    assert compiled_distribution(tmp_path / "env", "crashed: Segmentation fault") is None


def archive_offline(index: FakeIndex, paper: Path, tmp_path: Path) -> ArchiveResult:
    """``reprokit archive PAPER -o tmp_path/b`` against the fake index, offline."""
    with running(index) as url:
        return archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", offline=True, index_url=f"{url}/simple/",
                                       cache_dir=tmp_path / "cache", quiet=True))


def test_a_failure_names_the_frame_it_was_raised_in_and_a_prompt_says_so(tmp_path: Path) -> None:
    """A run has nothing on stdin: code that asks a question fails with EOFError, and the
    one-line error says where it asked and what to do, not only "EOF when reading a line"."""
    paper = write_tree(tmp_path / "p", {"ask.py": "def ok():\n    return input('Is it okay to create data/? [y/N] ')\n",
                                        "run.py": "import ask\ntry:\n    int('x')\nexcept ValueError:\n    ask.ok()\n",
                                        "bad.py": "import json\njson.loads('{')\n"})
    env = rerun.Env(python=Path(sys.executable), bindir=Path(sys.executable).parent)
    asked, bad = rerun.run_entry_points(paper, env, [EntryPoint(name="run", kind="script", path="run.py"),
                                                     EntryPoint(name="bad", kind="script", path="bad.py")])
    assert asked.message.startswith("exited with status 1: EOFError: EOF when reading a line (in ask.py, line 2); "
                                    "it asked for keyboard input"), asked.message
    assert bad.message.startswith("exited with status 1: json.decoder.JSONDecodeError: Expecting property name"), bad.message
    assert bad.message.endswith("(in bad.py, line 2)"), bad.message  # the paper's line, not json.decoder's
    # A library's frame in an environment is named from site-packages/ on.
    stderr = ('Traceback (most recent call last):\n  File "/w/paper/run.py", line 3, in <module>\n'
              '  File "/w/env/lib/python3.6/site-packages/volcano/config.py", line 25, in ask\n'
              '  File "/usr/lib/python3.6/json/decoder.py", line 355, in raw_decode\nValueError: bad\n')
    assert failure(1, stderr, Path("/w/paper")) == "exited with status 1: ValueError: bad (in volcano/config.py, line 25)"


def test_an_extension_the_paper_builds_from_cython_is_never_taken_from_the_index(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """``from zzfast import *`` with zzfast.pyx beside: the paper's own module, which it
    builds in place. Unbuilt, the run fails saying so; the index's zzfast is not locked."""
    index = built[2]
    index.add("zzfast", "1.0", uploaded="2023-06-01T00:00:00Z", module="zzfast")
    paper = write_tree(tmp_path / "cy", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n", "zzfast.pyx": "def f():\n    return 1\n",
        "run.py": "import alpha\nfrom zzfast import f\nif __name__ == '__main__':\n    open('f.txt', 'w').write(str(f()))\n",
    })
    with running(index) as url, pytest.raises(InputError) as err:
        archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", offline=True, index_url=f"{url}/simple/",
                                cache_dir=tmp_path / "cache", quiet=True))
    assert "No module named 'zzfast'" in str(err.value) and "zzfast is the paper's own extension module, compiled from zzfast.pyx" in str(err.value)
    assert not (tmp_path / "b").exists()


ZZFAST_C = """\
#include <Python.h>
static PyObject *f(PyObject *self, PyObject *args) { return PyLong_FromLong(41 + 1); }
static PyMethodDef methods[] = {{"f", f, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "zzfast", NULL, -1, methods};
PyMODINIT_FUNC PyInit_zzfast(void) { return PyModule_Create(&module); }
"""

# As papers with Cython code ship it: the .pyx, the C that Cython made from it, and a
# setup.py that builds the C unless told to run Cython.
ZZFAST_SETUP = """\
from distutils.core import setup
from distutils.extension import Extension
USE_CYTHON = False
ext = ".pyx" if USE_CYTHON else ".c"
extensions = [Extension("zzfast", ["zzfast" + ext])]
if USE_CYTHON:
    from Cython.Build import cythonize
    extensions = cythonize(extensions)
setup(ext_modules=extensions)
"""


def test_an_extension_the_paper_builds_with_its_setup_py_is_built_before_it_runs(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """The paper's own extension module, with a setup.py that compiles extension modules:
    ``python setup.py build_ext --inplace`` runs first, in the copy of the paper the
    entry points then run in, at archive time and in validate; what it builds is no
    result, and the index's zzfast is never locked."""
    index = built[2]
    index.add("zzfast", "1.0", uploaded="2023-06-01T00:00:00Z", module="zzfast")
    paper = write_tree(tmp_path / "cy", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n", "code/zzfast.pyx": "def f():\n    return 42\n",
        "code/zzfast.c": ZZFAST_C, "code/setup.py": ZZFAST_SETUP,
        "code/run.py": "import alpha\nfrom zzfast import f\nif __name__ == '__main__':\n    open('f.txt', 'w').write(str(f()))\n",
    })
    with running(index) as url:
        result = archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", offline=True, index_url=f"{url}/simple/",
                                         cache_dir=tmp_path / "cache", quiet=True))
        man = manifest.read(result.bundle / "reprokit.yaml")
        assert [(e.entry_point.name, e.path, e.entry_point.args, e.status) for e in man.entry_points] == [
            ("build-extensions", "code/setup.py", ("build_ext", "--inplace"), "ran"), ("run", "code/run.py", (), "ran")]
        assert [o.recorded.path for o in man.entry_points[0].outputs] == []  # the build's products are no results
        assert [o.recorded.path for o in man.entry_points[1].outputs] == ["code/f.txt"]
        assert (result.bundle / "outputs" / "run" / "code" / "f.txt").read_text() == "42"
        assert "zzfast" not in {p.name for p in man.packages}
        assert any("the first entry point builds it" in n for n in result.notes), result.notes
        checked = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    assert checked.ok, [(c.name, c.problems) for c in checked.checks]


def test_a_paper_whose_only_run_fails_after_its_build_step_is_no_bundle(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """The build step running is not the paper running: when every entry point after it
    fails, the archive stops, as for any paper none of whose entry points runs."""
    paper = write_tree(tmp_path / "cy", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n", "code/zzfast.pyx": "", "code/zzfast.c": ZZFAST_C,
        "code/setup.py": ZZFAST_SETUP,
        "code/run.py": "import alpha\nfrom zzfast import f\nif __name__ == '__main__':\n    raise SystemExit('needs a cluster')\n",
    })
    with running(built[2]) as url, pytest.raises(InputError) as err:
        archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", offline=True, index_url=f"{url}/simple/",
                                cache_dir=tmp_path / "cache", quiet=True))
    assert "code/run.py: the entry point failed in the rebuilt environment" in str(err.value) and "needs a cluster" in str(err.value)
    assert not (tmp_path / "b").exists()


def test_a_paper_that_runs_longer_than_one_budget_is_run_once(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """Two entry points of 3 s under a budget of 5 s each: together longer than one budget,
    so the paper runs once (a second run would double a long archive), its outputs by the
    default rules, with a note; runs set in reprokit.toml are made all the same."""
    files = {"CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
             "a.py": "import alpha, time\nif __name__ == '__main__':\n    time.sleep(3)\n    open('a.txt', 'w').write('1')\n",
             "b.py": "import time\nif __name__ == '__main__':\n    time.sleep(3)\n    open('b.txt', 'w').write('2')\n"}
    with running(built[2]) as url:
        for name, extra in (("once", {}), ("asked", {"reprokit.toml": "[outputs]\nruns = 2\n"})):
            paper = write_tree(tmp_path / name, {**files, **extra})
            result = archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / f"{name}-b", offline=True, run_timeout=5,
                                             index_url=f"{url}/simple/", cache_dir=tmp_path / "cache", quiet=True))
            man = manifest.read(result.bundle / "reprokit.yaml")
            runs = {o.recorded.path: o.recorded.runs for e in man.entry_points for o in e.outputs}
            said = [n for n in result.notes if "the paper was run once" in n]
            if name == "once":
                assert runs == {"a.txt": 1, "b.txt": 1} and said and "longer than the time budget of one (5 s)" in said[0], result.notes
            else:
                assert runs == {"a.txt": 2, "b.txt": 2} and not said


def test_a_file_an_entry_point_stopped_at_its_budget_would_have_made_is_said_to_be_so(built: tuple[Path, Path, FakeIndex],
                                                                                         tmp_path: Path) -> None:
    """make_data.py runs past its budget; plot.py, after it, lacks the data.csv it reads:
    its failure names the file and the entry point that was stopped before it."""
    paper = write_tree(tmp_path / "p", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "README.md": "```\npython make_data.py\npython plot.py\npython summary.py\n```\n",
        "make_data.py": "import alpha, time\ntime.sleep(60)\nopen('data.csv', 'w').write('1')\n",
        "plot.py": "print(open('data.csv').read())\n", "summary.py": "open('summary.txt', 'w').write('ok')\n",
    })
    with running(built[2]) as url:
        result = archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", offline=True, run_timeout=4,
                                         index_url=f"{url}/simple/", cache_dir=tmp_path / "cache", quiet=True))
    plot = next(n for n in result.notes if n.startswith("plot.py FAILED"))
    assert "data absent: data.csv is not in the paper; make_data.py, run before it, was stopped at the time budget" in plot, plot
    assert result.entry_points == (("make_data.py", "too-long"), ("plot.py", "failed"), ("summary.py", "ran"))
    assert "\nentry points: 1 of 3 ran, 1 too long to rerun here, 1 failed (each is named in a note above)" in render.archived(result)


def test_which_extension_modules_a_setup_py_of_the_paper_builds(tmp_path: Path) -> None:
    """In a package of the paper (hype/graph_dataset.pyx is hype.graph_dataset) or beside
    its code; built already (a .so beside the .pyx), or with no setup.py that compiles
    extensions, there is no build step."""
    setup = "from distutils.core import setup\nfrom Cython.Build import cythonize\nsetup(ext_modules=cythonize(['hype/*.pyx']))\n"
    files = {"setup.py": setup, "hype/__init__.py": "", "hype/graph_dataset.pyx": "def f():\n    return 1\n",
             "hype/done.pyx": "", "hype/done.cpython-311-x86_64-linux-gnu.so": "", "docs/setup.py": "from distutils.core import setup\n",
             "embed.py": "from hype.graph_dataset import f\nfrom hype import done\n", "docs/x.pyx": "", "docs/use.py": "import x\n"}
    paper = write_tree(tmp_path / "p", files)
    scanned = scan(ScanSettings(path=paper, python=RUNNING))
    (build,) = extension_builds(paper, scanned, sorted(files))
    assert (build.entry_point.path, build.entry_point.args, build.modules) == ("setup.py", ("build_ext", "--inplace"), ("hype.graph_dataset",))
    said = unbuilt_extensions(scanned, sorted(files), [build])
    assert set(said) == {"hype.graph_dataset", "x"}
    assert "the first entry point builds it" in said["hype.graph_dataset"] and "no setup.py of the paper builds" in said["x"]


def test_an_output_only_one_run_writes_is_kept_from_that_run(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """Brian's standalone mode builds into a folder named at random on every run: each
    archive-time run writes files the others do not. Each is kept from the run that wrote
    it, recorded as varying, and a rerun that writes yet others still passes."""
    index = built[2]
    paper = write_tree(tmp_path / "standalone", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "run.py": "import os, uuid\nimport alpha\nif __name__ == '__main__':\n    d = 'build_' + uuid.uuid4().hex[:6]\n    os.makedirs(d)\n"
                  "    open(d + '/code.cpp', 'w').write(d)\n    open('result.txt', 'w').write('42')\n",
    })
    result = archive_offline(index, paper, tmp_path)
    outs = [o.recorded for e in manifest.read(result.bundle / "reprokit.yaml").entry_points for o in e.outputs]
    built_files = [o for o in outs if o.path.endswith("/code.cpp")]
    assert len(built_files) == 2 and all(o.varies and not o.stable for o in built_files)
    for o in built_files:  # each kept from the run that wrote it
        assert (result.bundle / "outputs" / "run" / o.path).read_text() == o.path.split("/")[0]
    assert next(o for o in outs if o.path == "result.txt").stable
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    assert report.ok, [p.message for c in report.checks for p in c.problems]


def test_runs_see_the_environment_and_the_paper_at_the_same_paths_every_time(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """Paths enter what papers write (a compiler's include flags in a makefile, a binary, a
    log): every run, at archive time and in validate, sees the environment and the paper
    at the same paths, so such an output is byte-stable and reruns identical."""
    index = built[2]
    paper = write_tree(tmp_path / "paths", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "run.py": "import os, sys\nimport alpha\nif __name__ == '__main__':\n"
                  "    open('makefile', 'w').write('CFLAGS=-I' + sys.prefix + '/include\\nSRC=' + os.getcwd() + '\\n')\n",
    })
    result = archive_offline(index, paper, tmp_path)
    (out,) = [o.recorded for e in manifest.read(result.bundle / "reprokit.yaml").entry_points for o in e.outputs]
    assert out.path == "makefile" and out.stable and not out.varies
    assert (result.bundle / "outputs" / "run" / "makefile").read_text() == "CFLAGS=-I/reprokit/env/include\nSRC=/reprokit/run/paper\n"
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    assert report.ok and [v.status for v in report.verdicts] == ["identical"], [p.message for c in report.checks for p in c.problems]


def test_a_build_tree_a_run_compiles_is_left_out_of_the_record(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """A paper that generates C++ and compiles it at run time (Brian's standalone mode):
    the binary, objects, sources and makefile differ from run to run in ways no scientist
    compares; they are left out of the record with a note, its results are kept."""
    index = built[2]
    paper = write_tree(tmp_path / "standalone", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "run.py": "import os, uuid\nimport alpha\nif __name__ == '__main__':\n    os.makedirs('sim/results', exist_ok=True)\n"
                  "    tag = uuid.uuid4().hex\n    open('sim/main.cpp', 'w').write('// ' + tag)\n    open('sim/makefile', 'w').write(tag)\n"
                  "    open('sim/main', 'wb').write(b'\\x7fELF' + tag.encode())\n    open('sim/results/v.txt', 'w').write('1.5')\n",
    })
    result = archive_offline(index, paper, tmp_path)
    outs = [o.recorded for e in manifest.read(result.bundle / "reprokit.yaml").entry_points for o in e.outputs]
    assert [(o.path, o.stable) for o in outs] == [("sim/results/v.txt", True)]
    assert any(n.startswith("run.py: 3 build product(s) left out of the record") for n in result.notes), result.notes
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    assert report.ok and [v.status for v in report.verdicts] == ["identical"]


def test_an_import_matched_by_a_declared_distributions_files_is_complete(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """``import labellines`` is provided by the declared matplotlib-label-lines, which only
    its files tell: the manifest records that, and the bundle passes its completeness check."""
    index = built[2]
    index.add("zz-label-lines", "0.7", uploaded="2023-06-01T00:00:00Z", module="zzlabellines")
    paper = write_tree(tmp_path / "labels", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "zz-label-lines\n",
        "run.py": "import zzlabellines\nif __name__ == '__main__':\n    open('v.txt', 'w').write(zzlabellines.__version__)\n",
    })
    result = archive_offline(index, paper, tmp_path)
    man = manifest.read(result.bundle / "reprokit.yaml")
    imports = {i.module: i.distribution for i in man.imports}
    assert imports["zzlabellines"] == "zz-label-lines"
    report = validate(ValidateSettings(bundle=result.bundle))
    assert report.ok, [p.message for c in report.checks for p in c.problems]
    # A manifest's word is not enough: the distribution's vendored files must hold the module.
    (result.bundle / "paper" / "more.py").write_text("import zzother\n")
    run_py = result.bundle / "paper" / "run.py"
    run_py.write_text("import more\n" + run_py.read_text())  # reached by the entry point
    claimed = dataclasses.replace(man, imports=(*man.imports, dataclasses.replace(man.imports[0], module="zzother", distribution="zz-label-lines")))
    check = check_completeness(result.bundle, claimed)
    assert not check.ok and [p.message for p in check.problems] == ["imports zzother (no known distribution), which is not locked"]


def test_a_script_runs_from_its_own_folder_as_its_readme_says(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """`cd code && python run.py all`: the script reads a file beside it and imports a
    sibling module, which only works from its own folder."""
    index = built[2]
    paper = write_tree(tmp_path / "own-folder", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "README.md": "# A replication\n\nTo make every figure:\n\n    cd code && python run.py all\n",
        "code/metadata.yaml": "scale: 3\n",
        "code/ode_functions.py": "def rate(x):\n    return 2 * x\n",
        "code/run.py": "import sys\nimport alpha\nfrom ode_functions import rate\n"
                       "scale = int(open('metadata.yaml').read().split(':')[1])\n"
                       "open('figure.txt', 'w').write(f'{sys.argv[1]} {rate(scale)}\\n')\n",
    })
    result = archive_offline(index, paper, tmp_path)
    (ep,) = manifest.read(result.bundle / "reprokit.yaml").entry_points
    assert (ep.path, ep.entry_point.args, ep.source, ep.entry_point.cwd) == ("code/run.py", ("all",), "README.md:5", None)
    assert [o.recorded.path for o in ep.outputs] == ["code/figure.txt"]
    assert (result.bundle / "outputs" / "run" / "code" / "figure.txt").read_text() == "all 6\n"
    assert "(cd paper/code && ../../env/bin/python run.py all)" in (result.bundle / "README.md").read_text()
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok


def test_build_output_folders_are_named_when_left_out_and_kept_when_asked(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    index = built[2]
    paper = write_tree(tmp_path / "with-build", {**PAPER, "build/figure.png": "figure", "dist/data.csv": "a\n1\n"})
    with running(index) as url:
        common = {"python": RUNNING, "offline": True, "index_url": f"{url}/simple/", "cache_dir": tmp_path / "cache", "quiet": True, "record_outputs": False}
        left = archive(ArchiveSettings(paper=paper, output=tmp_path / "b1", **common))  # type: ignore[arg-type]
        (paper / "reprokit.toml").write_text('include = ["build"]\n')
        kept = archive(ArchiveSettings(paper=paper, output=tmp_path / "b2", **common))  # type: ignore[arg-type]
    assert not (left.bundle / "paper" / "build").exists()
    assert 'build/: left out of the bundle (build or tool output); if it is part of the paper, keep it with include = ["build"] in reprokit.toml' in left.notes
    assert (kept.bundle / "paper" / "build" / "figure.png").read_text() == "figure" and not (kept.bundle / "paper" / "dist").exists()


def test_an_entry_point_reprokit_found_that_fails_is_recorded_as_failing(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """A README names two commands; one needs a microphone. The one that runs is the
    record, the other is recorded as failing with its error; listed by the author, or
    alone, a failure stops the archive."""
    index = built[2]
    files = {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "README.md": "Run:\n\n    python figures.py\n    python record.py\n",
        "figures.py": "import alpha\nopen('fig.txt', 'w').write('figure')\n",
        "record.py": "import alpha\nraise OSError('no microphone found')\n",
    }
    with running(index) as url:
        common = {"python": RUNNING, "offline": True, "index_url": f"{url}/simple/", "cache_dir": tmp_path / "cache", "quiet": True}
        result = archive(ArchiveSettings(paper=write_tree(tmp_path / "p1", files), output=tmp_path / "b1", **common))  # type: ignore[arg-type]
        listed = write_tree(tmp_path / "p2", {**files, "reprokit.toml": 'entry-points = ["figures.py", "record.py"]\n'})
        with pytest.raises(InputError, match=r"record.py: the entry point failed in the rebuilt environment \(exited with status 1: OSError: no microphone found \(in record.py, line 2\)\)"):
            archive(ArchiveSettings(paper=listed, output=tmp_path / "b2", **common))  # type: ignore[arg-type]
        alone = write_tree(tmp_path / "p3", {**files, "README.md": "Run:\n\n    python record.py\n"})
        with pytest.raises(InputError, match=r"record.py: the entry point failed"):
            archive(ArchiveSettings(paper=alone, output=tmp_path / "b3", **common))  # type: ignore[arg-type]
    eps = {e.path: e for e in manifest.read(result.bundle / "reprokit.yaml").entry_points}
    assert eps["figures.py"].status == "ran" and [o.recorded.path for o in eps["figures.py"].outputs] == ["fig.txt"]
    assert eps["record.py"].status == "failed" and eps["record.py"].error == "exited with status 1: OSError: no microphone found (in record.py, line 2)"
    assert any(n.startswith("record.py FAILED in the rebuilt environment") for n in result.notes)
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True, report=True))
    assert not report.ok  # the paper does not rerun as a whole: validate says so
    rerun = next(c for c in report.checks if c.name == "rerun")
    assert rerun.details.endswith("1 entry point(s) failed, as they did when the bundle was made")
    assert [(p.path, p.message) for p in rerun.problems] == [
        ("paper/record.py", "failed, as when the bundle was made (exited with status 1: OSError: no microphone found (in record.py, line 2))")]
    assert report.review is not None
    functional = next(b for b in report.review.badges if "Functional" in b.title)
    assert not functional.earned


def test_a_result_the_papers_own_runs_disagree_on_varies_and_is_not_reproduced(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """An unseeded simulation: the archive's two runs already disagree on it, so a rerun
    that differs again is no evidence either way. validate reports it as varying (the
    rerun check passes on what is stable), and Results Reproduced is not earned."""
    index = built[2]
    paper = write_tree(tmp_path / "unseeded", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "run.py": "import json, random\nimport alpha\nif __name__ == '__main__':\n"
                  "    json.dump({'draws': [random.random() for _ in range(10)]}, open('sim.json', 'w'))\n    json.dump({'n': 3}, open('fixed.json', 'w'))\n",
    })
    result = archive_offline(index, paper, tmp_path)
    outs = {o.recorded.path: o.recorded for e in manifest.read(result.bundle / "reprokit.yaml").entry_points for o in e.outputs}
    assert outs["sim.json"].varies and not outs["fixed.json"].varies
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True, report=True))
    rerun = next(c for c in report.checks if c.name == "rerun")
    assert report.ok and rerun.details.startswith("1 recorded outputs match; 1 vary between runs"), rerun.details
    assert report.review is not None
    badge = next(b for b in report.review.badges if b.key == "reproduced")
    assert not badge.earned and badge.reason.startswith("1 output of 2 not reproduced; first: sim.json: varies between runs"), badge.reason
    # The output the runs agreed on is still judged: changed, it fails.
    script = result.bundle / "paper" / "run.py"
    script.chmod(0o644)
    script.write_text(script.read_text().replace("{'n': 3}", "{'n': 4}"))
    resign(result.bundle)
    changed = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    assert not changed.ok and any(p.path == "paper/fixed.json" for c in changed.checks for p in c.problems)


def test_an_output_folder_git_could_not_keep_is_made_before_the_run(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """git keeps no empty folder: a script writing into figures/ fails on a fresh clone.
    The folder is made, recorded, and made again by validate and the bundle's README."""
    index = built[2]
    paper = write_tree(tmp_path / "figs", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "code/plot.py": "import alpha\nif __name__ == '__main__':\n    open('figures/fig1.txt', 'w').write('figure')\n",
    })
    result = archive_offline(index, paper, tmp_path)
    (ep,) = manifest.read(result.bundle / "reprokit.yaml").entry_points
    assert ep.entry_point.mkdirs == ("code/figures",) and [o.recorded.path for o in ep.outputs] == ["code/figures/fig1.txt"]
    assert any(n.startswith("code/plot.py writes into code/figures/, which the paper does not hold") for n in result.notes)
    assert "mkdir -p paper/code/figures && (cd paper/code && ../../env/bin/python plot.py)" in (result.bundle / "README.md").read_text()
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok


def test_relative_paths_as_a_person_types_them(built: tuple[Path, Path, FakeIndex], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`reprokit archive paper/ -o bundle && reprokit validate bundle --rebuild pip --rerun`
    from the folder that holds them: every tool underneath is given absolute paths."""
    index = built[2]
    write_tree(tmp_path / "paper", PAPER)
    monkeypatch.chdir(tmp_path)
    with running(index) as url:
        result = archive(ArchiveSettings(python=RUNNING, paper=Path("paper"), output=Path("bundle"), offline=True, tar=True,
                                         index_url=f"{url}/simple/", cache_dir=tmp_path / "cache", quiet=True))
    assert result.bundle == tmp_path / "bundle"
    assert validate(ValidateSettings(bundle=Path("bundle.tar.gz"), rebuild="pip", rerun=True)).ok
    monkeypatch.chdir(tmp_path / "bundle")  # as the bundle's README says: reprokit validate . …
    assert validate(ValidateSettings(bundle=Path("."), rebuild="pip", rerun=True)).ok


def test_a_time_stamp_in_an_output_passes_every_later_rerun(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """`{"mean_y": …, "generated_at": time.time()}`: the archive's two runs differ in the
    10th digit, a rerun a minute later in the 9th. The value is learned as a time stamp
    (with a note), so the rerun passes and the result beside it is still judged."""
    index = built[2]
    paper = write_tree(tmp_path / "stamped", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "run.py": "import json, time\nimport alpha\nif __name__ == '__main__':\n"
                  "    json.dump({'mean_y': 0.25, 'generated_at': time.time()}, open('summary.json', 'w'))\n",
    })
    result = archive_offline(index, paper, tmp_path)
    (out,) = [o.recorded for e in manifest.read(result.bundle / "reprokit.yaml").entry_points for o in e.outputs]
    assert out.rule.stamps == ("$.generated_at",) and not out.varies
    assert any("summary.json" in n and "$.generated_at holds the time each run wrote it" in n for n in result.notes), result.notes
    time.sleep(2)  # the rerun's clock is further from the record's than the archive's runs were from each other
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    assert report.ok, [(p.path, p.message) for c in report.checks for p in c.problems]
    script = result.bundle / "paper" / "run.py"
    script.chmod(0o644)
    script.write_text(script.read_text().replace("0.25", "0.26"))
    resign(result.bundle)
    changed = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    assert not changed.ok and any("$.mean_y" in p.message for c in changed.checks for p in c.problems)


def test_a_paper_that_is_a_package_runs_its_examples_as_installed(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """setup.py at the top, the package beside it, the scripts that use it in examples/:
    the package is importable from every entry point, at archive time and in a rerun."""
    index = built[2]
    paper = write_tree(tmp_path / "pkgpaper", {
        "CITATION.cff": PAPER["CITATION.cff"],
        "setup.py": "from setuptools import setup, find_packages\nsetup(name='mypkg', packages=find_packages(), install_requires=['alpha'])\n",
        "mypkg/__init__.py": "from mypkg.core import answer\n", "mypkg/core.py": "import alpha\n\ndef answer():\n    return 42\n",
        "examples/run_example.py": "import json\nimport mypkg\nif __name__ == '__main__':\n    json.dump({'answer': mypkg.answer()}, open('out.json', 'w'))\n",
    })
    result = archive_offline(index, paper, tmp_path)
    man = manifest.read(result.bundle / "reprokit.yaml")
    assert man.python_path == (".",)
    assert [o.recorded.path for e in man.entry_points for o in e.outputs] == ["examples/out.json"]
    assert any("paper/. on sys.path" in n for n in result.notes), result.notes
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok


def test_an_entry_point_over_its_time_budget_is_recorded_and_not_passed(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """A simulation longer than the budget is stopped and recorded as too long to rerun
    here; the archive goes on with the others, and does not run it to its budget again
    after mending another (a module only a run asks for). validate does not check it (no
    pass) unless given more time than it had, and then it runs."""
    index = built[2]
    index.add("zzdelta", "2.0", uploaded="2023-06-01T00:00:00Z")
    paper = write_tree(tmp_path / "budget", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "fast.py": "import importlib, json\nimport alpha\nif __name__ == '__main__':\n"
                   "    importlib.import_module(''.join(['zzdel', 'ta']))\n    json.dump({'n': 1}, open('fast.json', 'w'))\n",
        "slow.py": "import time\nimport alpha\nif __name__ == '__main__':\n    time.sleep(6)\n",
    })
    lines: list[str] = []
    with running(index) as url:
        result = archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", offline=True, index_url=f"{url}/simple/",
                                         cache_dir=tmp_path / "cache", progress=lines.append, run_timeout=3))
    assert any(n.startswith("fast.py needs zzdelta at run time") for n in result.notes), result.notes
    assert len([ln for ln in lines if ln.startswith("running slow.py")]) == 1, lines
    man = manifest.read(result.bundle / "reprokit.yaml")
    eps = {e.name: e for e in man.entry_points}
    assert man.run_timeout == 3 and eps["fast"].status == "ran" and eps["slow"].status == "too-long"
    assert eps["slow"].error.startswith("too long to rerun here: stopped at the time budget of 3 s")
    assert any(n.startswith("slow.py is too long to rerun here") for n in result.notes), result.notes
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True))
    rerun_check = next(c for c in report.checks if c.name == "rerun")
    assert not report.ok and rerun_check.ok is None and rerun_check.skipped is not None
    assert rerun_check.skipped.startswith("1 entry point(s) not checked: paper/slow.py: not checked: too long to rerun here")
    longer = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True, run_timeout=30))
    assert longer.ok, [(c.name, c.skipped, c.problems) for c in longer.checks]


def test_a_run_that_compares_nothing_says_so_and_earns_no_reproduced_badge(built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    index = built[2]
    paper = write_tree(tmp_path / "prints", {"CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
                                             "run.py": "import alpha\nif __name__ == '__main__':\n    print(alpha.__version__)\n"})
    result = archive_offline(index, paper, tmp_path)
    report = validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True, report=True))
    rerun_check = next(c for c in report.checks if c.name == "rerun")
    assert report.ok and rerun_check.details.startswith("ran, nothing to compare")
    assert report.review is not None
    badge = next(b for b in report.review.badges if b.key == "reproduced")
    assert not badge.earned and badge.reason.startswith("ran, nothing to compare")


# A build step that runs swig, as SWIG-wrapped packages' setup.py do; the machine has no
# swig, PyPI has a wheel of it (here a stand-in whose `swig` command prints a version).
SWIG_SETUP = """\
import subprocess
from setuptools import setup
from setuptools.command.build_py import build_py

class Wrap(build_py):
    def run(self):
        version = subprocess.check_output(["swig", "-version"]).decode().strip()
        super().run()
        with open(self.build_lib + "/zzswig/wrapped.py", "w") as fh:
            fh.write("SWIG = %r\\n" % version)

setup(name="zzswig", version="1.0", packages=["zzswig"], cmdclass={"build_py": Wrap})
"""


def test_a_build_that_runs_a_command_pypi_ships_gets_its_wheel(tmp_path: Path) -> None:
    """`swig` not found while building an sdist: the swig wheel joins that sdist's build
    tools (vendored), the build runs with its command on PATH, the note says so, and
    validate's rebuild does the same from the bundle alone."""
    from tests.fakeindex import Dist, build_sdist, build_wheel

    index = FakeIndex()
    index.add_build_tools()
    when = "2023-03-01T00:00:00Z"
    index.projects["swig"] = [Dist(*build_wheel("swig", "4.1.0", code={
        "swig.py": "import sys\ndef main():\n    print('SWIG Version 4.1.0')\n",
        "swig-4.1.0.dist-info/entry_points.txt": "[console_scripts]\nswig = swig:main\n"}), when)]
    index.projects["zzswig"] = [Dist(*build_sdist("zzswig", "1.0", code={
        "setup.py": SWIG_SETUP, "PKG-INFO": "Metadata-Version: 2.1\nName: zzswig\nVersion: 1.0\n", "zzswig/__init__.py": ""}), when)]
    paper = write_tree(tmp_path / "swigpaper", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "zzswig\n",
        "run.py": "import json\nfrom zzswig.wrapped import SWIG\nif __name__ == '__main__':\n    json.dump({'swig': SWIG}, open('out.json', 'w'))\n",
    })
    result = archive_offline(index, paper, tmp_path)
    assert any(n.startswith("zzswig: its build needs the command `swig`") for n in result.notes), result.notes
    man = manifest.read(result.bundle / "reprokit.yaml")
    pkg = next(p for p in man.packages if p.name == "zzswig")
    assert pkg.build_undeclared == ("swig",) and "swig==4.1.0" in pkg.build_with
    assert list((result.bundle / "vendor" / "build").glob("swig-4.1.0-*.whl"))
    out = json.loads((result.bundle / "outputs" / "run" / "out.json").read_text())
    assert out == {"swig": "SWIG Version 4.1.0"}
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok


@pytest.mark.parametrize("how", ["subprocess", "distutils"])
def test_a_run_that_runs_a_command_pypi_ships_gets_its_wheel(tmp_path: Path, how: str) -> None:
    """The paper's run itself runs `swig` (PyDSTool's AUTO compiles its continuation code
    at run time), which this machine lacks: the swig wheel joins the paper's environment,
    the run finds its command on PATH, the note says so, and validate does the same from
    the bundle alone. Old distutils says only "command 'swig' failed with exit status 1"."""
    from tests.fakeindex import Dist, build_wheel

    index = FakeIndex()
    index.add_build_tools()
    index.projects["swig"] = [Dist(*build_wheel("swig", "4.1.0", code={
        "swig.py": "import sys\ndef main():\n    print('SWIG Version 4.1.0')\n",
        "swig-4.1.0.dist-info/entry_points.txt": "[console_scripts]\nswig = swig:main\n"}), "2023-03-01T00:00:00Z")]
    call = ("subprocess.check_output(['swig', '-version']).decode().strip()" if how == "subprocess" else
            "subprocess.check_output(['swig', '-version']).decode().strip() if shutil.which('swig') else sys.exit(\"error: command 'swig' failed with exit status 1\")")
    paper = write_tree(tmp_path / "autopaper", {
        "CITATION.cff": PAPER["CITATION.cff"],
        "run.py": f"import json, shutil, subprocess, sys\nif __name__ == '__main__':\n    json.dump({{'swig': {call}}}, open('out.json', 'w'))\n",
    })
    result = archive_offline(index, paper, tmp_path)
    assert any(n.startswith("run.py runs the command `swig`") and "swig added to the lock" in n for n in result.notes), result.notes
    man = manifest.read(result.bundle / "reprokit.yaml")
    assert [(p.name, p.version) for p in man.packages] == [("swig", "4.1.0")]
    assert json.loads((result.bundle / "outputs" / "run" / "out.json").read_text()) == {"swig": "SWIG Version 4.1.0"}
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok


def test_an_import_nothing_provides_in_a_file_no_entry_point_reaches_does_not_stop_the_archive(
        built: tuple[Path, Path, FakeIndex], tmp_path: Path) -> None:
    """An old draft imports a module no index has; the paper's entry point never runs or
    imports it: the archive goes on, and the note names the module and the file."""
    index = built[2]
    paper = write_tree(tmp_path / "drafts", {
        "CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "alpha\n",
        "run.py": "import json\nimport alpha\nif __name__ == '__main__':\n    json.dump({'v': alpha.__version__}, open('out.json', 'w'))\n",
        "old/Test_draft.py": "import zznowhere_module\nprint(zznowhere_module.x)\n",
    })
    result = archive_offline(index, paper, tmp_path)
    assert any(n.startswith("zznowhere_module: no package index provides it, and only files no entry point runs or imports use it "
                            "(old/Test_draft.py)") for n in result.notes), result.notes
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok
