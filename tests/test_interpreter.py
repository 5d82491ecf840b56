"""Which Python a paper needs, where that came from, and where an interpreter is."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from reprokit.nix import nixpkgs
from reprokit.resolve import interpreter
from reprokit.scan import tree
from tests.helpers import RUNNING, notebook, write_tree


def infer(root: Path, date: str = "2018-08-03") -> interpreter.PythonChoice | None:
    return interpreter.infer(root, tree.walk(root, suffixes=None).files, dt.date.fromisoformat(date))


@pytest.mark.parametrize(("files", "version", "source"), [
    ({"code/environment.yml": "name: x\ndependencies:\n  - numpy=1.13\n  - python=3.6.5\n"}, "3.6", "code/environment.yml:4 (python=3.6.5)"),
    ({"poetry.lock": '[metadata]\npython-versions = "^3.10"\n', "code/environment.yml": "dependencies:\n  - python=3.6\n"}, "3.10",
     "poetry.lock (python ^3.10)"),  # a lock file is the most exact statement; ^3.10 at 2018: its oldest
    ({"runtime.txt": "python-3.7.5\n"}, "3.7", "runtime.txt (python-3.7.5)"),
    ({"a.ipynb": json.dumps({"cells": [], "metadata": {"language_info": {"name": "python", "version": "3.5.2"}}, "nbformat": 4, "nbformat_minor": 2})},
     "3.5", "a.ipynb metadata (language_info.version 3.5.2)"),
    # The image the authors' Dockerfile runs the paper in outranks a notebook's metadata.
    ({"Dockerfile": "FROM rocker/tidyverse:4.0.1 AS reproduction\nRUN true\nFROM python:3.7 AS replication\n",
      "a.ipynb": json.dumps({"cells": [], "metadata": {"language_info": {"name": "python", "version": "3.9.1"}}, "nbformat": 4})},
     "3.7", "Dockerfile:3 (FROM python:3.7)"),
    ({"docker/app.Dockerfile": "# build\nfrom --platform=linux/amd64 docker.io/library/python:3.8.12-slim-buster\n"}, "3.8",
     "docker/app.Dockerfile:2 (FROM python:3.8.12-slim-buster)"),
    ({"code/README.md": "It requires at least python 2.7.3, numpy 1.8.0\n"}, "2.7", "code/README.md:1 (python 2.7.3)"),
    # Alternatives listed together: the newest, as it is the likelier to be installable.
    ({"README.md": "Requirements:\n  * Python 2.7 or 3.6\n  * PyTorch 0.4\n"}, "3.6", "README.md:2 (Python 2.7 or 3.6)"),
    ({"README.md": "Tested on Python 3.5/3.6.\n"}, "3.6", "README.md:1 (Python 3.5/3.6)"),
    ({"setup.py": "from setuptools import setup\nsetup(name='x', python_requires='>=3.5')\n"}, "3.7", "setup.py:2 (python >=3.5)"),
    ({"old.py": "print 'hello'\n"}, "2.7", "old.py:1 (Python 2 syntax: Missing parentheses in call to 'print'. Did you mean print(...)?)"),
])
def test_the_paper_says_which_python(tmp_path: Path, files: dict[str, str], version: str, source: str) -> None:
    got = infer(write_tree(tmp_path, files))
    assert got is not None and (got.version, got.source) == (version, source)


def test_a_paper_that_says_nothing_gets_the_pythons_of_its_date(tmp_path: Path) -> None:
    assert infer(write_tree(tmp_path, {"run.py": "import numpy\n", "a.ipynb": notebook("x = 1")})) is None
    assert interpreter.current_at(dt.date(2018, 8, 3))[:2] == ["3.7", "3.6"]
    assert interpreter.current_at(dt.date(2017, 1, 20))[0] == "3.6"


def test_a_2018_paper_gets_a_2018_pin_with_its_python(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"code/environment.yml": "dependencies:\n  - python=3.6.5\n", "code/main.py": "import numpy\n"})
    choice = infer(root)
    assert choice is not None and choice.version == "3.6"
    pin = nixpkgs.pin_embedded(dt.date(2018, 8, 3), nixpkgs.stable_channel(dt.date(2018, 8, 3)), choice.version)
    assert pin.channel == "nixos-18.03" and pin.note == "" and 0 <= pin.days_before < 365
    assert nixpkgs.has_python(nixpkgs.release_of_pin(pin.channel, pin.last_modified), "3.6")


def test_an_interpreter_is_found_or_how_to_get_one_is_said() -> None:
    exe, why = interpreter.find(RUNNING)
    assert exe and why == "" and Path(exe).exists()
    missing, how = interpreter.find("3.2")
    assert missing is None and how.startswith("no Python 3.2 on this machine") and "pyenv install 3.2" in how
    missing, how = interpreter.find("3.99")
    assert missing is None and "uv python install 3.99" in how


def test_ranges_pick_the_newest_release_of_the_date() -> None:
    assert interpreter.from_spec(">=3.6,<3.9", dt.date(2021, 1, 1)) == "3.8"
    assert interpreter.from_spec("^3.10", dt.date(2024, 1, 15)) == "3.12"
    assert interpreter.from_spec("==3.12.*", None) == "3.12"
    assert interpreter.from_spec("~3.8", dt.date(2024, 1, 1)) == "3.8"
    assert interpreter.from_spec("nonsense", None) is None


def test_a_freeze_header_outranks_notebooks_and_readmes(tmp_path: Path) -> None:
    """What the author's own machine wrote at freeze time is the most exact statement
    after lock and environment files."""
    nb = json.dumps({"cells": [], "metadata": {"language_info": {"name": "python", "version": "3.5.2"}}, "nbformat": 4, "nbformat_minor": 2})
    root = write_tree(tmp_path, {"requirements_strict.txt": "# Generated under CPython 3.7.0, on 2018-08-22\nnumpy==1.15.0\n",
                                 "analysis.ipynb": nb, "README.md": "Tested with Python 3.5.\n"})
    got = infer(root)
    assert got is not None and got.version == "3.7" and got.source.startswith("requirements_strict.txt:1 (Generated under CPython 3.7.0")


def test_a_python_this_machine_lacks_gives_way_to_the_nearest_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper says 3.(n-1); this machine has 3.n and 3.(n-3): 3.n, the nearest, is
    chosen, and the note names both. --python is never replaced."""
    from reprokit.resolve import choose_python
    from tests.fakeindex import FakeIndex, running

    major, minor = interpreter.key(RUNNING)
    wanted, other = f"{major}.{minor - 1}", f"{major}.{minor - 3}"
    real_find = interpreter.find
    monkeypatch.setattr(interpreter, "installed", lambda: (other, RUNNING))
    monkeypatch.setattr(interpreter, "find", lambda v: real_find(v) if v == RUNNING else (None, f"no Python {v} on this machine"))
    root = write_tree(tmp_path / "p", {"run.py": "import alpha\n", "requirements.txt": "alpha\n", ".python-version": f"{wanted}.4\n"})
    index = FakeIndex()
    index.add("alpha", "1.0", uploaded="2023-06-01T00:00:00Z")
    files = tree.walk(root, suffixes=None).files
    with running(index) as url:
        choice, _, locked = choose_python(root, files, dt.date(2024, 1, 20), index_url=f"{url}/simple/")
        assert choice.version == RUNNING == locked.python
        assert choice.source == f".python-version ({wanted}.4); Python {wanted} is not on this machine, and {RUNNING} is the nearest installed one"
        forced, _, _ = choose_python(root, files, dt.date(2024, 1, 20), python=wanted, index_url=f"{url}/simple/")
    assert forced.version == wanted and forced.source == "--python"


