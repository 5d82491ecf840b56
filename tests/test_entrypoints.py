from __future__ import annotations

import re
from pathlib import Path

import pytest

from reprokit.errors import InputError
from reprokit.scan import documents, entrypoints, tree
from tests.helpers import notebook, write_tree


def test_detected_notebooks_and_main_scripts(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "a.ipynb": notebook("x = 1"), "run.py": "if __name__ == '__main__':\n    pass\n", "lib.py": "def f(): pass\n",
        "tests/test_x.py": "if __name__ == '__main__':\n    pass\n", "py2.py": 'if __name__ == "__main__":\n    print "x"\n',
    })
    eps = entrypoints.detect(tmp_path, tree.walk(tmp_path).files).entry_points
    assert [(e.name, e.kind, e.path) for e in eps] == [("py2", "script", "py2.py"), ("run", "script", "run.py"), ("a", "notebook", "a.ipynb")]


def test_notebooks_run_in_the_order_the_readmes_name_them(tmp_path: Path) -> None:
    """"First, run [the preparation](prep/clean%20data.ipynb) ... Next, run `Analysis.ipynb`":
    named notebooks first, in the README's order (a link from its folder, or a name only
    one notebook has), then the others in theirs."""
    write_tree(tmp_path, {
        "README.md": "First, run [the preparation](prep/clean%20data.ipynb) as its README says.\n\n"
                     "Next, run `Analysis.ipynb`, then [tables](./Tables.ipynb).\n",
        "prep/README.md": "Open clean data.ipynb and run all cells.\n",
        "Analysis.ipynb": notebook("x = 1"), "Tables.ipynb": notebook("x = 2"), "Appendix.ipynb": notebook("x = 3"),
        "Extra.ipynb": notebook("x = 4"), "prep/clean data.ipynb": notebook("x = 5"),
    })
    eps = entrypoints.detect(tmp_path, tree.walk(tmp_path, suffixes=None).files).entry_points
    assert [e.path for e in eps] == ["prep/clean data.ipynb", "Analysis.ipynb", "Tables.ipynb", "Appendix.ipynb", "Extra.ipynb"]


@pytest.mark.parametrize(("cfg", "text"), [("reprokit.toml", 'entry-points = ["lib.py"]\n'), ("pyproject.toml", '[tool.reprokit]\nentry-points = ["lib.py"]\n')])
def test_configured_entry_points_win(tmp_path: Path, cfg: str, text: str) -> None:
    write_tree(tmp_path, {"run.py": "if __name__ == '__main__':\n    pass\n", "lib.py": "print(1)\n", cfg: text})
    assert [e.path for e in entrypoints.detect(tmp_path, tree.walk(tmp_path).files).entry_points] == ["lib.py"]


def test_configured_entry_point_must_exist(tmp_path: Path) -> None:
    write_tree(tmp_path, {"reprokit.toml": 'entry-points = ["missing.py"]\n'})
    with pytest.raises(InputError, match=re.escape("reprokit.toml: entry point 'missing.py' is not a file of the paper")):
        entrypoints.detect(tmp_path, [])


def test_candidates_are_top_level_scripts_nothing_imports() -> None:
    files = ["analysis.py", "helpers.py", "lib/__init__.py", "lib/core.py", "setup.py", "test_x.py", "nb.ipynb", "figures.py"]
    assert entrypoints.candidates(files, {"helpers", "lib"}) == ["analysis.py", "figures.py"]


def test_configured_entry_points_take_arguments_and_a_folder(tmp_path: Path) -> None:
    write_tree(tmp_path, {"code/run.py": "print(1)\n", "reprokit.toml": 'entry-points = [{path = "code/run.py", args = "all --seed=0", cwd = "."}]\n'})
    (ep,) = entrypoints.detect(tmp_path, tree.walk(tmp_path, suffixes=None).files).entry_points
    assert (ep.path, ep.args, ep.cwd) == ("code/run.py", ("all", "--seed=0"), ".")


@pytest.mark.parametrize(("text", "message"), [
    ('entry-points = [{path = "run.py", cwd = "nowhere"}]\n', "cwd 'nowhere' is not a folder of the paper"),
    ('entry-points = [{path = "run.py", argv = []}]\n', "unknown key(s) argv"),
    ('entry-points = [{path = "../run.py"}]\n', "entry point '../run.py' is not a file of the paper"),
    ('entry-points = [3]\n', "entry-points holds paths, or tables"),
])
def test_bad_configured_entry_points_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    write_tree(tmp_path, {"run.py": "print(1)\n", "reprokit.toml": text})
    with pytest.raises(InputError, match=re.escape(message)):
        entrypoints.detect(tmp_path, ["run.py", "reprokit.toml"])


