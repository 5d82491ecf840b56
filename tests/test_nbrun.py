"""Notebooks run by reprokit's own nbclient, with a kernel from the paper's environment:
the paper may pin any Jupyter stack (nbformat 4.4.0) without meeting reprokit's."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from reprokit.resolve import NOTEBOOK_TOOLING, LockSettings, lock
from reprokit.run._nbrun import _raised_in
from reprokit.scan import ScanSettings, scan
from tests.fakeindex import FakeIndex, running
from tests.helpers import RUNNING, notebook, write_tree


def run_notebook(path: Path, pythonpath: Path | None = None) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    executed = path.with_name("executed.ipynb")
    cmd = [sys.executable, "-m", "reprokit.run._nbrun", path.name, "--python", sys.executable, "--timeout", "120", "--output", str(executed)]
    if pythonpath:
        cmd += ["--pythonpath", str(pythonpath)]
    proc = subprocess.run(cmd, cwd=path.parent, capture_output=True, text=True, timeout=300)
    return proc, json.loads(executed.read_text())


def test_the_kernel_sees_the_papers_pins_and_the_runner_its_own(tmp_path: Path) -> None:
    # The paper's environment pins an nbformat too old for nbclient; the kernel sees it.
    old = write_tree(tmp_path / "paper-site", {"nbformat/__init__.py": "__version__ = '4.4.0'\n"})
    nb = write_tree(tmp_path / "paper", {"analysis.ipynb": notebook("import nbformat\nprint(nbformat.__version__)", "open('out.txt', 'w').write('ok')")})
    proc, executed = run_notebook(nb / "analysis.ipynb", pythonpath=old)
    assert proc.returncode == 0, proc.stderr
    outputs = executed["cells"][0]["outputs"]  # type: ignore[index]
    assert ["".join(o["text"]) for o in outputs] == ["4.4.0\n"]
    assert (nb / "out.txt").read_text() == "ok"  # the kernel runs in the notebook's own folder


def test_a_failing_cell_is_named_and_the_executed_notebook_is_kept(tmp_path: Path) -> None:
    nb = write_tree(tmp_path, {"a.ipynb": notebook("x = 1", "print(x / 0)", "print('never')")})
    proc, executed = run_notebook(nb / "a.ipynb")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "a.ipynb: cell 2: ZeroDivisionError: division by zero"
    assert executed["cells"][1]["outputs"][0]["ename"] == "ZeroDivisionError"  # type: ignore[index]
    assert executed["cells"][2]["outputs"] == []  # type: ignore[index]


def test_a_cell_failing_in_a_module_of_the_paper_names_its_first_line_and_the_file(tmp_path: Path) -> None:
    """An error of several lines (numpy's removed aliases end with a URL) is named by its
    first line, and by the innermost file of the traceback, as a script's would be."""
    nb = write_tree(tmp_path, {"lib/aliases.py": "def get():\n    raise AttributeError(\"module 'lib' has no attribute 'int'.\\nSee https://x.org/notes\")\n",
                               "a.ipynb": notebook("import sys; sys.path.insert(0, 'lib')\nimport aliases", "aliases.get()")})
    proc, _ = run_notebook(nb / "a.ipynb")
    assert proc.stderr.strip().splitlines()[-1] == "a.ipynb: cell 2: AttributeError: module 'lib' has no attribute 'int'. (in lib/aliases.py, line 2)"


def test_a_paper_pinning_its_jupyter_stack_locks_only_a_kernel_beside_it(tmp_path: Path) -> None:
    index = FakeIndex()
    index.add("nbformat", "4.4.0", uploaded="2017-08-01T00:00:00Z")
    index.add("nbformat", "5.9.2", uploaded="2023-08-01T00:00:00Z")
    index.add("ipykernel", "6.25.0", uploaded="2023-07-01T00:00:00Z")
    index.add("nbclient", "0.8.0", ["nbformat>=5.1"], uploaded="2023-06-01T00:00:00Z")
    paper = write_tree(tmp_path / "p", {"a.ipynb": notebook("import nbformat"), "requirements.txt": "nbformat==4.4.0\n"})
    with running(index) as base:
        settings = LockSettings(date=dt.date(2024, 1, 15), python=RUNNING, index_url=f"{base}/simple/", uv_cache=tmp_path / "uv")
        got = lock(scan(ScanSettings(path=paper, python=RUNNING)), settings, root=paper)
    assert NOTEBOOK_TOOLING == ("ipykernel",)
    assert {p.name: p.version for p in got.packages} == {"nbformat": "4.4.0", "ipykernel": "6.25.0"}
    assert next(p for p in got.packages if p.name == "ipykernel").why == "tooling (runs the notebooks)"


def test_the_runner_is_the_reprokit_that_runs_not_another_on_the_path(tmp_path: Path) -> None:
    """A reprokit imported from a source checkout (PYTHONPATH, or its own folder) runs its
    own notebook runner, not an installed reprokit the child would find first."""
    import shutil

    import reprokit

    checkout = tmp_path / "checkout"
    shutil.copytree(Path(reprokit.__file__).parent, checkout / "reprokit", ignore=shutil.ignore_patterns("__pycache__"))
    runner = checkout / "reprokit" / "run" / "_nbrun.py"
    text = runner.read_text()
    runner.write_text(text.replace("from __future__ import annotations\n", "from __future__ import annotations\nopen('runner-was-here', 'w').write(__file__)\n", 1))
    nb = write_tree(tmp_path / "paper", {"a.ipynb": notebook("x = 1")})
    script = ("import sys, subprocess\nsys.path.insert(0, sys.argv[1])\nimport reprokit\nfrom pathlib import Path\n"
              "from reprokit import run as rerun\nfrom reprokit.scan.entrypoints import EntryPoint\n"
              "env = rerun.Env(python=Path(sys.executable), bindir=Path(sys.executable).parent)\n"
              "cmd, cwd = rerun.command(EntryPoint(name='a', kind='notebook', path='a.ipynb'), Path(sys.argv[2]), env, 120)\n"
              "sys.exit(subprocess.run(cmd, cwd=cwd).returncode)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(checkout), str(nb)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (nb / "runner-was-here").read_text().startswith(str(checkout)), "the child ran another reprokit's runner"


IPYTHON_8 = ("\x1b[0;31m---------------------------------------------------------------------------\x1b[0m\n"
             "\x1b[0;31mNotImplementedError\x1b[0m                       Traceback (most recent call last)\n"
             "Cell \x1b[0;32mIn[5], line 3\x1b[0m\n\x1b[1;32m      1\x1b[0m fig \x1b[38;5;241m=\x1b[39m plt\x1b[38;5;241m.\x1b[39mfigure()\n"
             "File \x1b[0;32m/w/paper/helpers/plots.py:12\x1b[0m, in \x1b[0;36mdraw\x1b[0;34m(ax)\x1b[0m\n"
             "File \x1b[0;32m/tmp/env/lib/python3.7/site-packages/matplotlib/axes/_base.py:1281\x1b[0m, in \x1b[0;36m_AxesBase.set_aspect\x1b[0m\n"
             "\x1b[0;31mNotImplementedError\x1b[0m: It is not currently possible to manually set the aspect on 3D axes")
IPYTHON_7 = ("\x1b[0;31mTypeError\x1b[0m                                 Traceback (most recent call last)\n"
             "\x1b[0;32m<ipython-input-4-1c0d>\x1b[0m in \x1b[0;36m<module>\x1b[0;34m\x1b[0m\n"
             "\x1b[0;32m/tmp/env/lib/python3.6/site-packages/numpy/core/fromnumeric.py\x1b[0m in \x1b[0;36mreshape\x1b[0;34m(a, newshape)\x1b[0m\n"
             "\x1b[1;32m    231\x1b[0m     \x1b[0;31m\"\"\"\x1b[0m\n\x1b[0;32m--> 232\x1b[0;31m     \x1b[0;32mreturn\x1b[0m _wrapfunc(a)\x1b[0m\n"
             "\x1b[0;31mTypeError\x1b[0m: 'float' object cannot be interpreted as an integer")


def test_a_failing_cell_names_the_innermost_file_of_its_traceback() -> None:
    assert _raised_in(IPYTHON_8, Path("/w/paper")) == " (in matplotlib/axes/_base.py, line 1281)"
    assert _raised_in(IPYTHON_7, Path("/w/paper")) == " (in numpy/core/fromnumeric.py, line 232)"
    assert _raised_in(IPYTHON_8.split("File \x1b[0;32m/tmp")[0], Path("/w/paper")) == " (in helpers/plots.py, line 12)"
    assert _raised_in("\x1b[0;31mZeroDivisionError\x1b[0m: division by zero\nCell In[2], line 1\n", Path("/w/paper")) == ""


# numpy's compiled code raising, as IPython 9 prints it (a real kernel's output) and as
# IPython 7 did for numpy 1.12 (no line: Cython's source was not at hand).
IPYTHON_CYTHON = ("\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 2\x1b[39m\n"
                  "\x1b[36mFile \x1b[39m\x1b[32mnumpy/random/mtrand.pyx:1579\x1b[39m, in \x1b[36mnumpy.random.mtrand.RandomState.normal\x1b[39m\x1b[34m()\x1b[39m\n"
                  "\x1b[36mFile \x1b[39m\x1b[32mnumpy/random/_common.pyx:654\x1b[39m, in \x1b[36mnumpy.random._common.cont\x1b[39m\x1b[34m()\x1b[39m\n"
                  "\x1b[31mTypeError\x1b[39m: expected a sequence of integers or a single integer, got '1.5'\n")
IPYTHON_7_CYTHON = ("\x1b[0;32m/w/paper/sims.py\x1b[0m in \x1b[0;36mrun\x1b[0;34m(n)\x1b[0m\n\x1b[0;32m---> 12\x1b[0;31m     x = np.random.normal(size=n / 2)\x1b[0m\n"
                    "\x1b[0;32mmtrand.pyx\x1b[0m in \x1b[0;36mmtrand.RandomState.normal\x1b[0;34m()\x1b[0m\n"
                    "\x1b[0;31mTypeError\x1b[0m: 'float' object cannot be interpreted as an integer")


def test_a_failing_cell_names_a_librarys_compiled_source() -> None:
    assert _raised_in(IPYTHON_CYTHON, Path("/w/paper")) == " (in numpy/random/_common.pyx, line 654)"
    assert _raised_in(IPYTHON_7_CYTHON, Path("/w/paper")) == " (in mtrand.pyx)"
