from __future__ import annotations

import textwrap

import pytest

from reprokit.scan._imports import extract, extract_loose


def found(src: str, **kw: object) -> dict[str, bool]:
    return {f.module: f.optional for f in extract(textwrap.dedent(src), **kw) if not f.relative}  # type: ignore[arg-type]


def test_plain_dotted_from_and_nested_imports() -> None:
    src = """
    import a.b.c, d as e
    from f.g import h
    def fn():
        import inner
    class C:
        from klass import thing
    """
    assert found(src) == {"a.b.c": False, "d": False, "f.g": False, "inner": False, "klass": False}


def test_optional_imports() -> None:
    src = """
    from typing import TYPE_CHECKING
    try:
        import ujson as json
    except ImportError:
        import simplejson as json
    try:
        import torch
    except (ModuleNotFoundError, OSError):
        torch = None
    try:
        import mandatory
    except KeyError:
        pass
    if TYPE_CHECKING:
        import pandas
    if typing.TYPE_CHECKING:
        import polars
    """
    assert found(src) == {"typing": False, "ujson": True, "simplejson": True, "torch": True, "mandatory": False, "pandas": True, "polars": True}


def test_a_handler_that_raises_makes_the_import_required() -> None:
    src = """
    try:
        import arviz_base
    except ModuleNotFoundError as err:
        raise ImportError("arviz needs arviz_base") from err
    try:
        import yaml
    except ImportError:
        import warnings
        warnings.warn("no yaml")
        raise
    try:
        import ujson
    except ImportError:
        if strict:
            raise
    try:
        import fast
    except ImportError:
        fast = None
    except Exception:
        raise
    """
    assert found(src) == {"arviz_base": False, "yaml": False, "warnings": False, "ujson": True, "fast": True}


def test_imports_inside_functions_are_marked() -> None:
    src = """
    import top
    class C:
        import in_class
        def method(self):
            import in_method
    async def coro():
        import in_coro
    def outer():
        def inner():
            import in_inner
    lam = lambda: __import__("in_lambda")
    """
    assert {f.module: f.in_function for f in extract(textwrap.dedent(src))} == {
        "top": False, "in_class": False, "in_method": True, "in_coro": True, "in_inner": True, "in_lambda": False,
    }


def test_dead_branches_for_the_target_python_and_platform() -> None:
    src = """
    import sys
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    if sys.version_info[:2] < (3, 8):
        import importlib_metadata
    if sys.platform == "win32":
        import winreg_helper
    if sys.platform != "win32" and sys.version_info >= (3, 0):
        import posix_helper
    """
    got = found(src, target=(3, 11))
    assert got["tomllib"] is False and got["tomli"] is True
    assert got["importlib_metadata"] is True and got["winreg_helper"] is True and got["posix_helper"] is False
    assert found(src, target=(3, 10))["tomli"] is False


@pytest.mark.parametrize(
    ("test", "verdict"),
    [
        # Compared as the whole 5-tuple, as Python does: 3.11 is greater than (3,).
        ("sys.version_info <= (3,)", False), ("sys.version_info > (3,)", True), ("sys.version_info == (3,)", False),
        ("sys.version_info < (3, 11)", False), ("sys.version_info[:2] >= (3, 8)", True),
        ("sys.version_info[0] == 2", False), ("sys.version_info.major >= 3", True), ("sys.version_info.minor < 8", False),
        # The micro version is unknown.
        ("sys.version_info >= (3, 11, 2)", None), ("sys.version_info >= (3, 12, 2)", False),
        ("PY2", False), ("not six.PY3", False), ("IS_PY2 or x", None), ("compat.PY3K", True), ("PYPY", None),
    ],
)
def test_version_tests_for_the_target(test: str, verdict: bool | None) -> None:
    src = f"import sys\nif {test}:\n    import then_branch\nelse:\n    import else_branch\n"
    got = found(src, target=(3, 11))
    assert (got["then_branch"], got["else_branch"]) == {True: (False, True), False: (True, False), None: (False, False)}[verdict]


def test_dynamic_and_relative_imports() -> None:
    src = """
    import importlib
    from importlib import import_module as im
    importlib.import_module("plugin.core")
    im("other")
    __import__("legacy")
    importlib.import_module(name)
    importlib.import_module(".sub", package="pkg")
    from . import sibling
    from ..parent import x
    """
    mods = extract(textwrap.dedent(src))
    assert {m.module for m in mods if not m.relative} == {"importlib", "plugin.core", "other", "legacy"}
    assert {m.module for m in mods if m.relative} == {"", "parent", "sub"}


def test_python2_code_falls_back_to_tokens() -> None:
    src = 'import os, urllib2\nprint "hello"\n# import commented\ns = "import fake"\nfrom  numpy . linalg import norm\nfrom . import rel\nexec "x"\n'
    got = extract_loose(src)
    assert [(f.module, f.line, f.relative) for f in got] == [("os", 1, False), ("urllib2", 1, False), ("numpy.linalg", 5, False), ("", 6, True)]