def test_a_python_standing_in_for_the_papers_takes_packages_of_its_own_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2016 paper for Python 3.(n-1) on a machine with only 3.n, released years later:
    packages of 2016 have no builds for 3.n, so they are locked as of 90 days after its
    release, and the note says so. On its own Python, the paper's date stands."""
    from reprokit.resolve import choose_python
    from tests.fakeindex import FakeIndex, running

    major, minor = interpreter.key(RUNNING)
    wanted = f"{major}.{minor - 1}"
    real_find = interpreter.find
    monkeypatch.setattr(interpreter, "installed", lambda: (RUNNING,))
    monkeypatch.setattr(interpreter, "find", lambda v: real_find(v) if v == RUNNING else (None, f"no Python {v} on this machine"))
    root = write_tree(tmp_path / "p", {"run.py": "import alpha\n", "requirements.txt": "alpha\n", ".python-version": f"{wanted}.4\n"})
    index = FakeIndex()
    index.add("alpha", "1.0", uploaded="2015-06-01T00:00:00Z")
    index.add("alpha", "2.0", uploaded=f"{interpreter.RELEASED[RUNNING] + dt.timedelta(days=30)}T00:00:00Z")
    files = tree.walk(root, suffixes=None).files
    paper_date = dt.date(2016, 1, 20)
    with running(index) as url:
        choice, _, locked = choose_python(root, files, paper_date, index_url=f"{url}/simple/")
        later = interpreter.RELEASED[RUNNING] + dt.timedelta(days=90)
        assert (choice.version, locked.date, {p.name: p.version for p in locked.packages}) == (RUNNING, later.isoformat(), {"alpha": "2.0"})
        assert choice.source.endswith(f"it came out after the paper's date, so packages are as of {later}, 90 days after its release, "
                                      "when they had builds for it"), choice.source
        _, _, own = choose_python(root, files, paper_date, python=RUNNING, index_url=f"{url}/simple/")
    assert own.date == paper_date.isoformat() and {p.name: p.version for p in own.packages} == {"alpha": "1.0"}
