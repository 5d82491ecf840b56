"""A run that fails inside a distribution whose release series came out weeks before the
paper's date is run again with the series before it, the one the paper most likely ran
with (numpy 1.12's float indices, matplotlib 3.1's 3D set_aspect). The bundle keeps what
ran, with a note; a series that does not help is taken back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reprokit.archive import ArchiveResult, ArchiveSettings, archive
from reprokit.archive.record import library_failure
from reprokit.bundle import manifest
from reprokit.resolve import pypi
from reprokit.resolve.earlier import RECENT_DAYS, earlier_series, says_removed
from reprokit.validate import ValidateSettings, validate
from tests.fakeindex import FakeIndex, build_wheel, running
from tests.helpers import PAPER, RUNNING, write_tree

# The test paper's date (its CITATION.cff): 2024-01-20.
OLD, RECENT, LONG_AGO = "2023-03-01T00:00:00Z", "2024-01-05T00:00:00Z", "2022-01-01T00:00:00Z"

# zzplot 2.0 no longer draws without an aspect; 1.4 did. 2.0 came out 15 days before the paper.
PLOT_1 = "def draw(x):\n    return x * 2\n"
PLOT_2 = "def draw(x, aspect=None):\n    if aspect is None:\n        raise NotImplementedError('draw() needs an aspect since 2.0')\n    return x * 2\n"
RUN = "import zzplot\nif __name__ == '__main__':\n    open('figure.txt', 'w').write(str(zzplot.draw(21)))\n"


def _index(second_uploaded: str, second: str = PLOT_2, first: str = PLOT_1) -> FakeIndex:
    index = FakeIndex()
    index.add_build_tools()
    index.add_file("zzplot", *build_wheel("zzplot", "1.4", code={"zzplot/__init__.py": first}), uploaded=OLD)
    index.add_file("zzplot", *build_wheel("zzplot", "2.0", code={"zzplot/__init__.py": second}), uploaded=second_uploaded)
    return index


def _archive(index: FakeIndex, paper: Path, tmp_path: Path) -> ArchiveResult:
    with running(index) as url:
        return archive(ArchiveSettings(python=RUNNING, paper=paper, output=tmp_path / "b", offline=True, index_url=f"{url}/simple/",
                                       cache_dir=tmp_path / "cache", quiet=True))


def _locked(result: ArchiveResult, name: str) -> str:
    return next(p.version for p in manifest.read(result.bundle / "reprokit.yaml").packages if p.name == name)


def test_a_run_failing_inside_a_series_weeks_older_than_the_paper_runs_with_the_series_before(tmp_path: Path) -> None:
    paper = write_tree(tmp_path / "p", {"CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "zzplot\n", "run.py": RUN})
    result = _archive(_index(RECENT), paper, tmp_path)
    assert _locked(result, "zzplot") == "1.4"
    assert (result.bundle / "outputs" / "run" / "figure.txt").read_text() == "42"
    assert any(n.startswith("run.py failed inside zzplot 2.0, whose series 2.0 came out 15 days before the paper's date, and runs "
                            "with the series before it") and "zzplot 1.4 is locked instead" in n for n in result.notes), result.notes
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok


def test_an_error_saying_the_api_was_removed_steps_back_however_old_the_series(tmp_path: Path) -> None:
    """numpy 1.24 took out np.float years before a paper's last commit, but the paper's code
    is older than its date: an error that says the API was removed (deprecated, release
    notes) is a later release's whatever its series' age."""
    removed = ("def __getattr__(name):\n    if name == 'draw':\n"
               "        raise AttributeError('`zzplot.draw` was a deprecated alias, removed in 2.0: see the release notes')\n"
               "    raise AttributeError(name)\n")
    index = FakeIndex()
    index.add_build_tools()
    index.add_file("zzplot", *build_wheel("zzplot", "1.4", code={"zzplot/__init__.py": PLOT_1}), uploaded="2021-06-01T00:00:00Z")
    index.add_file("zzplot", *build_wheel("zzplot", "2.0", code={"zzplot/__init__.py": removed}), uploaded=LONG_AGO)
    paper = write_tree(tmp_path / "p", {"CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "zzplot\n", "run.py": RUN})
    result = _archive(index, paper, tmp_path)
    assert _locked(result, "zzplot") == "1.4"
    assert any(n.startswith("run.py failed inside zzplot 2.0, with an error saying what it used was removed, and runs with the series "
                            "before it") for n in result.notes), result.notes


@pytest.mark.parametrize("case", ["old-series", "pinned"])
def test_a_failure_inside_a_series_the_paper_chose_stays_a_failure(tmp_path: Path, case: str) -> None:
    """A series out long before the paper, or one the paper pins, is the paper's own: its
    failure is the paper's, and the archive stops on it as on any."""
    index = _index(LONG_AGO if case == "old-series" else RECENT)
    if case == "old-series":  # 1.4 then came out after 2.0, as a fix of the old series
        index = FakeIndex()
        index.add_build_tools()
        index.add_file("zzplot", *build_wheel("zzplot", "1.4", code={"zzplot/__init__.py": PLOT_1}), uploaded="2021-06-01T00:00:00Z")
        index.add_file("zzplot", *build_wheel("zzplot", "2.0", code={"zzplot/__init__.py": PLOT_2}), uploaded=LONG_AGO)
    paper = write_tree(tmp_path / "p", {"CITATION.cff": PAPER["CITATION.cff"], "run.py": RUN,
                                        "requirements.txt": "zzplot==2.0\n" if case == "pinned" else "zzplot\n"})
    with pytest.raises(Exception, match=r"run.py: the entry point failed in the rebuilt environment \(exited with status 1: "
                                        r"NotImplementedError: draw\(\) needs an aspect since 2.0 \(in zzplot/__init__.py, line 3\)\)"):
        _archive(index, paper, tmp_path)


