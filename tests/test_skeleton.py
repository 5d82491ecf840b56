"""The skeleton parse must find exactly what the full parse finds."""

from __future__ import annotations

import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprokit.scan._imports import _walk, extract
from reprokit.scan._skeleton import skeleton
from tests.helpers import EXPLORE


def same(src: str) -> None:
    full = _walk(src, (3, 11), "linux")
    assert extract(src) == full


TRICKY = [
    # Imports inside strings that start at column 0 must stay inside their string.
    'x = 1\n"""\nimport fake\nfrom fake import y\n"""\nimport real\n',
    "s = '''\nimport fake\n'''\nclass A:\n    doc = \"\"\"\nimport fake2\n\"\"\"\n    def f(self):\n        import real\n",
    # Brackets whose lines start at column 0.
    "X = dict(\na=1,\nb=2)\nimport real\ndef f():\n    y = [\n1,\n]\n    import inner\n",
    # Backslash continuations.
    "x = 1 + \\\n2\nimport a, \\\n    b\nassert x, \\\n'import nothing'\n",
    # One-line compound statements and semicolons.
    "if True: import one\nx = 1; import two\ntry: import three\nexcept ImportError: three = None\n",
    # Classes: decorators, nested classes, class-level try and if, methods.
    textwrap.dedent("""
        @decorator
        class A(Base):  # comment: with a colon
            '''Doc.'''
            x = 1
            try:
                import opt
            except ImportError:
                opt = None
            if TYPE_CHECKING:
                import typed
            @property
            def p(self):
                import lazy
                return lazy
            class Inner:
                y = 2
                def g(self):
                    from deep import thing
            z = [
            1]
        """),
    # Tabs, CRLF, a form feed, no trailing newline.
    "class T:\n\tdef f(self):\n\t\timport tabbed\n\tx = 1\n",
    "import crlf\r\nclass C:\r\n    def f(self):\r\n        import inner_crlf\r\n    y = 2\r\n",
    "import a\n\x0c\ndef f():\n    import b",
    # Dynamic imports, aliased.
    "from importlib import import_module as load\nclass P:\n    def f(self):\n        return load('plugin')\n",
    # Match statements.
    "match x:\n    case 1:\n        import m1\n    case _:\n        pass\n",
    # A class whose body dedents inside brackets.
    "class D:\n    x = (\n1)\n    def f(self):\n        import inner\n",
    # Functions: bodies are skeletonised too; multi-line headers, one-liners, nesting.
    textwrap.dedent('''
        def plot(data, *, ax=None,
                 title=""):
            import matplotlib.pyplot as plt
            return plt
        def one(): import one_liner
        async def fetch(url: str) -> dict[str, int]:  # note: a colon
            """Fetch.

        import not_this
            """
            x = {"a": 1,
        "b": 2}
            try:
                import aiohttp
            except ImportError:
                raise ImportError("install aiohttp") from None
            def inner(key=lambda k: k):
                y = compute()
                from deep.inner import z
                return z
            return inner
        '''),
    # A bracket's lines at column 0 look like statement starts: blanking the run between two
    # kept halves must not join them into valid code with other nesting (here, C3's import
    # would land in f1's body).
    "class C0:\n    if x0:\n        import numpy\n        def f1():\n            z = [\n1,\n]\n"
    "        class C3:\n            z = [\n1,\n]\n            import numpy\n",
    # Strings that hold the other quote kind, f-strings, byte strings.
    "s = \"'''\"\nt = f'{x!r}\"\"\"'\nu = b'\\'import no'\nimport yes\n",
]


@pytest.mark.parametrize("src", TRICKY)
def test_skeleton_finds_what_the_full_parse_finds(src: str) -> None:
    same(src)


def test_the_skeleton_keeps_lines_and_drops_bulk() -> None:
    src = "import os\n" + "x = [\n    1,\n]\n" * 50 + "class A:\n" + "    def f(self):\n        return 1\n" * 20 + "    def g(self):\n        import json\n"
    skel = skeleton(src)
    assert skel is not None and skel.count("\n") == src.count("\n")
    assert len(skel.strip()) < len(src) // 5
    assert [f.module for f in extract(src)] == ["os", "json"]


def test_python2_takes_the_full_parse() -> None:
    assert skeleton('import os\nprint "hello"\n') is None
    assert skeleton("import os\nif x:\n    exec 'code'\n") is None
    assert skeleton("try:\n    import a\nexcept ImportError, e:\n    pass\n") is None
    assert skeleton("import os\nprint('hello')\n# print the result\n") is not None


SNIPPETS = [
    "import {m}", "from {m} import x", "x = {m!r}", "y = (1,\n2)", "z = [\n1,\n]", "'''\nimport {m}\n'''",
    "pass", "a = 1; import {m}", "if 1: import {m}", "w = 1 + \\\n2", "s = '# not a comment'", "# import {m}",
    "@dec", "__import__({m!r})",
]
BLOCKS = ["def f{n}():", "class C{n}:", "if x{n}:", "try:", "with c{n}:", "for i in y{n}:"]


@st.composite
def programs(draw: st.DrawFn, depth: int = 0, indent: str = "") -> str:
    lines: list[str] = []
    unit = draw(st.sampled_from(["    ", "  ", "\t"])) if depth == 0 else ""
    for _ in range(draw(st.integers(1, 5))):
        if depth < 3 and draw(st.booleans()):
            head = draw(st.sampled_from(BLOCKS)).format(n=len(lines))
            inner = indent + (unit or ("    " if "\t" not in indent else "\t"))
            lines.append(indent + head)
            lines.append(draw(programs(depth + 1, inner)))
            if head == "try:":
                lines.append(indent + draw(st.sampled_from(["except ImportError:", "except Exception:", "finally:"])))
                lines.append(inner + draw(st.sampled_from(["pass", "raise", "import fallback"])))
        else:
            snippet = draw(st.sampled_from(SNIPPETS)).format(m=draw(st.sampled_from(["numpy", "a.b", "yaml"])))
            if snippet == "@dec":
                snippet = "@dec\ndef decorated():\n    import dec_inner"
            # Continuation lines go to the block's indentation or to column 0.
            parts = snippet.split("\n")
            lines.append("\n".join(indent + part if i == 0 or draw(st.booleans()) else part for i, part in enumerate(parts)))
    return "\n".join(lines)


@settings(max_examples=300 * EXPLORE, deadline=None)
@given(programs(), st.booleans())
def test_skeleton_equals_full_parse_on_generated_programs(src: str, crlf: bool) -> None:
    src = src + "\n"
    if crlf:
        src = src.replace("\n", "\r\n")
    try:
        full = _walk(src, (3, 11), "linux")
    except SyntaxError:
        return  # the generator can build invalid code; the skeleton then must not be trusted either
    assert extract(src) == full


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")
def test_skeleton_equals_full_parse_on_the_standard_library() -> None:
    """Every module of the running Python's standard library: the same imports, lines and flags."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    checked = 0
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            src = path.read_bytes().decode("utf-8")
            full = _walk(src, sys.version_info[:2], "linux")
        except (UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
            continue
        assert extract(src, target=sys.version_info[:2]) == full, path
        checked += 1
    assert checked > 1000