README = """# A replication

Install the requirements, then reproduce every figure:

```bash
$ cd code
$ python run.py f1        # one figure
```

To make all of them:

    cd code && python run.py all

The experiment needs the data from OSF:

```
python analysis/ data/raw/results.csv /path/to/output/plots/
```

The simulation needs none: `python simulation/ /path/to/output/plots/`
"""


def test_readme_commands_are_entry_points_run_from_their_folder(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "README.md": README, "code/run.py": "import sys\n", "code/model.py": "x = 1\n",
        "analysis/__main__.py": "import sys\n", "simulation/__main__.py": "import sys\n",
        "code/old.py": "if __name__ == '__main__':\n    pass\n",  # the README's commands win over main guards
        "article/build.py": "if __name__ == '__main__':\n    pass\n",
    })
    found = entrypoints.detect(tmp_path, tree.walk(tmp_path, suffixes=None).files)
    got = [(f.entry_point.path, f.entry_point.args, f.entry_point.cwd, f.source) for f in found.found]
    assert got == [
        ("code/run.py", ("all",), None, "README.md:12"),  # "all" wins over one figure; runs in code/, its own folder
        ("simulation/__main__.py", (f"{documents.OUTPUT_DIR}/",), "", "README.md:20"),  # a placeholder path becomes a folder of the run
    ]
    assert found.notes == ("README.md:17: `analysis/__main__.py` is not run: it reads data/raw/results.csv, which the paper does not hold",)


def test_makefile_recipes_and_notebook_commands(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "Makefile": "figures:\n\tcd src && $(PYTHON) make_figures.py --out ../figs\n\nreport:\n\tjupyter nbconvert --execute notes/report.ipynb\n",
        "src/make_figures.py": "print(1)\n", "notes/report.ipynb": notebook("x = 1"), "other.ipynb": notebook("y = 2"),
    })
    eps = entrypoints.detect(tmp_path, tree.walk(tmp_path, suffixes=None).files).entry_points
    assert [(e.path, e.kind, e.args, e.cwd) for e in eps] == [
        ("src/make_figures.py", "script", ("--out", "../figs"), None),
        ("notes/report.ipynb", "notebook", (), None),
        ("other.ipynb", "notebook", (), None),
    ]


def test_a_readme_command_with_variables_and_placeholders_of_several_words(tmp_path: Path) -> None:
    """`FLAGS=... python experiment.py --dir <UCI Dataset directory> --epochx <Epoch multiplier>`:
    the variables are the command's environment, an option whose value is a placeholder is
    left out (the script's default applies), a placeholder output folder is one of the run."""
    readme = ("To run an experiment:\n\n```\nTHEANO_FLAGS='allow_gc=False,device=gpu' python experiment.py --dir <UCI Dataset directory> "
              "--epochx <Epoch multiplier> --seed 3 --out <output folder>\n```\n")
    write_tree(tmp_path, {"readme.md": readme, "experiment.py": "import argparse\n"})
    (found,) = entrypoints.detect(tmp_path, tree.walk(tmp_path, suffixes=None).files).found
    assert (found.entry_point.path, found.entry_point.args) == ("experiment.py", ("--seed", "3", "--out", f"{documents.OUTPUT_DIR}/"))


ARGPARSE = """import argparse
p = argparse.ArgumentParser()
p.add_argument('--dir', '-d', required=True, help='Name of the UCI Dataset directory. Eg: bostonHousing')
p.add_argument('--model', required=True, choices=['mlp', 'cnn'])
p.add_argument('--name', required=True, help='a name of yours')
p.add_argument('--epochx', '-e', default=500, type=int, help='Multiplier, e.g. 40')
"""


def test_a_placeholder_for_an_option_the_script_requires_takes_the_example_it_gives(tmp_path: Path) -> None:
    """`--dir <UCI Dataset directory>`, where the script's argparse requires --dir: left
    out, the script stops at once ("argument --dir is required"); its help's example
    (`Eg: bostonHousing`), else the first of its choices, is what a reader would type. An
    optional one still takes the script's default; one with no example stays left out."""
    readme = ("```\npython experiment.py --dir <UCI Dataset directory> --model <model> --name <your name> --epochx <Epoch multiplier>\n```\n")
    write_tree(tmp_path, {"readme.md": readme, "experiment.py": ARGPARSE})
    (found,) = entrypoints.detect(tmp_path, tree.walk(tmp_path, suffixes=None).files).found
    assert found.entry_point.args == ("--dir", "bostonHousing", "--model", "mlp")
    assert found.source == "readme.md:2, with --dir bostonHousing, --model mlp (the example experiment.py gives for what it requires)"


