"""Each comparison on its own: what counts as equivalent, what as different, where it is
reported, and how bad input is named."""

from __future__ import annotations

import base64
import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from reprokit.errors import InputError
from reprokit.outputs import compare_outputs, comparison, renderer
from reprokit.outputs.config import OutputsConfig
from reprokit.outputs.config import parse as parse_config
from reprokit.outputs.learn import SEED_HINT, learn_output
from reprokit.outputs.record import RecordedOutput
from reprokit.outputs.rule import Rule, default_rule, defaults, kind_for
from reprokit.outputs.sanitize import sanitize
from reprokit.outputs.svg import normalise
from tests.outputs_papers import png


def cmp(path: str, a: bytes | str, b: bytes | str | None, rule: Rule | None = None):  # type: ignore[no-untyped-def]
    enc = lambda x: x.encode() if isinstance(x, str) else x  # noqa: E731
    return comparison.compare(path, enc(a), None if b is None else enc(b), rule or default_rule(path))


# -- rules -----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "kind"), [
    ("results/a.json", "json"), ("t.CSV", "table"), ("t.tsv", "table"), ("log.txt", "text"), ("f.png", "image"),
    ("f.jpeg", "image"), ("f.svg", "svg"), ("f.pdf", "pdf"), ("nb.ipynb", "notebook"), ("a.npy", "npy"),
    ("a.h5", "hdf5"), ("a.nc", "netcdf"), ("model.bin", "exact"), ("Makefile", "exact"), (".hidden", "exact"),
])
def test_kind_by_name(path: str, kind: str) -> None:
    assert kind_for(path) == kind


@pytest.mark.parametrize("kind", ["exact", "text", "json", "table", "image", "svg", "pdf", "notebook", "npy", "hdf5", "netcdf"])
def test_rule_round_trips_as_plain_data(kind: str) -> None:
    rule = defaults(kind)  # type: ignore[arg-type]
    data = rule.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert Rule.from_dict(data, "here") == rule


def test_rule_from_dict_names_the_place_and_the_key() -> None:
    with pytest.raises(InputError, match=r"^reprokit.toml: outputs.rules\['x'\]: rel must be a number of at least 0, not -1$"):
        Rule.from_dict({"rule": "json", "rel": -1}, "reprokit.toml: outputs.rules['x']")
    with pytest.raises(InputError, match="unknown key"):
        Rule.from_dict({"rule": "json", "tolerance": 1}, "x")
    with pytest.raises(InputError, match="rule must be one of"):
        Rule.from_dict({"rule": "fuzzy"}, "x")
    with pytest.raises(InputError, match="sanitize must be a list"):
        Rule.from_dict({"rule": "text", "sanitize": ["dates"]}, "x")


def test_config_table_first_matching_glob_wins() -> None:
    cfg = parse_config({"runs": 3, "keep-max-bytes": 1000, "rules": {
        "results/*.json": {"rel": 1e-6}, "**/*.json": {"rule": "exact"}, "fig*.png": {"max-pixels": 0.01}}})
    assert cfg.runs == 3 and cfg.keep_max_bytes == 1000
    a = cfg.author_rule("results/summary.json")
    assert a is not None and a.apply("results/summary.json") == Rule(kind="json", rel=1e-6, abs=1e-12)
    b = cfg.author_rule("deep/er/x.json")
    assert b is not None and b.apply("deep/er/x.json").kind == "exact"
    assert cfg.author_rule("results/sub/x.json") is b  # * stays within a folder
    c = cfg.author_rule("any/where/fig2.png")  # no / in the glob: the file name anywhere
    assert c is not None and c.apply("any/where/fig2.png").max_pixels == 0.01
    assert cfg.author_rule("results/summary.csv") is None


def test_config_errors_name_the_table() -> None:
    with pytest.raises(InputError, match=r"reprokit.toml: outputs.runs must be a whole number from 1 to 10, not 0"):
        parse_config({"runs": 0})
    with pytest.raises(InputError, match=r"outputs.rules\['\*.json'\]: rel must be"):
        parse_config({"rules": {"*.json": {"rel": "tight"}}})
    with pytest.raises(InputError, match="unknown key"):
        parse_config({"rule": {}})


