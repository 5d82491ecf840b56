from __future__ import annotations

from pathlib import Path

from reprokit.scan import ScanSettings, declared, scan
from tests.helpers import RUNNING, write_tree


def names(found: list[declared.Declared]) -> list[tuple[str, bool]]:
    return [(d.requirement, d.optional) for d in found]


def test_requirements_txt_forms() -> None:
    text = (
        "# comment\nnumpy>=1.24  # trailing\n-r other.txt\n--index-url https://x\n"
        "-e git+https://github.com/a/b.git#egg=bpkg\nrequests[socks]==2.31.0 \\\n    --hash=sha256:abc\n"
        "pandas ; python_version >= '3.9'\nhttps://host/x.whl\nthis is not valid\n"
    )
    found, problems, includes = declared.parse_requirements_txt(text, "requirements.txt")
    assert [d.name for d in found] == ["numpy", "bpkg", "requests", "pandas"]
    assert found[2].requirement == "requests[socks]==2.31.0"
    assert includes == ["other.txt"]
    assert [(p.path, p.line) for p in problems] == [("requirements.txt", 10)]


def test_pyproject_pep621_poetry_and_groups() -> None:
    text = """
[project]
name = "my-paper"
dependencies = ["xarray>=2023.1", "netCDF4"]
[project.optional-dependencies]
plots = ["seaborn"]
[dependency-groups]
dev = ["pytest"]
[tool.poetry.dependencies]
python = "^3.10"
torch = {version = "^2.0", optional = true}
einops = "^0.7"
"""
    found, problems, name = declared.parse_pyproject(text, "pyproject.toml")
    assert name == "my-paper" and not problems
    assert names(found) == [("xarray>=2023.1", False), ("netCDF4", False), ("seaborn", True), ("pytest", True), ("torch", True), ("einops", False)]
    assert found[1].source == "pyproject.toml:4"


def test_bad_toml_is_a_problem_with_a_line() -> None:
    found, problems, _ = declared.parse_pyproject("[project\nname=1", "pyproject.toml")
    assert not found and problems[0].line == 1 and "invalid TOML" in problems[0].message


def test_setup_cfg_and_literal_setup_py() -> None:
    cfg = "[metadata]\nname = paperpkg\n[options]\ninstall_requires =\n    numpy\n    scipy>=1.10\n[options.extras_require]\nviz = matplotlib\n"
    found, _, name = declared.parse_setup_cfg(cfg, "setup.cfg")
    assert name == "paperpkg" and names(found) == [("numpy", False), ("scipy>=1.10", False), ("matplotlib", True)]
    py = "from setuptools import setup\nREQS = ['h5py', 'tqdm>4']\nsetup(name='p', install_requires=REQS, extras_require={'gpu': ['cupy']})\n"
    found, _, name = declared.parse_setup_py(py, "setup.py")
    assert name == "p" and names(found) == [("h5py", False), ("tqdm>4", False), ("cupy", True)]
    found, problems, _ = declared.parse_setup_py("setup(install_requires=read_reqs())", "setup.py")
    assert found == [] and problems == []


def test_environment_yml_maps_conda_names() -> None:
    text = "name: e\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - numpy=1.24\n  - pytorch>=2.0\n  - conda-forge::matplotlib-base\n  - cudatoolkit\n  - pip\n  - pip:\n    - wandb==0.16.0\n"
    found, problems = declared.parse_environment_yml(text, "environment.yml")
    assert not problems
    assert [d.requirement for d in found] == ["numpy==1.24.*", "torch>=2.0", "matplotlib", "wandb==0.16.0"]


def test_pipfile() -> None:
    text = '[packages]\nrequests = "*"\nflask = ">=2.0"\nattrs = {version = "==23.1"}\n[dev-packages]\npytest = "*"\n'
    found, _ = declared.parse_pipfile(text, "Pipfile")
    assert names(found) == [("requests", False), ("flask>=2.0", False), ("attrs==23.1", False), ("pytest", True)]


def test_read_declared_follows_includes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"requirements.txt": "-r base/requirements-base.txt\nnumpy\n", "base/requirements-base.txt": "scipy\n"})
    got = declared.read_declared(tmp_path, ["requirements.txt"])
    assert sorted(d.name for d in got.requirements) == ["numpy", "scipy"]


