"""Running a paper's entry points as people run them: what they show is kept, long runs
say where they are and stop at their time budget."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from reprokit import run as rerun
from reprokit import sandbox
from reprokit.scan.entrypoints import EntryPoint
from reprokit.scan.project import own_project
from tests.helpers import notebook, write_tree

ENV = rerun.Env(python=Path(sys.executable), bindir=Path(sys.executable).parent)

SHOWS = """\
import matplotlib.pyplot as plt
plt.plot([0, 1, 2], [0, 1, 4])
plt.show()
fig, (a, b) = plt.subplots(1, 2)
a.bar([1, 2], [3, 1])
plt.figure()
plt.scatter([1, 2], [2, 1])
plt.show()
plt.savefig("after_show.png")  # as on a screen: the shown figures are closed, this one is empty
"""


def test_figures_a_script_shows_are_kept_as_outputs(tmp_path: Path) -> None:
    paper = write_tree(tmp_path / "p", {"code/plots.py": SHOWS})
    (r,) = rerun.run_entry_points(paper, ENV, [EntryPoint(name="plots", kind="script", path="code/plots.py")], collect=tmp_path / "got")
    assert r.ok, r.message
    assert sorted(r.outputs) == ["code/after_show.png", "shown/figure-1.png", "shown/figure-2.png", "shown/figure-3.png"]
    from PIL import Image

    sizes = {name: Image.open(tmp_path / "got" / "plots" / "shown" / name).size for name in ("figure-1.png", "figure-2.png")}
    assert sizes["figure-1.png"] == sizes["figure-2.png"] and sizes["figure-1.png"][0] > 100


def test_figures_the_scripts_a_driver_runs_show_are_all_kept(tmp_path: Path) -> None:
    """run.py runs fig.py twice (os.system, as a driver does): each shows a figure, and
    each is kept, numbered on from the one before (not both as figure-1.png)."""
    paper = write_tree(tmp_path / "p", {
        "code/run.py": "import os, sys\nfor n in (2, 5):\n    os.system('%s fig.py %d' % (sys.executable, n))\n",
        "code/fig.py": "import sys\nimport matplotlib.pyplot as plt\nplt.plot(range(int(sys.argv[1])))\nplt.show()\n",
    })
    (r,) = rerun.run_entry_points(paper, ENV, [EntryPoint(name="run", kind="script", path="code/run.py")], collect=tmp_path / "got")
    assert r.ok, r.message
    assert sorted(r.outputs) == ["shown/figure-1.png", "shown/figure-2.png"]
    got = [(tmp_path / "got" / "run" / "shown" / f"figure-{n}.png").read_bytes() for n in (1, 2)]
    assert got[0] != got[1] and all(g.startswith(b"\x89PNG") for g in got)


def test_a_long_run_says_where_it_is_and_stops_at_its_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "TICK", 0.5)
    paper = write_tree(tmp_path / "p", {
        "slow.py": "import time\ntime.sleep(30)\n",
        "analysis.ipynb": notebook("x = 1", "import time\ntime.sleep(30)", "y = 2"),
    })
    lines: list[str] = []
    slow, nb = rerun.run_entry_points(paper, ENV, [EntryPoint(name="slow", kind="script", path="slow.py"),
                                                   EntryPoint(name="analysis", kind="notebook", path="analysis.ipynb")],
                                      timeout=8, progress=lines.append)
    assert slow.timed_out and not slow.ok and slow.message.startswith("too long to rerun here: stopped at the time budget of 8 s")
    assert lines[0] == "running slow.py (1 of 2)"
    assert any(ln.startswith("  slow.py: ") and ln.endswith(" s so far") for ln in lines), lines
    assert "  slow.py: stopped at the time budget of 8 s" in lines
    # The notebook's cell that sleeps is where it is seen; it too is stopped.
    assert any(ln.startswith("  analysis.ipynb: ") and "cell 2 (code cell 2 of 3)" in ln for ln in lines), lines
    assert nb.timed_out


def test_a_run_that_reads_a_file_the_paper_lacks_names_it_as_data_absent(tmp_path: Path) -> None:
    paper = write_tree(tmp_path / "p", {
        "code/load.py": "open('../data/raw.mat', 'rb').read()\n",
        "code/old_pandas.py": "raise FileNotFoundError(\"File b'results.csv' does not exist\")\n",
        "code/author.py": "open('/home/author/flint/e1.mat')\n",
        "code/writes.py": "open('figs/f1.png', 'w').write('x')\n",  # a folder to write into: not data
        "code/present.py": "open('here.txt').read()\nraise OSError(2, 'No such file or directory', 'here.txt')\n",
        "code/here.txt": "x\n",
        "data/README": "the raw data come from CRCNS\n",
        "nb/prep.ipynb": notebook("x = 1", "import numpy\nnumpy.loadtxt('spikes.csv')"),
    })
    eps = [EntryPoint(name=n, kind="script", path=f"code/{n}.py") for n in ("load", "old_pandas", "author", "writes", "present")]
    load, old_pandas, author, writes, present, prep = rerun.run_entry_points(
        paper, ENV, [*eps, EntryPoint(name="prep", kind="notebook", path="nb/prep.ipynb")])
    assert not load.ok and load.message.endswith("; data absent: data/raw.mat is not in the paper"), load.message
    assert old_pandas.message.endswith("; data absent: code/results.csv is not in the paper"), old_pandas.message
    assert author.message.endswith("; data absent: /home/author/flint/e1.mat, a path outside the paper (a file on its author's machine)")
    assert not writes.ok and "data absent" not in writes.message
    assert not present.ok and "data absent" not in present.message
    assert "cell 2" in prep.message and prep.message.endswith("; data absent: nb/spikes.csv is not in the paper"), prep.message


# numba's own check (numba/np/ufunc/parallel.py, _set_num_threads): its pool is
# NUMBA_NUM_THREADS threads, the machine's cores unless that says more.
NUMBA_STANDIN = """\
import os
def set_num_threads(n):
    pool = int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count()))
    if not 1 <= n <= pool:
        raise ValueError("The number of threads must be between 1 and %s" % pool)
