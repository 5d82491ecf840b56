from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reprokit.cli import main
from reprokit.scan import ScanSettings, _imports, import_roots, module_name, reachable_files, scan, scan_files
from tests.helpers import RUNNING, notebook, write_tree


def run(path: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["scan", str(path), "--json", "--no-installed", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_json_envelope_on_a_messy_paper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {
        "requirements.txt": "numpy\nopencv-python-headless\n",
        "src/mypkg/__init__.py": "from .core import f\n",
        "src/mypkg/core.py": "import numpy as np\nimport mypkg.other\n",
        "helpers.py": "import yaml\n",
        "analysis.ipynb": notebook("%pip install seaborn\n%matplotlib inline\nimport seaborn as sns", "import helpers\nimport cv2\nimport sklearn.linear_model"),
        "py2.py": 'import urllib2\nprint "old"\n',
        "broken.ipynb": "{ not json",
        "old.ipynb": notebook("import statsmodels.api", "import os\nprint 'py2'"),
        "r.ipynb": notebook("library(ggplot2)", language="R"),
        "binary.py": b"\x00\x01\x02ELF",
        "latin1.py": "# -*- coding: latin-1 -*-\nimport scipy  # caf\xe9\n".encode("latin-1"),
        "bom.py": b"\xef\xbb\xbfimport pandas\r\nimport os\r\n",
        "empty.py": "",
        "optional.py": "try:\n    import ujson\nexcept ImportError:\n    ujson = None\n",
        "unknown.py": "import my_unpublished_lab_tool\n",
    })
    code, out = run(tmp_path, capsys=capsys)
    assert code == 0
    assert out["reprokit_scan"] == 1 and out["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert out["files"] == {"scanned": 14, "failed": 2}
    by_mod = {i["module"]: i for i in out["imports"]}
    assert by_mod["mypkg.other"]["kind"] == "local" and by_mod["helpers"]["kind"] == "local"
    assert by_mod["os"]["kind"] == "stdlib"
    assert by_mod["cv2"]["distribution"] == "opencv-python-headless"
    assert by_mod["seaborn"]["locations"] == ["analysis.ipynb:cell 1:3"]
    dists = {d["name"]: d for d in out["distributions"]}
    assert set(dists) == {"numpy", "opencv-python-headless", "pyyaml", "seaborn", "scikit-learn", "scipy", "pandas", "ujson", "statsmodels"}
    assert dists["seaborn"]["declared"] and dists["seaborn"]["how"] == "declared"
    assert dists["scikit-learn"]["how"] == "table" and not dists["scikit-learn"]["declared"]
    assert dists["ujson"]["optional"] and not dists["numpy"]["optional"]
    assert out["unresolved"] == ["my_unpublished_lab_tool", "urllib2"]
    assert {"requirement": "seaborn", "source": "analysis.ipynb:cell 1:1 (pip install)", "optional": False, "conda": False} in out["declared"]
    warned = {w["path"] for w in out["warnings"]}
    assert {"py2.py", "broken.ipynb", "binary.py"} <= warned
    py2 = [(w["line"], w["message"].split(" (")[0]) for w in out["warnings"] if w["path"] == "py2.py"]
    assert py2 == [(1, "urllib2 is in the standard library of Python 2.7, not " + out["python"] + ": this is Python 2 code"), (2, "not valid Python " + out["python"])]
    # In a notebook, the bad cell and its line are named (a file line would point into the JSON).
    assert {"path": "r.ipynb", "line": None, "message": "a notebook in R, not Python: skipped"} in out["warnings"]
    old_nb = next(w for w in out["warnings"] if w["path"] == "old.ipynb")
    assert old_nb["line"] is None and old_nb["message"].startswith("cell 2, line 2: not valid Python")


def test_target_python_changes_what_is_stdlib(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"a.py": "import distutils.core\nimport tomllib\n"})
    _, old = run(tmp_path, "--python", "3.9", capsys=capsys)
    _, new = run(tmp_path, "--python", "3.12", capsys=capsys)
    kinds_old = {i["top"]: i["kind"] for i in old["imports"]}
    kinds_new = {i["top"]: i["kind"] for i in new["imports"]}
    assert kinds_old == {"distutils": "stdlib", "tomllib": "third-party"}
    assert kinds_new == {"distutils": "third-party", "tomllib": "stdlib"}
    # tomllib on 3.9 cannot run unless a version check guards it: said, and unresolved.
    assert old["unresolved"] == ["tomllib"]
    assert old["warnings"] == [{"path": "a.py", "line": 2, "message": "tomllib is in the standard library of Python 3.11 to 3.14, not 3.9: "
                                "choose one with --python, unless a version check the scan cannot read guards it"}]
    assert {d["name"] for d in new["distributions"]} == {"standard-distutils"}  # the backport that ships distutils/


def test_single_file_and_scanned_package_own_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"pyproject.toml": '[project]\nname = "green-house"\n', "scripts/run.py": "import green_house\nimport numpy\n"})
    _, out = run(tmp_path, capsys=capsys)
    assert {i["module"]: i["kind"] for i in out["imports"]} == {"green_house": "local", "numpy": "third-party"}
    _, one = run(tmp_path / "scripts" / "run.py", capsys=capsys)
    assert one["files"]["scanned"] == 1
    # A package folder scanned on its own knows its name.
    write_tree(tmp_path, {"greenlib/__init__.py": "from greenlib.io import load\n", "greenlib/io.py": "import numpy\n"})
    _, pkg = run(tmp_path / "greenlib", capsys=capsys)
    assert {i["module"]: i["kind"] for i in pkg["imports"]} == {"greenlib.io": "local", "numpy": "third-party"}
    assert pkg["unresolved"] == []


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing")]) == 2
    assert "missing: no such file or directory" in capsys.readouterr().err
    write_tree(tmp_path, {"a.py": "import not_a_known_dist_zz\n"})
    assert main(["scan", str(tmp_path), "--strict", "--no-installed"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not_a_known_dist_zz" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_:
        main(["scan", str(tmp_path), "--jobs", "0"])
    assert exit_.value.code == 2 and "--jobs: takes a whole number of at least 1, not '0'" in capsys.readouterr().err
    # The table counts in words a person reads.
    assert main(["scan", str(tmp_path), "--no-installed"]) == 0
    assert capsys.readouterr().out.startswith(f"Scanned 1 file under {tmp_path} for Python")


def test_parallel_scan_equals_serial(tmp_path: Path) -> None:
    files = {f"m{i:04d}.py": f"import numpy\nimport mod{i % 7}\nfrom x{i % 3}.y import z\n" for i in range(600)}
    write_tree(tmp_path, files)
    rels = sorted(files)
    serial = scan_files(tmp_path, rels, (3, 11), jobs=1)
    parallel = scan_files(tmp_path, rels, (3, 11), jobs=2)
    assert serial == parallel


def test_a_file_reprokit_fails_on_becomes_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, {"good.py": "import numpy\n", "odd.py": "import scipy\n"})
    real = _imports.extract

    def extract(text: str, **kw: object) -> object:
        if "scipy" in text:
            raise RuntimeError("boom")
        return real(text, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(_imports, "extract", extract)
    result = scan(ScanSettings(path=tmp_path, jobs=1))
    assert [d.name for d in result.distributions] == ["numpy"]
    assert result.files_failed == 1
    (w,) = result.warnings
    assert w.path == "odd.py" and "RuntimeError: boom" in w.message


def test_sample_paper(sample_paper: Path) -> None:
    result = scan(ScanSettings(path=sample_paper))
    assert {d.name for d in result.distributions} == {"matplotlib", "numpy", "pandas", "pyyaml", "scipy"}
    assert not result.unresolved and not result.warnings
    undeclared = {d.name for d in result.distributions if not d.declared}
    assert undeclared == {"scipy"}  # the paper's requirements.txt forgot it


def test_module_entry_point(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": "import requests\n"})
    proc = subprocess.run([sys.executable, "-m", "reprokit", "scan", str(tmp_path)], capture_output=True, text=True, check=True)
    assert "requests" in proc.stdout


def test_modules_inside_packages_do_not_shadow_third_party_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {
        "lib/__init__.py": "", "lib/compat/__init__.py": "", "lib/compat/numpy.py": "import numpy\n",
        "notebooks/helpers.py": "import yaml\n", "notebooks/run.py": "import helpers\nimport lib.compat\n",
    })
    _, out = run(tmp_path, capsys=capsys)
    kinds = {i["module"]: i["kind"] for i in out["imports"]}
    assert kinds == {"numpy": "third-party", "yaml": "third-party", "helpers": "local", "lib.compat": "local"}


def test_imports_only_in_tests_and_docs_are_optional(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {
        "analysis.py": "import numpy\n", "tests/test_analysis.py": "import pytest\nimport numpy\n",
        "docs/conf.py": "import sphinx\n", "conftest.py": "import hypothesis\n",
        "setup.py": "import setuptools\n", "lib/__init__.py": "", "lib/setup_package.py": "import extension_helpers\n",
        "lib/_testing.py": "import xarray\n", "lib/sphinxext/roles.py": "import docutils\n",
        "lib/_build_utils/cy.py": "import Cython\n", "lib/externals/compat.py": "import torch\n",
        "testing.py": "import scipy\n",  # a paper's evaluation script, not a test helper
        "lib/test-examples/run.py": "import pandas\n", "lib/_test_common/x.py": "import polars\n",
        "integration_tests/t.py": "import requests\n", "contests/solve.py": "import networkx\n",
    })
    _, out = run(tmp_path, capsys=capsys)
    assert {d["name"]: d["optional"] for d in out["distributions"]} == {
        "numpy": False, "pytest": True, "sphinx": True, "hypothesis": True, "setuptools": True,
        "extension-helpers": True, "xarray": True, "docutils": True, "cython": True, "torch": True, "scipy": False,
        "pandas": True, "polars": True, "requests": True, "networkx": False,
    }
    assert {d["name"] for d in out["distributions"] if d["lazy"]} == {"torch"}  # vendored code


def test_imports_inside_functions_of_a_package_are_lazy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {
        "mylib/__init__.py": "import numpy\n",
        "mylib/plot.py": "def plot():\n    import matplotlib.pyplot as plt\n    import numpy\n",
        "mylib/io.py": "def read():\n    try:\n        import h5py\n    except ImportError:\n        h5py = None\n",
        "run.py": "def main():\n    import scipy\n\nmain()\n",
        "nb.ipynb": notebook(["def f():\n    import yaml\n"]),
    })
    _, out = run(tmp_path, capsys=capsys)
    dists = {d["name"]: (d["optional"], d["lazy"]) for d in out["distributions"]}
    # A library function's import is an optional feature; a script's or notebook's
    # function is there to be called.
    assert dists == {
        "numpy": (False, False), "matplotlib": (True, True), "h5py": (True, False),
        "scipy": (False, False), "pyyaml": (False, False),
    }
    mods = {i["module"]: i["lazy"] for i in out["imports"]}
    assert mods["matplotlib.pyplot"] is True and mods["numpy"] is False
    assert main(["scan", str(tmp_path), "--no-installed"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line[:1].isalpha()}
    assert rows["matplotlib"].endswith("lazy") and rows["h5py"].endswith("optional") and rows["numpy"].endswith("table")
    # With declared requirements, the table says which ones the paper forgot.
    (tmp_path / "requirements.txt").write_text("numpy\nmatplotlib\n")
    assert main(["scan", str(tmp_path), "--no-installed"]) == 0
    rows = {line.split()[0]: line.split("  ")[-1].strip() for line in capsys.readouterr().out.splitlines() if line[:1].isalpha()}
    assert rows["DISTRIBUTION"] == "NOTES" and rows["numpy"] == "declared" and rows["matplotlib"] == "lazy"
    assert rows["scipy"] == "not declared" and rows["h5py"] == "optional, not declared"


def test_modules_nothing_imports_are_plugins_and_their_imports_lazy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {
        "src/viz/__init__.py": "from . import core\nfrom .backends import base\n",
        "src/viz/core.py": "import numpy\nfrom viz.util import helper\n",
        "src/viz/util.py": "import yaml\n",
        "src/viz/backends/__init__.py": "",
        "src/viz/backends/base.py": "import requests\n",
        "src/viz/backends/wx_backend.py": "import wx\n",  # loaded by name, nothing imports it
        "src/viz/__main__.py": "import click\n",
        "src/viz/tools/__init__.py": "",
        "src/viz/tools/regen.py": "import jinja2\nif __name__ == '__main__':\n    pass\n",
        "src/viz/tests/test_wx.py": "import viz.backends.wx_backend\n",  # tests do not count
    })
    _, out = run(tmp_path, "--no-installed", capsys=capsys)
    dists = {d["name"]: (d["optional"], d["lazy"]) for d in out["distributions"]}
    assert dists == {
        "numpy": (False, False), "pyyaml": (False, False), "requests": (False, False), "click": (False, False),
        "wxpython": (True, True), "jinja2": (True, True),
    }
    result = scan(ScanSettings(path=tmp_path))
    assert result.run_by_name == ("src/viz/tools/regen.py",)


def test_module_names() -> None:
    packages = frozenset({"src/pkg", "src/pkg/sub", "lib"})
    assert module_name("src/pkg/sub/mod.py", packages, "root") == "pkg.sub.mod"
    assert module_name("src/pkg/__init__.py", packages, "root") == "pkg"
    assert module_name("lib/x.py", packages, "root") == "lib.x"
    assert module_name("script.py", packages, "root") == "script"
    assert module_name("a/mod.py", frozenset({"", "a"}), "mypkg") == "mypkg.a.mod"
    assert module_name("my-scripts/run.py", frozenset({"my-scripts"}), "root") is None


def test_another_pythons_standard_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {
        "compat.py": "try:\n    import cPickle as pickle\nexcept ImportError:\n    import pickle\n",
        "old.py": "import numpy\nimport urllib2\n",
        "loader.py": "import imp\n",
        "typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from _typeshed import StrPath\n",
        "nb.ipynb": notebook("import os", "import x\nimport StringIO"),
    })
    code, out = run(tmp_path, "--python", "3.12", capsys=capsys)
    assert code == 0
    kinds = {i["module"]: i["kind"] for i in out["imports"]}
    # A guarded import of Python 2's pickle is a shim: stdlib, nothing to install or resolve.
    assert kinds["cPickle"] == kinds["_typeshed"] == "stdlib"
    assert out["unresolved"] == ["StringIO", "imp", "urllib2", "x"]
    said = {(w["path"], w["line"], w["message"]) for w in out["warnings"]}
    assert said == {
        ("old.py", 2, "urllib2 is in the standard library of Python 2.7, not 3.12: this is Python 2 code"),
        ("loader.py", 1, "imp is in the standard library of Python 2.7 to 3.11, not 3.12: choose one with --python"),
        ("nb.ipynb", None, "cell 2, line 2: StringIO is in the standard library of Python 2.7, not 3.12: this is Python 2 code"),
    }
    code, out = run(tmp_path, "--python", "3.11", capsys=capsys)
    assert "imp" not in out["unresolved"] and {i["module"]: i["kind"] for i in out["imports"]}["imp"] == "stdlib"