def test_config_read_from_the_paper(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from reprokit.outputs.config import read

    assert read(tmp_path) == OutputsConfig()
    (tmp_path / "reprokit.toml").write_text('entry-points = ["run.py"]\n[outputs]\nheadroom = 5\n[outputs.rules]\n"*.csv" = { rel = 1e-3 }\n')
    cfg = read(tmp_path)
    assert cfg.headroom == 5 and cfg.rules[0].pattern == "*.csv"
    (tmp_path / "reprokit.toml").write_text("[outputs\n")
    with pytest.raises(InputError, match=r"reprokit.toml: invalid TOML"):
        read(tmp_path)


def test_recorded_output_round_trips_and_reads_format_1() -> None:
    rec = RecordedOutput(path="r/a.json", sha256="a" * 64, size=10, kept=True, rule=defaults("json"), set_by="learned",
                         stable=False, runs=2, noise="numbers differ", hint=SEED_HINT)
    assert RecordedOutput.from_dict(json.loads(json.dumps(rec.to_dict())), "m") == rec
    old = RecordedOutput.from_dict({"path": "r/a.json", "sha256": "b" * 64}, "m")
    assert old.rule.kind == "exact" and not old.kept
    with pytest.raises(InputError, match="needs a sha256"):
        RecordedOutput.from_dict({"path": "x", "sha256": "nope"}, "m")


# -- every kind --------------------------------------------------------------------------

def test_identical_bytes_whatever_the_rule() -> None:
    v = cmp("a.bin", b"\x00\x01", b"\x00\x01")
    assert v.status == "identical" and v.ok


def test_missing_rerun_output() -> None:
    v = cmp("a.json", "{}", None)
    assert v.status == "missing" and not v.ok


def test_exact_rule_compares_sha256() -> None:
    v = cmp("model.bin", b"abc", b"abd")
    assert v.status == "different"
    assert "sha256" in v.summary and v.failures[0].where == "file"


def test_text_numbers_within_tolerance_words_exact() -> None:
    assert cmp("r.txt", "loss 0.25000000000001 after 10 epochs\n", "loss 0.25 after 10 epochs\n\n").status == "equivalent"
    v = cmp("r.txt", "loss 0.25 after 10 epochs\n", "loss 0.25 after 11 epochs\n")
    assert v.status == "different" and v.failures[0].where == "line 1, number 2"
    v = cmp("r.txt", "loss 0.25\nok\n", "loss 0.25\nfailed\n")
    assert v.status == "different" and v.failures[0].where == "line 2" and "text differs" in v.failures[0].note
    v = cmp("r.txt", "a\nb\n", "a\n")
    assert v.status == "different" and "2 lines recorded, 1 in the rerun" in v.failures[0].note


def test_text_versions_and_names_are_words_not_numbers() -> None:
    # "3.11.7" and "fig1" are compared as text: a changed version is a change, not noise.
    v = cmp("env.txt", "python 3.11.7 fig1\n", "python 3.11.8 fig1\n", Rule(kind="text", rel=0.5))
    assert v.status == "different"


def test_json_key_order_and_layout_do_not_matter() -> None:
    v = cmp("a.json", '{"a": 1, "b": [1.5, 2]}', '{"b":[1.5,2.0],"a":1}')
    assert v.status == "equivalent"
    assert "layout" in v.notes[0]


def test_json_structure_must_match() -> None:
    v = cmp("a.json", '{"a": {"b c": [1, 2]}, "k": "x"}', '{"a": {"b c": [1, 2, 3]}, "k": "y", "new": true}')
    assert v.status == "different"
    places = [f.where for f in v.failures]
    assert places == ['$.a["b c"]', "$.k", "$.new"]
    v = cmp("a.json", '{"a": 1}', '{"a": "1"}')
    assert v.failures[0].note == "number recorded, string in the rerun"


def test_json_nan_and_zero_crossings() -> None:
    assert cmp("a.json", '{"x": NaN}', '{"x":  NaN}').status == "equivalent"
    assert cmp("a.json", '{"x": 1e-17}', '{"x": -2e-17}').status == "equivalent"  # within abs 1e-12
    assert cmp("a.json", '{"x": 1e-3}', '{"x": -1e-3}').status == "different"


def test_bad_json_is_one_line_naming_file_and_line() -> None:
    v = cmp("r/a.json", '{"a": 1}', '{"a": 1,\n"b": }')
    assert v.status == "different"
    assert v.summary == "could not be compared: r/a.json (rerun):2: not valid JSON (Expecting value, column 6)"


def test_csv_cells_by_row_and_header() -> None:
    a = "name,value\nalpha,1.0\nbeta,2.0\n"
    assert cmp("t.csv", a, "name,value\nalpha,1.0000000000001\nbeta,2\n").status == "equivalent"
    v = cmp("t.csv", a, "name,value\nalpha,1.0\nbeta,2.5\n")
    assert v.failures[0].where == "row 3, column 'value'" and (v.failures[0].recorded, v.failures[0].rerun) == ("2.0", "2.5")
    v = cmp("t.tsv", "1\t2\n3\t4\n", "1\t2\n3\t5\n")
    assert v.failures[0].where == "row 2, column 2"
    v = cmp("t.csv", a, a + "gamma,3\n")
    assert "tables differ in length" in v.failures[0].note


def test_png_decoded_pixels_jpeg_too() -> None:
    from PIL import Image

    a = base64.b64decode(png(0.0))
    im = Image.open(io.BytesIO(a))
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)  # other bytes, same pixels
    v = cmp("f.png", a, buf.getvalue())
    assert v.status == "equivalent" and "same pixels" in v.summary
    small = io.BytesIO()
    im.resize((80, 60)).save(small, format="PNG")
    v = cmp("f.png", a, small.getvalue())
    assert v.status == "different" and v.failures[0].where == "image size"
    v = cmp("f.png", a, b"not a png")
    assert v.status == "different" and "f.png (rerun): not a readable image" in v.summary