def test_a_readme_command_for_a_script_in_a_folder_of_its_own_finds_it_there(tmp_path: Path) -> None:
    """`python train.py` in the top README, where the only train.py is pygcn/train.py (a
    package's script, run from its folder): taken, run from there, and said; a name two
    files share is no command."""
    readme = "Run the demo:\n\n```python train.py```\n\nthen `python plot.py`\n"
    write_tree(tmp_path, {"README.md": readme, "pygcn/__init__.py": "", "pygcn/train.py": "from pygcn.models import GCN\n",
                          "pygcn/models.py": "GCN = 1\n", "a/plot.py": "print(1)\n", "b/plot.py": "print(2)\n"})
    (found,) = entrypoints.detect(tmp_path, tree.walk(tmp_path, suffixes=None).files).found
    assert (found.entry_point.path, found.entry_point.cwd, found.source) == (
        "pygcn/train.py", None, "README.md:3, `train.py` found as pygcn/train.py")


def test_with_nothing_named_to_run_the_scripts_nothing_imports_run_data_makers_first() -> None:
    files = ["figures/exe_figs.py", "figures/sc_figs.py", "simulation/make_fig5_data.py", "simulation/par_fig5.py", "README.md"]
    got = [f.entry_point.path for f in entrypoints.guessed(files, {"sc_figs", "par_fig5"})]
    assert got == ["simulation/make_fig5_data.py", "figures/exe_figs.py"]


def test_a_driver_without_a_main_guard_is_the_entry_point_of_what_it_runs(tmp_path: Path) -> None:
    """code/run.py has no ``if __name__ == "__main__":`` and runs the guarded stippler.py
    with the arguments it needs (``os.system(cmd + " " + "./stippler.py ...")``): run.py
    is what to run, not stippler.py alone without them. A module another file imports is
    no driver, whatever it runs; nor is a script that runs nothing of the paper's."""
    write_tree(tmp_path, {
        "code/run.py": "import os\nimport sys\ncmd = sys.executable\n"
                       "os.system(cmd + \" \" + \"./stippler.py ../data/plant.png --save \\\n           --n_point 20\")\n",
        "code/stippler.py": "import argparse\nif __name__ == '__main__':\n    argparse.ArgumentParser().parse_args()\n",
        "code/helpers.py": "import subprocess\ndef again():\n    subprocess.run(['python', 'report.py'])\n",
        "code/report.py": "import helpers\nif __name__ == '__main__':\n    pass\n",
        "code/tidy.py": "import os\nos.system('rm -f *.png')\n",
    })
    files = tree.walk(tmp_path, suffixes=None).files
    found = entrypoints.detect(tmp_path, files).found
    assert [(f.entry_point.path, f.source) for f in found] == [("code/report.py", 'if __name__ == "__main__"'),
                                                                ("code/run.py", "runs code/stippler.py itself")]


def test_a_script_that_runs_the_others_is_the_one_entry_point(tmp_path: Path) -> None:
    """run_all.py runs simulations.py then plot_figures.py itself (subprocess, os.system):
    it alone runs, not the two again beside it. A script merely named in a comment or a
    message is no run."""
    guard = "if __name__ == '__main__':\n    pass\n"
    write_tree(tmp_path, {
        "code/run_all.py": "import os, subprocess\nif __name__ == '__main__':\n    subprocess.run(['python', 'simulations.py'])\n"
                           "    os.system('python ../tools/plot_figures.py --all')\n",
        "code/simulations.py": guard, "tools/plot_figures.py": guard,
        "code/other.py": "# run after simulations.py\nprint('see report.py')\n" + guard, "report.py": guard,
    })
    files = tree.walk(tmp_path, suffixes=None).files
    eps = entrypoints.detect(tmp_path, files).entry_points
    assert sorted(e.path for e in eps) == ["code/other.py", "code/run_all.py", "report.py"]
    assert entrypoints.run_by_others(tmp_path, ["code/run_all.py", "code/simulations.py", "tools/plot_figures.py", "report.py"]) == {
        "code/simulations.py": "code/run_all.py", "tools/plot_figures.py": "code/run_all.py"}
    guessed = entrypoints.guessed(["run_all.py", "simulations.py", "plot.py"], set(), write_tree(tmp_path / "g", {
        "run_all.py": "import subprocess\nsubprocess.call('python simulations.py', shell=True)\n", "simulations.py": "", "plot.py": ""}))
    assert [f.entry_point.path for f in guessed] == ["run_all.py", "plot.py"]
