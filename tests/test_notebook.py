from __future__ import annotations

import ast
import json

import pytest

from reprokit.scan import notebook
from tests.helpers import notebook as make_nb


def test_magics_and_shell_lines_are_neutralised_keeping_line_numbers() -> None:
    cells = [
        "%matplotlib inline\nimport numpy as np\n!ls -la\nfiles = !ls\nx = %who_ls\nnp?\n??np.sum\nimport pandas",
        "%%bash\npip install seaborn==0.13\nimport notpython",
        "%%time\nimport scipy",
        "%%writefile helper.py\nimport shouldnotcount",
    ]
    src = notebook.cells_to_source(cells)
    tree = ast.parse(src.text)
    names = sorted(a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names)
    assert names == ["numpy", "pandas", "scipy"]
    numpy_line = next(n.lineno for n in ast.walk(tree) if isinstance(n, ast.Import) and n.names[0].name == "numpy")
    assert src.origins[numpy_line - 1] == (1, 2)
    assert [(i.requirement, i.tool) for i in src.installs] == [("seaborn==0.13", "pip")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%pip install -q umap-learn 'scikit-learn>=1.2'", ["umap-learn", "scikit-learn>=1.2"]),
        ("!pip install --upgrade -i https://example.org/simple torch", ["torch"]),
        ("!{sys.executable} -m pip install xarray netCDF4", ["xarray", "netCDF4"]),
        ("!python3 -m pip install -r requirements.txt tqdm", ["tqdm"]),
        ("%conda install -c conda-forge -y numpy=1.24 conda-forge::cartopy", ["numpy==1.24", "cartopy"]),
        ("!pip install -e . && pip install einops", []),
        ("!uv pip install polars", ["polars"]),
        ("!pip list", []),
    ],
)
def test_install_lines_become_requirements(line: str, expected: list[str]) -> None:
    assert [i.requirement for i in notebook.find_installs(line, 1)] == expected


def test_v3_and_v4_notebooks_are_read() -> None:
    cells, lang = notebook.code_cells(make_nb("import a", "import b", nbformat=3))
    assert cells == ["import a", "import b"]
    cells, lang = notebook.code_cells(make_nb("import c", language="R"))
    assert cells == ["import c"] and lang == "R"


def test_broken_json_raises_value_error() -> None:
    with pytest.raises(ValueError, match="not a readable notebook"):
        notebook.code_cells('{"cells": [')


_CELL = {"cell_type": "code", "source": "import a", "outputs": [], "execution_count": None, "metadata": {}}


@pytest.mark.parametrize(
    "doc",
    [
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": "python3"}, "cells": [dict(_CELL, id="a")]},
        {"nbformat": 4, "nbformat_minor": 2, "metadata": {"language_info": ["python"]}, "cells": [dict(_CELL, source={"x": 1}), _CELL]},
        {"nbformat": 4, "nbformat_minor": 2, "metadata": {"kernelspec": None, "language_info": 3}, "cells": [dict(_CELL, source=["import ", "a"])]},
    ],
)
def test_valid_json_with_odd_field_types_is_still_read(doc: dict[str, object]) -> None:
    # nbformat reads these (its own test files have a string kernelspec); the scan must too.
    cells, lang = notebook.code_cells(json.dumps(doc))
    assert cells == ["import a"] and lang == ""


@pytest.mark.parametrize("doc", ['{"nbformat": "four", "cells": []}', "[1, 2]", "3"])
def test_json_that_is_no_notebook_raises_value_error(doc: str) -> None:
    with pytest.raises(ValueError, match="not a readable notebook"):
        notebook.code_cells(doc)