def test_svg_normalised_ids_dates_and_coordinates() -> None:
    a = ('<svg><metadata><dc:date>2024-01-01T10:00:00</dc:date></metadata><!-- made 10:00 -->'
         '<defs><path id="m8f3a" d="M 0 0 L 1 1"/></defs><use xlink:href="#m8f3a" x="10.0000000000001"/></svg>')
    b = ('<svg><metadata><dc:date>2024-06-01T11:00:00</dc:date></metadata>'
         '<defs><path id="mc00d" d="M 0 0 L 1 1"/></defs><use xlink:href="#mc00d" x="10"/></svg>')
    assert normalise(a).count("id1") == 2
    v = cmp("f.svg", a, b, Rule(kind="svg", rel=1e-9, render=False))
    assert v.status == "equivalent", v.summary
    v = cmp("f.svg", a, b.replace('x="10"', 'x="12"'), Rule(kind="svg", rel=1e-9, render=False))
    assert v.status == "different" and v.failures[0].where.startswith("line ")


def _pdf(content: bytes, producer: bytes = b"tool 1", compress: bool = True) -> bytes:
    stream = zlib.compress(content) if compress else content
    filt = b"/Filter /FlateDecode " if compress else b""
    objs = [
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n",
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n",
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >> endobj\n",
        b"4 0 obj << " + filt + b"/Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream\nendobj\n",
        b"5 0 obj << /Producer (" + producer + b") /CreationDate (D:20240101" + producer[-2:] + b"0000Z) >> endobj\n",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for o in objs:
        offsets.append(len(body))
        body += o
    xref = b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % off for off in offsets)
    return body + xref + b"trailer << /Size 6 /Root 1 0 R /Info 5 0 R /ID [<" + producer.hex().encode() + b"><00>] >>\nstartxref\n" \
        + str(len(body)).encode() + b"\n%%EOF\n"


DRAWING = b"1 0 0 RG 2 w 10 10 m 190 90 l S\n"


def test_pdf_metadata_stripped_and_numbers_within_the_rule() -> None:
    v = cmp("f.pdf", _pdf(DRAWING, b"tool 11"), _pdf(DRAWING.replace(b"190", b"190.0000000000001"), b"other 22", compress=False))
    assert v.status == "equivalent", v.summary
    assert "stripping" in v.method


def test_pdf_drawing_changed_is_different() -> None:
    v = cmp("f.pdf", _pdf(DRAWING), _pdf(DRAWING.replace(b"190 90", b"190 60")), Rule(kind="pdf", rel=1e-9, render=False))
    assert v.status == "different"
    assert v.failures[0].where.startswith("object 4 stream, line 1")


@pytest.mark.skipif(renderer.pdftoppm() is None, reason="pdftoppm (poppler-utils) is not installed")
def test_pdf_rendered_pages_decide_when_objects_differ_and_say_so() -> None:
    # The same line drawn by other operators: different objects, the same page.
    other = b"1 0 0 RG\n2 w\n10 10 m\n190 90 l\nS\n"
    v = cmp("f.pdf", _pdf(DRAWING), _pdf(other))
    assert v.status == "equivalent", v.summary
    assert "pdftoppm" in v.method
    v = cmp("f.pdf", _pdf(DRAWING), _pdf(DRAWING.replace(b"190 90", b"100 90")))
    assert v.status == "different" and "pdftoppm" in v.method and v.diff_image is not None


def test_bad_pdf_is_named() -> None:
    v = cmp("f.pdf", _pdf(DRAWING), b"<html>")
    assert v.summary == "could not be compared: f.pdf (rerun): not a PDF (no %PDF- header)"


