"""The manifest as typed data: documents of formats 1 and 2 read and written back byte for
byte, format 1's defaults, and one-line errors naming the file and the place in it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reprokit import schemas
from reprokit.bundle import manifest
from reprokit.bundle.manifest import Manifest
from reprokit.errors import InputError
from reprokit.outputs.rule import Rule
from reprokit.scan.entrypoints import EntryPoint

GOLDEN = Path(__file__).parent / "golden"
# Written by the dict-based manifest writer this module replaced, from a real bundle's
# manifest with every optional part set: args, cwd (its own folder and "."), folders made
# before a run, a failed entry point, an output kept by sha256 only, the paper's own copy of an output, sdists
# built with build tools, a pin with a note, python_path.
FORMAT_2 = GOLDEN / "reprokit.yaml"
# As reprokit wrote format 1: no Python source, pin note, build tools or python_path;
# entry points with name, kind, path and their outputs by sha256.
FORMAT_1 = GOLDEN / "reprokit-format-1.yaml"


def doc(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("golden", [FORMAT_2, FORMAT_1], ids=["format-2", "format-1"])
def test_a_manifest_reads_and_writes_back_byte_for_byte(golden: Path) -> None:
    man = manifest.read(golden)
    assert manifest.render(man) == golden.read_text(encoding="utf-8")
    assert man.to_dict() == doc(golden)
    assert Manifest.from_dict(man.to_dict()) == man


def test_format_2_reads_into_its_parts() -> None:
    man = manifest.read(FORMAT_2)
    assert (man.format, man.tool_version, man.paper.date, man.paper.authors) == (2, "0.1.0", dt.date(2024, 1, 20), ("Doe, Jo", "The Consortium"))
    assert man.python == manifest.PythonTarget(version="3.11", platform="x86_64-linux", source="--python")
    assert man.nixpkgs is not None and man.nixpkgs.requested == "2024-01-20" and man.nixpkgs.note.startswith("the channel's commit")
    assert man.python_path == ("src",)
    alpha = man.packages[0]
    assert (alpha.provider, alpha.build_with) == ("sdist", ("setuptools==68.0.0", "wheel==0.40.0"))
    assert man.build_tools is not None and [t.name for t in man.build_tools.packages] == ["pip"]
    run, other, record = man.entry_points
    assert run.entry_point == EntryPoint(name="run", kind="script", path="code/run.py", args=("all", "--fast"), cwd="code", mkdirs=("out",))
    assert [(o.recorded.path, o.recorded.kept, o.recorded.rule.kind) for o in run.outputs] == [
        ("out/big.bin", False, "exact"), ("out/fig.png", True, "image"), ("out/v.txt", True, "text")]
    assert run.outputs[2].recorded.set_by == "reprokit.toml" and run.outputs[2].recorded.rule.rel == 1e-3
    assert other.entry_point.cwd is None and other.outputs[0].paper_sha256 is not None
    # "." in the document is the paper's top folder, which EntryPoint spells "".
    assert (record.entry_point.cwd, record.status, record.error, record.outputs) == ("", "failed", "exited with status 1: OSError: no microphone found", ())


def test_format_1_reads_with_the_defaults_of_what_it_lacks() -> None:
    man = manifest.read(FORMAT_1)
    assert man.format == 1 and man.python.source == "" and man.build_tools is None and man.python_path == ()
    assert all(e.source == "" and e.status == "ran" and e.entry_point.args == () and e.entry_point.cwd is None for e in man.entry_points)
    # Outputs recorded by sha256 alone: compared by bytes, their bytes not kept.
    recorded = [o.recorded for e in man.entry_points for o in e.outputs]
    assert recorded and all((r.rule, r.kept, r.stable, r.runs, r.set_by, r.size) == (Rule(kind="exact"), False, True, 1, "default", 0)
                            for r in recorded)


def test_format_1_manifest_written_again_stays_format_1() -> None:
    """A format-1 manifest keeps its format (its verify.py is chosen by it) and writes its
    outputs as format 1 recorded them, whatever the model holds."""
    man = manifest.read(FORMAT_1)
    text = manifest.render(man)
    assert text.startswith("# reprokit manifest: what this bundle holds and how it was made. Schema: reprokit manifest format 1.\n")
    outputs = [o for e in YAML(typ="safe").load(text)["entry_points"] for o in e["outputs"]]
    assert outputs and all(set(o) == {"path", "sha256"} for o in outputs)


def test_to_dict_writes_optional_parts_only_when_set() -> None:
    man = manifest.read(FORMAT_2)
    bare = dataclasses.replace(man, nixpkgs=None, build_tools=None, python_path=(), entry_points=(
        manifest.RecordedEntryPoint(entry_point=EntryPoint(name="run", kind="script", path="run.py")),))
    data = bare.to_dict()
    assert "nixpkgs" not in data and "build_tools" not in data and "python_path" not in data
    assert data["entry_points"] == [{"name": "run", "kind": "script", "path": "run.py", "outputs": []}]
    assert Manifest.from_dict(data) == bare


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "reprokit.yaml"
    path.write_text(schemas.dump(data, "edited"), encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "place"), [
    (lambda d: d["entry_points"][0]["outputs"][1].update(sha256="xyz"), "does not match manifest.schema.json at entry_points/0/outputs/1/sha256: "),
    (lambda d: d["packages"][0].update(provider="conda"), "does not match manifest.schema.json at packages/0/provider: "),
    (lambda d: d.pop("paper_files"), "does not match manifest.schema.json at (top): 'paper_files' is a required property"),
    (lambda d: d.update(reprokit_manifest=3), "does not match manifest.schema.json at reprokit_manifest: "),
    (lambda d: d["paper"].update(date="2024-02-30"), "paper/date: '2024-02-30' is not a date"),
    (lambda d: d["entry_points"][1]["outputs"][0].update(rel=float("inf")), "entry_points/1/outputs/0: output 'o.csv': rel must be a number"),
])
def test_a_manifest_that_does_not_fit_is_one_line_naming_the_file_and_place(tmp_path: Path, edit: Any, place: str) -> None:
    data = doc(FORMAT_2)
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(InputError) as caught:
        manifest.read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {place}") and "\n" not in message


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reprokit.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"reprokit.yaml: does not match manifest.schema.json at \(top\): .* is not of type 'object'$"):
        manifest.read(path)


def test_render_refuses_a_manifest_the_schema_does_not_allow() -> None:
    man = manifest.read(FORMAT_2)
    bad = dataclasses.replace(man, paper=dataclasses.replace(man.paper, name="has spaces"))
    with pytest.raises(InputError, match=r"^reprokit.yaml: does not match manifest.schema.json at paper/name: "):
        manifest.render(bad)


def test_validate_reports_a_manifest_that_does_not_fit_as_a_problem_of_reprokit_yaml(tmp_path: Path) -> None:
    from reprokit.bundle.integrity import check_integrity
    from reprokit.bundle.pack import sums

    b = tmp_path / "b"
    b.mkdir()
    data = doc(FORMAT_2)
    data["paper"]["date"] = "2024-13-01"
    shutil.copyfile(write(tmp_path, data), b / "reprokit.yaml")
    (b / "SHA256SUMS").write_text(sums(b), encoding="utf-8")
    problems = {(p.path, p.message) for p in check_integrity(b).problems}
    assert ("reprokit.yaml", "paper/date: '2024-13-01' is not a date") in problems


# What a manifest's paper_files may hold: paths the fast reading takes (plain, with
# spaces), and paths it must leave to the YAML parser (quoted by the writer because YAML
# would read them as a number, a date, a boolean or null, or holding ': ' or a non-ASCII
# letter).
AWKWARD_PATHS = ["README.md", "data/raw data.csv", "Figure 1 (a).png", "1.0", "2020-01-01", "true", "null", "~", "0x1F", "yes",
                 "a: b.txt", "#notes.md", "- dash.py", "über/ß.py", "x'y\".txt", ".inf", "=", "<<"]


def _with_paper_files(paths: list[str]) -> Manifest:
    man = manifest.read(FORMAT_2)
    return dataclasses.replace(man, paper_files=tuple(manifest.PaperFile(path=p, sha256=hashlib.sha256(p.encode()).hexdigest()) for p in paths))


@pytest.mark.parametrize("paths", [AWKWARD_PATHS[:3], *([p] for p in AWKWARD_PATHS[3:]), AWKWARD_PATHS],
                         ids=["plain", *AWKWARD_PATHS[3:], "all"])
def test_a_manifest_reads_the_same_as_the_yaml_parser_reads_it_whatever_its_paths(paths: list[str]) -> None:
    text = manifest.render(_with_paper_files(paths))
    assert text.endswith(f"  sha256: {hashlib.sha256(paths[-1].encode()).hexdigest()}\n")
    assert manifest.parse(text, "reprokit.yaml") == schemas.parse_yaml(text, "reprokit.yaml")
    if paths == AWKWARD_PATHS[:3]:  # what reprokit writes for such paths is what is read fast
        assert manifest._PAPER_FILES.search(text)
    assert [f.path for f in Manifest.from_dict(manifest.parse(text, "reprokit.yaml")).paper_files] == paths


@pytest.mark.parametrize("edit", [
    lambda t: t + "# a comment after the last file\n",
    lambda t: t + "extra: 1\n",
    lambda t: t.replace("\n- path: README.md\n", "\n# between\n- path: README.md\n"),
    lambda t: t.replace("paper:\n", "paper:\n  anchor: &a 1\n"),
    lambda t: "%YAML 1.1\n---\n" + t,
    lambda t: t.replace("  title: ", '  title: "a\npaper_files: []\n', 1).rstrip("\n") + '"\n',
    lambda t: t.replace("- path: README.md\n", "- path: 2020-01-01\n"),
    lambda t: t.replace("- path: README.md\n", "- path: 1.5\n"),
], ids=["comment-after", "key-after", "comment-between", "anchor", "yaml-1.1", "block-inside-a-quoted-title", "a-plain-date", "a-plain-number"])
def test_a_manifest_not_shaped_as_reprokit_writes_it_is_read_by_the_yaml_parser(edit: Any) -> None:
    text = edit(manifest.render(_with_paper_files(["README.md", "data/a.csv", "yes"])))
    try:
        want: Any = schemas.parse_yaml(text, "reprokit.yaml")
    except InputError as exc:
        want = str(exc)
    try:
        got: Any = manifest.parse(text, "reprokit.yaml")
    except InputError as exc:
        got = str(exc)
    assert got == want


def test_a_manifest_with_more_paper_files_than_its_bound_is_refused_at_the_same_line(monkeypatch: pytest.MonkeyPatch) -> None:
    text = manifest.render(_with_paper_files([f"data/x{i}.csv" for i in range(200)]))
    monkeypatch.setattr(schemas, "MAX_NODES", len(text.splitlines()) - 10)
    with pytest.raises(InputError) as slow:
        schemas.parse_yaml(text, "reprokit.yaml")
    with pytest.raises(InputError) as fast:
        manifest.parse(text, "reprokit.yaml")
    assert str(fast.value) == str(slow.value)
    assert f"reprokit.yaml:{len(text.splitlines()) - 9}: more than" in str(fast.value)