def test_requirements_txt_paths_and_archives() -> None:
    text = (
        ".\n-e .\n.[dev]\n../shared/lib\n./vendor/six-1.16.0-py2.py3-none-any.whl\n"
        "https://host/files/Foo_Bar-2.0.tar.gz\nC:\\wheels\\attrs-23.1.0-py3-none-any.whl\n"
        "git+https://github.com/a/b.git@v1#egg=bpkg\n/opt/dist/weird.tar.gz\n"
    )
    found, problems, _ = declared.parse_requirements_txt(text, "requirements.txt")
    # Local folders are the paper's own projects: neither a requirement nor a problem.
    assert names(found) == [("six==1.16.0", False), ("foo-bar==2.0", False), ("attrs==23.1.0", False), ("bpkg", False)]
    assert problems == []


def test_read_declared_reads_includes_whatever_their_name(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "paper/requirements.txt": "-r base.txt\n-r ../elsewhere.txt\n-r gone.txt\nnumpy\n",
        "paper/base.txt": "-r more/common.in\nscipy\n",
        "paper/more/common.in": "pandas\n",
        "elsewhere.txt": "torch\n",
    })
    got = declared.read_declared(tmp_path / "paper", ["requirements.txt"])
    assert sorted(d.name for d in got.requirements) == ["numpy", "pandas", "scipy"]
    assert sorted((p.line, p.message) for p in got.problems) == [
        (2, "includes ../elsewhere.txt, outside the paper folder: not read"),
        (3, "includes gone.txt, which does not exist"),
    ]


def test_conda_environments_are_read_whatever_their_name_and_git_requirements_keep_their_url(tmp_path: Path) -> None:
    from reprokit.scan.declared import read_declared

    write_tree(tmp_path, {
        "binder/env.yaml": "name: paper\nchannels: [conda-forge]\ndependencies:\n  - numpy=1.24\n  - python=3.11\n",
        "model.yaml": "name: dolo model\nsymbols:\n  states: [k]\n",  # YAML, but no environment
        "requirements.txt": "git+https://github.com/someone/tool.git@v1#egg=tool\n",
    })
    got = read_declared(tmp_path, ["binder/env.yaml", "model.yaml", "requirements.txt"])
    by_name = {d.name: d for d in got.requirements}
    assert set(by_name) == {"numpy", "tool"}
    assert by_name["numpy"].conda and by_name["numpy"].source == "binder/env.yaml:4"
    assert by_name["tool"].url == "git+https://github.com/someone/tool.git@v1#egg=tool" and not by_name["tool"].conda


ROUGIER_README = """\
This replication has been written and tested on OSX 10.12 (Sierra) using the
following packages:

 * Python 3.6.0
 * Numpy 1.12.0
 * [Scipy](https://www.scipy.org) 0.18.1
 * Pillow 4.0.0
 * tqdm >= 4.10
 * OSX 10.12

The AUTO library needs nibabel: install it by typing in the terminal "pip install nibabel".

```
$ pip install zz-rare-tool==0.2 --user
```
"""


def test_a_paper_without_a_requirements_file_declares_what_its_readme_lists(tmp_path: Path) -> None:
    """No requirements file: the README's list of what the paper was tested with (a
    package a line, with its version; scipy.misc.imread needs Pillow, which no code
    imports) and its install commands are its declarations. A name reprokit does not
    know as a distribution (Python, OSX) is none; prose names an install only of a known
    one; a copy of the README in code/ adds nothing the top one gives."""
    paper = write_tree(tmp_path / "p", {"README.md": ROUGIER_README, "code/README.md": " * Numpy 1.11.0\n * six 1.10.0\n",
                                        "code/stippler.py": "import numpy, scipy.misc\n"})
    got = {d.requirement: d.source for d in scan(ScanSettings(path=paper, python=RUNNING)).declared}
    assert got == {"Numpy==1.12.0": "README.md:5 (listed as tested with)", "Scipy==0.18.1": "README.md:6 (listed as tested with)",
                   "Pillow==4.0.0": "README.md:7 (listed as tested with)", "tqdm>=4.10": "README.md:8 (listed as tested with)",
                   "nibabel": "README.md:11 (pip install)", "zz-rare-tool==0.2": "README.md:14 (pip install)",
                   "six==1.10.0": "code/README.md:2 (listed as tested with)"}, got
    # A paper with a requirements file of its own: that is what it declares.
    (paper / "requirements.txt").write_text("numpy\nscipy\n")
    assert [d.requirement for d in scan(ScanSettings(path=paper, python=RUNNING)).declared] == ["numpy", "scipy"]