def test_a_series_before_that_fails_too_is_taken_back(tmp_path: Path) -> None:
    """Both series fail (the error is the paper's, not the release's): the lock's own
    series is kept, the entry point is recorded as failing, and the note says both failed."""
    broken = "def draw(x):\n    raise ValueError('no data')\n"
    index = _index(RECENT, second="def draw(x):\n    raise ValueError('no data either')\n", first=broken)
    paper = write_tree(tmp_path / "p", {"CITATION.cff": PAPER["CITATION.cff"], "requirements.txt": "zzplot\n", "plot.py": RUN,
                                        "tables.py": "if __name__ == '__main__':\n    open('t.txt', 'w').write('1')\n"})
    result = _archive(index, paper, tmp_path)
    assert _locked(result, "zzplot") == "2.0"
    assert "plot.py failed inside zzplot 2.0, and with its series before (1.4) too: zzplot 2.0 is kept" in result.notes, result.notes
    status = {e.path: e.status for e in manifest.read(result.bundle / "reprokit.yaml").entry_points}
    assert status == {"plot.py": "failed", "tables.py": "ran"}, status


def test_which_failures_name_a_distribution(tmp_path: Path) -> None:
    site = tmp_path / "env" / "lib" / "python3.11" / "site-packages"
    write_tree(site / "matplotlib-3.1.1.dist-info", {"RECORD": "matplotlib/__init__.py,,\nmatplotlib/axes/_base.py,sha256=x,1\n",
                                                     "METADATA": "Name: matplotlib\nVersion: 3.1.1\n"})
    env = tmp_path / "env"
    for message, want in [
        ("exited with status 1: NotImplementedError: It is not currently possible (in matplotlib/axes/_base.py, line 1281)", ("matplotlib", "3.1.1")),
        ("exited with status 1: fig3.ipynb: cell 7: NotImplementedError: not possible (in matplotlib/axes/_base.py, line 1281)", ("matplotlib", "3.1.1")),
        ("exited with status 1: ImportError: cannot import name 'cbook' from 'matplotlib.axes' (/x/site-packages/matplotlib/axes/__init__.py)", ("matplotlib", "3.1.1")),
        ("exited with status 1: AttributeError: module 'matplotlib' has no attribute 'mlab' (in plot.py, line 3)", ("matplotlib", "3.1.1")),
        ("exited with status 1: TypeError: bad (in plot.py, line 3)", None),  # the paper's own code
        ("exited with status 1: FileNotFoundError: data.csv (in matplotlib/axes/_base.py, line 9)", None),  # not an API change
        ("crashed: Segmentation fault in matplotlib/axes/_base.py, line 9", None),
    ]:
        assert library_failure(env, message) == want, message