"""


def test_a_paper_asking_numba_for_more_threads_than_the_machine_has_gets_them(tmp_path: Path) -> None:
    asked = (os.cpu_count() or 1) * 4 + 3
    paper = write_tree(tmp_path / "p", {
        "numba.py": NUMBA_STANDIN,
        "model.py": f"import numba\nnumba.set_num_threads({asked})\nprint('solved')\n",
        "nb/solve.ipynb": notebook("import sys; sys.path.insert(0, '..')", f"import numba\nnumba.set_num_threads({asked})"),
    })
    lines: list[str] = []
    model, solve = rerun.run_entry_points(paper, ENV, [EntryPoint(name="model", kind="script", path="model.py"),
                                                       EntryPoint(name="solve", kind="notebook", path="nb/solve.ipynb")],
                                          progress=lines.append)
    assert model.ok and solve.ok, (model.message, solve.message)
    assert any(f"numba's thread pool is made {asked} threads" in ln for ln in lines), lines
    assert rerun.threads_asked(paper) == asked
    assert rerun.threads_asked(write_tree(tmp_path / "q", {"a.py": "import numba\n"})) == 0


def test_a_paper_that_is_a_package_reads_its_own_metadata_as_when_installed(tmp_path: Path) -> None:
    """src/mypkg reads its version with importlib.metadata and lists its console script,
    as an installed package does: found, from the paper's pyproject.toml."""
    pyproject = ('[project]\nname = "my-pkg"\nversion = "0.3.1"\n[project.scripts]\nmake-figs = "mypkg.cli:main"\n'
                 '[build-system]\nrequires = ["setuptools"]\n')
    paper = write_tree(tmp_path / "p", {
        "pyproject.toml": pyproject,
        "src/mypkg/__init__.py": "from importlib.metadata import version, entry_points\n__version__ = version('my-pkg')\n",
        "scripts/run.py": "import mypkg\nfrom importlib.metadata import entry_points\n"
                          "eps = entry_points(group='console_scripts')\n"
                          "print(mypkg.__version__, [e.value for e in eps if e.name == 'make-figs'])\n"
                          "open('v.txt', 'w').write(mypkg.__version__)\n",
    })
    (r,) = rerun.run_entry_points(paper, ENV, [EntryPoint(name="run", kind="script", path="scripts/run.py")], python_path=("src",))
    assert r.ok, r.message
    assert sorted(r.outputs) == ["scripts/v.txt"]
    project = own_project(paper)
    assert project is not None and (project.name, project.version, project.dist_info) == ("my-pkg", "0.3.1", "my_pkg-0.3.1.dist-info")
    assert own_project(write_tree(tmp_path / "q", {"setup.py": "from setuptools import setup\nsetup(name='zz', version='1.2')\n"})) is not None
    assert own_project(write_tree(tmp_path / "r", {"run.py": "print(1)\n"})) is None


def test_a_run_that_writes_outside_the_paper_is_told_so(tmp_path: Path) -> None:
    """A download cache two folders above the paper (torchvision's ../../mnist_data) or in
    a system folder: the sandbox lets a run write only in the paper's copy, and the
    failure says that it writes outside the paper, not only 'Read-only file system'."""
    paper = write_tree(tmp_path / "p", {
        "above.py": "import os\nos.makedirs('../../mnist_data')\n",
        "system.py": "open('/usr/reprokit-cache.txt', 'w').write('x')\n",
        "inside.py": "import os\nos.makedirs('data/cache')\nopen('data/cache/x', 'w').write('x')\n",
    })
    above, system, inside = rerun.run_entry_points(paper, ENV, [EntryPoint(name=n, kind="script", path=f"{n}.py")
                                                                for n in ("above", "system", "inside")])
    assert not above.ok and above.message.endswith(
        "; it writes outside the paper (../../mnist_data, above the paper's folder): runs may write only in the paper's folder, "
        "and a bundle holds only the paper, so what it downloads or caches there at run time is not in it"), above.message
    assert not system.ok and "it writes outside the paper (/usr/reprokit-cache.txt)" in system.message, system.message
    assert inside.ok, inside.message