def _npy(a: np.ndarray) -> bytes:  # type: ignore[type-arg]
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_npy_elementwise_with_index() -> None:
    a = np.linspace(0, 1, 12).reshape(3, 4)
    v = cmp("a.npy", _npy(a), _npy(a * (1 + 1e-13)))
    assert v.status == "equivalent" and v.worst_rel is not None and v.worst_rel.where.startswith("array[")
    b = a.copy()
    b[2, 1] *= 1.01
    v = cmp("a.npy", _npy(a), _npy(b))
    assert v.status == "different" and v.failed == 1 and v.failures[0].where == "array[2, 1]"
    v = cmp("a.npy", _npy(a), _npy(a.T))
    assert v.failures[0].where == "array shape"


def test_npz_by_name() -> None:
    def npz(**arrays: np.ndarray) -> bytes:  # type: ignore[type-arg]
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    v = cmp("a.npz", npz(w=np.ones(3), b=np.zeros(2)), npz(w=np.ones(3), b=np.array([0.0, 0.5])))
    assert v.status == "different" and v.failures[0].where == "b[1]"


def test_hdf5_falls_back_to_sha256_without_h5py() -> None:
    pytest.importorskip("numpy")
    from reprokit.outputs import arrays

    if arrays.available("hdf5"):
        pytest.skip("h5py is installed here")
    v = cmp("a.h5", b"\x89HDF\r\n\x1a\n1", b"\x89HDF\r\n\x1a\n2")
    assert v.status == "different" and "h5py is not installed" in v.method


def test_sanitizers() -> None:
    text = ("<Model at 0x7f3a2b1c9d00> saved 2024-02-15 10:11:12.5 to /home/ada/paper/out.csv in 3.2 ms\n"
            "Wall time: 5 s\n")
    assert sanitize(text, ["addresses", "timestamps", "paths", "durations"]) == (
        "<Model at 0xADDRESS> saved TIMESTAMP to /PATH in DURATION\nWall time: DURATION\n")
    assert sanitize("growth 3 mm/day", ["paths"]) == "growth 3 mm/day"


# -- learning ----------------------------------------------------------------------------

def test_learning_a_stable_output_keeps_the_default_rule() -> None:
    rec = learn_output("r/a.json", [b'{"a": 1}', b'{"a": 1}'], OutputsConfig())
    assert rec.stable and rec.set_by == "default" and rec.rule == defaults("json") and rec.kept and not rec.hint


def test_learning_widens_tolerance_to_the_measured_noise_with_headroom() -> None:
    rec = learn_output("r/a.json", [b'{"a": 1.0}', b'{"a": 1.00000002}', b'{"a": 0.99999998}'], OutputsConfig())
    assert rec.set_by == "learned" and not rec.stable
    assert 2e-7 <= rec.rule.rel <= 5e-7  # 4e-8 measured times headroom 10, one digit rounded up
    assert "thread count" in rec.hint
    assert comparison.compare("r/a.json", b'{"a": 1.0}', b'{"a": 1.0000001}', rec.rule).status == "equivalent"
    assert comparison.compare("r/a.json", b'{"a": 1.0}', b'{"a": 1.00001}', rec.rule).status == "different"


def test_learning_does_not_absorb_results_that_change_and_hints_at_a_seed(tmp_path: Path) -> None:
    rec = learn_output("r/a.json", [b'{"acc": 0.91}', b'{"acc": 0.87}'], OutputsConfig())
    assert rec.rule.rel == defaults("json").rel
    assert SEED_HINT in rec.hint and "reported as varying, not judged" in rec.hint and rec.varies
    assert RecordedOutput.from_dict(rec.to_dict(), "reprokit.yaml") == rec
    # A rerun of it that differs again varies; an output the runs agreed on that differs is different.
    steady = learn_output("r/b.json", [b'{"n": 3}', b'{"n": 3}'], OutputsConfig())
    assert not steady.varies
    for folder, acc, n in (("recorded", 0.91, 3), ("rerun", 0.89, 4)):
        (tmp_path / folder / "r").mkdir(parents=True)
        (tmp_path / folder / "r" / "a.json").write_text(f'{{"acc": {acc}}}')
        (tmp_path / folder / "r" / "b.json").write_text(f'{{"n": {n}}}')
    varies, different = compare_outputs([rec, steady], tmp_path / "recorded", tmp_path / "rerun")
    assert (varies.status, different.status) == ("varies", "different") and not varies.ok
    assert varies.summary.startswith("varies between runs, as between the archive's own (numbers differ between runs by up to rel")
    assert "recorded 0.91, rerun 0.89" in varies.summary


