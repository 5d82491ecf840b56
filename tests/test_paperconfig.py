"""The paper's settings: reprokit.toml, else pyproject's [tool.reprokit]."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprokit.errors import InputError
from reprokit.outputs import config as outputs_config
from reprokit.scan import entrypoints, paperconfig
from tests.helpers import write_tree


def test_reprokit_toml_wins_over_pyproject_and_each_part_reads_its_keys(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "a.py": "print(1)\n", "b.py": "print(2)\n",
        "pyproject.toml": '[tool.reprokit]\nentry-points = ["a.py"]\ninclude = ["build"]\n',
    })
    assert paperconfig.read(tmp_path).path == tmp_path / "pyproject.toml"
    assert [f.entry_point.path for f in entrypoints.configured(tmp_path) or []] == ["a.py"]
    assert entrypoints.kept_folders(tmp_path) == frozenset({"build"})
    (tmp_path / "reprokit.toml").write_text('entry-points = ["b.py"]\n[outputs]\nruns = 3\n')
    assert [f.entry_point.path for f in entrypoints.configured(tmp_path) or []] == ["b.py"]
    assert entrypoints.kept_folders(tmp_path) == frozenset()  # reprokit.toml is the whole say
    assert outputs_config.read(tmp_path).runs == 3


def test_a_broken_settings_file_is_one_line_naming_it(tmp_path: Path) -> None:
    write_tree(tmp_path, {"reprokit.toml": "entry-points = [\n"})
    with pytest.raises(InputError, match=r"reprokit.toml: invalid TOML"):
        paperconfig.read(tmp_path)
    (tmp_path / "reprokit.toml").write_text('include = "build"\n')
    with pytest.raises(InputError, match=r"reprokit.toml: include must be a list of folders of the paper"):
        entrypoints.kept_folders(tmp_path)
    assert paperconfig.read(tmp_path / "nowhere").path is None