def test_a_failure_in_compiled_code_names_the_distribution_that_built_it(tmp_path: Path) -> None:
    """A Cython frame names the source the module was built from, relative, as the
    distribution was built (numpy 1.12's ``mtrand.pyx``, numpy 2's
    ``numpy/random/mtrand.pyx``): the distribution is the one whose RECORD holds that
    module compiled; a name two distributions have compiled names neither."""
    site = tmp_path / "env" / "lib" / "python3.6" / "site-packages"
    write_tree(site / "numpy-1.12.0.dist-info", {"RECORD": "numpy/__init__.py,,\nnumpy/random/mtrand.cpython-36m-x86_64-linux-gnu.so,,\n",
                                                 "METADATA": "Name: numpy\nVersion: 1.12.0\n"})
    write_tree(site / "scipy-0.19.0.dist-info", {"RECORD": "scipy/special/_ufuncs.cpython-36m-x86_64-linux-gnu.so,,\n",
                                                 "METADATA": "Name: scipy\nVersion: 0.19.0\n"})
    write_tree(site / "otherufuncs-1.0.dist-info", {"RECORD": "otherufuncs/_ufuncs.abi3.so,,\n", "METADATA": "Name: otherufuncs\nVersion: 1.0\n"})
    env = tmp_path / "env"
    float_size = "exited with status 1: TypeError: 'float' object cannot be interpreted as an integer"
    for message, want in [
        (f"{float_size} (in mtrand.pyx, line 1536)", ("numpy", "1.12.0")),
        ("exited with status 1: sims.ipynb: cell 4: TypeError: bad size (in numpy/random/mtrand.pyx, line 1579)", ("numpy", "1.12.0")),
        (f"{float_size} (in scipy/special/_ufuncs.pyx, line 9)", ("scipy", "0.19.0")),
        (f"{float_size} (in _ufuncs.pyx, line 9)", None),  # two distributions built a _ufuncs
        (f"{float_size} (in numpy/random/other.pyx, line 9)", None),
        (f"{float_size} (in mtrand.py, line 9)", None),  # a Python file of that name is not the compiled module
    ]:
        assert library_failure(env, message) == want, message


def test_the_series_before_is_asked_of_the_index_by_release_dates(tmp_path: Path) -> None:
    index = _index(RECENT)
    with running(index) as url:
        client = pypi.Client(f"{url}/simple/")
        found = earlier_series(client, "zzplot", "2.0", dt.date(2024, 1, 20))
        assert found is not None and (found.series, found.before, found.days, found.requirement) == ("2.0", "1.4", 15, "zzplot<2.0")
        late = dt.date(2024, 1, 5) + dt.timedelta(days=RECENT_DAYS + 1)
        assert earlier_series(client, "zzplot", "2.0", late) is None  # out long before that date: the paper's own choice
        assert earlier_series(client, "zzplot", "1.4", dt.date(2023, 3, 20)) is None  # no series before it


@pytest.mark.parametrize(("message", "removed"), [
    ("exited with status 1: NrM.ipynb: cell 3: AttributeError: module 'numpy' has no attribute 'int'. (in numpy/__init__.py, line 305)", True),
    ("exited with status 1: AttributeError: `zzplot.draw` was a deprecated alias, removed in 2.0 (in zzplot/__init__.py, line 3)", True),
    ("exited with status 1: AttributeError: module 'numpy' has no attribute 'foo' (in plot.py, line 3)", False),  # the paper's own typo
    ("exited with status 1: NotImplementedError: It is not currently possible (in matplotlib/axes/_base.py, line 1281)", False),
])
def test_which_errors_say_the_api_was_removed(message: str, removed: bool) -> None:
    assert says_removed(message) is removed