def test_learning_takes_a_zero_crossing_for_noise_but_not_two_far_apart_draws() -> None:
    """Relative difference is 1 or more across zero: taken as absolute noise only when it is
    small beside the output's own numbers."""
    crossing = learn_output("r/a.json", [b'{"w": [100.0, 1e-9]}', b'{"w": [100.0, -2e-9]}'], OutputsConfig())
    assert crossing.set_by == "learned" and crossing.rule.abs >= 3e-9 and not crossing.varies
    draws = learn_output("r/b.json", [b'{"mean": 0.1}', b'{"mean": 0.8}'], OutputsConfig())
    assert draws.rule.abs == defaults("json").abs and draws.varies and SEED_HINT in draws.hint
    assert comparison.compare("r/b.json", b'{"mean": 0.1}', b'{"mean": 0.5}', draws.rule).status == "different"


def test_learning_finds_the_sanitizer_a_log_needs() -> None:
    rec = learn_output("run.log", [b"started 2024-02-15 10:11:12\nloss 0.25\n", b"started 2024-02-15 10:11:19\nloss 0.25\n"], OutputsConfig())
    assert rec.rule.sanitize == ("timestamps",)
    assert "time stamps" in rec.hint
    assert comparison.compare("run.log", b"started 2024-02-15 10:11:12\nloss 0.25\n", b"started 2031-01-01 00:00:00\nloss 0.25\n",
                              rec.rule).status == "equivalent"


def test_learning_respects_the_authors_tighter_rule_and_says_so() -> None:
    cfg = parse_config({"rules": {"*.json": {"rel": 0}}})
    rec = learn_output("r/a.json", [b'{"a": 1.0}', b'{"a": 1.0000000001}'], cfg)
    assert rec.rule.rel == 0 and rec.set_by == "reprokit.toml"
    assert "more than reprokit.toml's rel allows" in rec.hint


def test_large_outputs_are_kept_by_hash_only() -> None:
    rec = learn_output("big.json", [b'{"a": 1}' * 10, b'{"a": 1}' * 10], OutputsConfig(keep_max_bytes=20))
    assert not rec.kept and rec.stable
    v = comparison.by_hash("big.json", rec.rule, rec.sha256, b'{"a": 2}' * 10, "kept by sha256 only")
    assert v.status == "different" and "kept by sha256 only" in v.method


def test_output_written_by_some_runs_only() -> None:
    rec = learn_output("r/a.json", [b"{}", None], OutputsConfig())
    assert not rec.stable and "written by only 1 of 2 runs" in rec.hint


def test_learning_finds_random_element_ids_a_plotting_library_writes() -> None:
    """plotly gives every figure a uuid4 div id: the text differs on every run, the figure does not."""
    runs = [f'<div id="{u}" class="plotly-graph-div"></div>\nr2 0.93\n'.encode() for u in
            ("b5ab7daf-e9c8-4f27-81f5-1141c453c707", "3bb84a60-8fd8-4a0e-ad51-f63352f20a78")]
    rec = learn_output("fig.html", runs, OutputsConfig())
    assert rec.rule.sanitize == ("uuids",) and not rec.varies and "random ids" in rec.hint
    assert sanitize(runs[0].decode(), ["uuids"]) == '<div id="UUID" class="plotly-graph-div"></div>\nr2 0.93\n'
    changed = runs[1].replace(b"0.93", b"0.95")
    assert comparison.compare("fig.html", runs[0], changed, rec.rule).status == "different"


def test_build_products_are_compiled_files_and_the_sources_of_their_build_trees() -> None:
    """Brian's standalone build: a binary, objects, generated C++ and a makefile beside the
    results folder; a generated source in a folder with no compiled code stays a result."""
    from reprokit.outputs.build import build_products

    heads = {"sim/main": b"\x7fELF", "sim/main.o": b"\x7fELF", "sim/code_objects/a.o": b"\x7fELF"}
    paths = ["sim/main", "sim/main.o", "sim/main.cpp", "sim/makefile", "sim/make.deps", "sim/code_objects/a.o", "sim/code_objects/a.cpp",
             "sim/code_objects/a.h", "sim/results/_array_v_123", "sim/results/last_run_info.txt", "figures/fig1.png", "codegen/kernel.c",
             "libfoo.so.1", "run.log"]
    got = build_products(paths, lambda p: heads.get(p, b"\x89PNG" if p.endswith(".png") else b"text"))
    assert got == {"sim/main", "sim/main.o", "sim/main.cpp", "sim/makefile", "sim/make.deps", "sim/code_objects/a.o",
                   "sim/code_objects/a.cpp", "sim/code_objects/a.h", "libfoo.so.1"}
