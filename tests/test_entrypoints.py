from __future__ import annotations

import re
from pathlib import Path

import pytest

from reprokit import entrypoints, tree
from reprokit.errors import InputError
from tests.conftest import notebook, write_tree


def test_detected_notebooks_and_main_scripts(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "a.ipynb": notebook("x = 1"), "run.py": "if __name__ == '__main__':\n    pass\n", "lib.py": "def f(): pass\n",
        "tests/test_x.py": "if __name__ == '__main__':\n    pass\n", "py2.py": 'if __name__ == "__main__":\n    print "x"\n',
    })
    eps = entrypoints.detect(tmp_path, tree.walk(tmp_path).files)
    assert [(e.name, e.kind, e.path) for e in eps] == [("a", "notebook", "a.ipynb"), ("py2", "script", "py2.py"), ("run", "script", "run.py")]


@pytest.mark.parametrize(("cfg", "text"), [("reprokit.toml", 'entry-points = ["lib.py"]\n'), ("pyproject.toml", '[tool.reprokit]\nentry-points = ["lib.py"]\n')])
def test_configured_entry_points_win(tmp_path: Path, cfg: str, text: str) -> None:
    write_tree(tmp_path, {"run.py": "if __name__ == '__main__':\n    pass\n", "lib.py": "print(1)\n", cfg: text})
    assert [e.path for e in entrypoints.detect(tmp_path, tree.walk(tmp_path).files)] == ["lib.py"]


def test_configured_entry_point_must_exist(tmp_path: Path) -> None:
    write_tree(tmp_path, {"reprokit.toml": 'entry-points = ["missing.py"]\n'})
    with pytest.raises(InputError, match=re.escape("reprokit.toml: entry point 'missing.py' is not a file of the paper")):
        entrypoints.detect(tmp_path, [])


def test_candidates_are_top_level_scripts_nothing_imports() -> None:
    files = ["analysis.py", "helpers.py", "lib/__init__.py", "lib/core.py", "setup.py", "test_x.py", "nb.ipynb", "figures.py"]
    assert entrypoints.candidates(files, {"helpers", "lib"}) == ["analysis.py", "figures.py"]