def test_version_ranges_are_runs_of_known_versions() -> None:
    from reprokit.scan._stdlib import _version_ranges

    assert _version_ranges(("2.7",)) == "2.7"
    assert _version_ranges(("2.7", "3.5", "3.6", "3.7", "3.9")) == "2.7 to 3.7 and 3.9"
    assert _version_ranges(("2.7", "3.6", "3.7", "3.9")) == "2.7 and 3.6 to 3.7 and 3.9"  # not in 3.5
    assert _version_ranges(("3.10", "3.11", "3.12", "3.13", "3.14")) == "3.10 to 3.14"


def test_a_target_newer_than_the_running_python_is_not_blamed_on_the_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    newer = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
    if newer not in json.loads((Path(__file__).parents[1] / "reprokit/data/stdlib.json").read_text())["versions"]:
        pytest.skip(f"no standard library list for Python {newer}")
    write_tree(tmp_path, {"new.py": "class Box[T]:\n    import json\nimport numpy\n"})
    _, out = run(tmp_path, "--python", newer, capsys=capsys)
    (w,) = out["warnings"]
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert w["message"].startswith(f"Python {running}, which runs reprokit, cannot parse it") and newer in w["message"]
    assert {i["module"] for i in out["imports"]} == {"json", "numpy"}


def test_modules_beside_a_script_or_on_its_sys_path_are_local(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {
        # A package run as `python simulation/ OUT/`: its __main__ imports a sibling.
        "simulation/__init__.py": "", "simulation/__main__.py": "from simulate import main\n", "simulation/simulate.py": "import numpy\n",
        # A script that puts its parent's folder on sys.path ("tools" is also a PyPI name).
        "tools/__init__.py": "", "tools/io.py": "x = 1\n",
        "analysis/run.py": "import os, sys\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))\nimport tools.io\n",
        # Inside a package, in Python 3, a sibling does not shadow a third-party name.
        "lib/__init__.py": "", "lib/yaml.py": "import yaml\n",
        # An extension module the paper compiles in place from Cython ("algorithms" is a PyPI name too).
        "code/algorithms.pyx": "def f(): pass\n", "code/algorithms.cpp": "", "code/run.py": "from algorithms import *\n",
    })
    _, out = run(tmp_path, capsys=capsys)
    kinds = {i["module"]: i["kind"] for i in out["imports"]}
    assert kinds["simulate"] == "local" and kinds["tools.io"] == "local" and kinds["yaml"] == "third-party"
    assert kinds["algorithms"] == "local"


def test_the_standard_library_lists_hold_every_c_module_and_other_platforms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Read from real interpreters: 3.9 knows pyexpat and _csv, every version winreg."""
    from reprokit.scan import stdlib_names

    for version in ("2.7", "3.5", "3.6", "3.9", "3.12", "3.14"):
        names = stdlib_names(version)
        assert {"os", "json", "zlib"} <= names, version
        assert "_sysconfigdata" not in " ".join(names)
    assert {"pyexpat", "_csv", "winreg", "_socket"} <= stdlib_names("3.9")
    write_tree(tmp_path, {"a.py": "import pyexpat, _csv\nimport requests\n"})
    _, out = run(tmp_path, "--python", "3.9", capsys=capsys)
    assert {i["module"]: i["kind"] for i in out["imports"]} == {"pyexpat": "stdlib", "_csv": "stdlib", "requests": "third-party"}


def test_a_namespace_portion_imported_with_from_maps_by_its_full_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"a.py": "from google.cloud import storage\nfrom sphinxcontrib import bibtex\nfrom os import path\n"})
    _, out = run(tmp_path, capsys=capsys)
    dists = {i["module"]: i["distribution"] for i in out["imports"] if i["kind"] == "third-party"}
    assert dists == {"google.cloud.storage": "google-cloud-storage", "sphinxcontrib.bibtex": "sphinxcontrib-bibtex"}


def test_a_syntax_error_far_from_the_imports_is_worth_a_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"a.py": "import json\n\n\ndef f(:\n    pass\n", "b.py": "import json\n"})
    _, out = run(tmp_path, "--python", RUNNING, capsys=capsys)
    assert [(w["path"], w["line"], w["message"].split(":")[0]) for w in out["warnings"]] == [("a.py", 4, f"not valid Python {RUNNING} (invalid syntax)")]
    assert {i["module"] for i in out["imports"]} == {"json"}


def test_files_nested_too_deep_to_read_are_warnings_naming_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """50,000 nested lists in each declaration file and a notebook: one warning each, no
    traceback (tomllib and json recurse; the YAML parser slows with the square of the depth);
    the paper's reprokit.toml is a one-line error."""
    deep = "[" * 50_000 + "]" * 50_000
    write_tree(tmp_path / "p", {"run.py": "import numpy\n", "environment.yml": f"dependencies: {deep}\n",
                                "pyproject.toml": f"[project]\nname = 'x'\ndependencies = {deep}\n",
                                "nb.ipynb": '{"cells": ' + deep + ', "nbformat": 4, "nbformat_minor": 5, "metadata": {}}'})
    assert main(["scan", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "environment.yml:1: nested deeper than 64 levels" in out
    assert "pyproject.toml: invalid TOML: nested deeper than can be read" in out
    assert "nb.ipynb: not a readable notebook" in out
    (tmp_path / "p" / "reprokit.toml").write_text(f"entry-points = {deep}\n")
    assert main(["archive", str(tmp_path / "p"), "-o", str(tmp_path / "b"), "--date", "2024-01-20", "--offline"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "reprokit.toml: invalid TOML (nested deeper than can be read" in err and err.count("\n") == 1


@pytest.mark.parametrize(("files", "roots"), [
    # A package at the root, used from examples/ and from a script inside the package.
    ({"setup.py": "", "mypkg/__init__.py": "", "mypkg/core.py": "", "mypkg/train.py": "from mypkg import core\n",
      "examples/run.py": "import mypkg\n"}, (".",)),
    # A src/ layout, used from notebooks/ and scripts/.
    ({"pyproject.toml": "", "src/r5/__init__.py": "", "notebooks/a.ipynb": "", "scripts/fig.py": "import r5\n"}, ("src",)),
    # Modules beside the script that imports them need nothing; a helper module in lib/.
    ({"code/run.py": "import helper\nimport util\n", "code/helper.py": "", "lib/util.py": ""}, ("lib",)),
])
def test_the_folders_a_paper_needs_on_sys_path(files: dict[str, str], roots: tuple[str, ...]) -> None:
    imports = [(f, t) for f, t in [("mypkg/train.py", "mypkg"), ("examples/run.py", "mypkg"), ("notebooks/a.ipynb", "r5"),
                                   ("scripts/fig.py", "r5"), ("code/run.py", "helper"), ("code/run.py", "util")] if f in files]
    assert import_roots(imports, list(files)) == roots


def test_the_files_an_entry_point_runs_or_imports() -> None:
    rels = ["run.py", "helpers.py", "pkg/__init__.py", "pkg/a.py", "pkg/b.py", "old/scratch.py", "old/util.py", "notes.ipynb"]
    imports = [("run.py", "helpers"), ("helpers.py", "pkg"), ("old/scratch.py", "util"), ("notes.ipynb", "helpers")]
    assert reachable_files(["run.py"], imports, rels) == {"run.py", "helpers.py", "pkg/__init__.py", "pkg/a.py", "pkg/b.py"}
    assert reachable_files(["notes.ipynb", "old/scratch.py"], imports, rels) >= {"notes.ipynb", "helpers.py", "old/scratch.py", "old/util.py"}
