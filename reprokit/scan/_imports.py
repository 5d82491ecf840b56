"""Imports in Python source, found with ``ast`` in the source's skeleton (or the tokenizer
for Python 2 code); also whether a file is run by name and what it puts on ``sys.path``.

Knows which imports are optional: guarded by ``try/except ImportError``, under
``if TYPE_CHECKING:``, or in a branch that is dead for the target Python version or
platform (``if sys.version_info < (3, 8):``).
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import token
import tokenize
from dataclasses import dataclass

from reprokit.scan._skeleton import dynamic_positions, skeleton

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


@dataclass(frozen=True, kw_only=True, slots=True)
class FoundImport:
    """One import statement (or dynamic import) at one line."""

    module: str  # dotted name; "" for "from . import x"
    line: int
    optional: bool = False
    relative: bool = False
    in_function: bool = False  # runs only when a function (or method) is called
    level: int = 0  # leading dots of a relative import
    names: tuple[str, ...] = ()  # what "from module import ..." takes


class _Walker:
    """Visits statements only (imports are statements), which is several times faster
    than a full ``ast.NodeVisitor``; expressions are searched only in statements whose
    lines mention ``import_module``, ``__import__`` or an alias of them."""

    def __init__(self, target: tuple[int, int], platform: str, dynamic_lines: list[int]) -> None:
        self.found: list[FoundImport] = []
        self.optional_depth = 0
        self.function_depth = 0
        self.target = target
        self.platform = platform
        self.dynamic_lines = dynamic_lines
        self.import_module_names = {"importlib.import_module", "__import__"}

    def _add(self, module: str, line: int, relative: bool = False, level: int = 0, names: tuple[str, ...] = ()) -> None:
        self.found.append(
            FoundImport(
                module=module, line=line, optional=self.optional_depth > 0, relative=relative,
                in_function=self.function_depth > 0, level=level, names=names,
            )
        )

    def body(self, stmts: list[ast.stmt], optional: bool = False) -> None:
        if optional:
            self.optional_depth += 1
        for node in stmts:
            self.stmt(node)
        if optional:
            self.optional_depth -= 1

    def stmt(self, node: ast.stmt) -> None:
        kind = type(node)
        if kind is ast.Import:
            for alias in node.names:  # type: ignore[attr-defined]
                self._add(alias.name, node.lineno)
            return
        if kind is ast.ImportFrom:
            self.import_from(node)  # type: ignore[arg-type]
            return
        if self.dynamic_lines:
            i = bisect.bisect_left(self.dynamic_lines, node.lineno)
            if i < len(self.dynamic_lines) and self.dynamic_lines[i] <= (node.end_lineno or node.lineno):
                self.calls(node)
        if kind is ast.If:
            self.if_(node)  # type: ignore[arg-type]
        elif kind is ast.Try or kind.__name__ == "TryStar":
            self.try_(node)  # type: ignore[arg-type]
        elif kind is ast.Match:
            for case in node.cases:  # type: ignore[attr-defined]
                self.body(case.body)
        elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            self.function_depth += 1
            self.body(node.body)  # type: ignore[attr-defined]
            self.function_depth -= 1
        else:
            for field in ("body", "orelse", "finalbody"):
                stmts = getattr(node, field, None)
                if stmts:
                    self.body(stmts)

    def import_from(self, node: ast.ImportFrom) -> None:
        names = tuple(alias.name for alias in node.names)
        if node.level:
            self._add(node.module or "", node.lineno, relative=True, level=node.level, names=names)
            return
        if node.module == "importlib":
            for alias in node.names:
                if alias.name == "import_module":
                    self.import_module_names.add(alias.asname or "import_module")
        if node.module:
            self._add(node.module, node.lineno, names=names)

    def calls(self, node: ast.stmt) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                continue
            for sub in ast.walk(child):
                if isinstance(sub, ast.Call):
                    self.call(sub)

    def call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        if name not in self.import_module_names or not node.args:
            return
        arg = node.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value):
            return
        package = None
        if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            package = node.args[1].value
        for kw in node.keywords:
            if kw.arg == "package" and isinstance(kw.value, ast.Constant):
                package = kw.value.value
        if arg.value.startswith("."):
            bare = arg.value.lstrip(".")
            self._add(bare, node.lineno, relative=True, level=len(arg.value) - len(bare))
        elif package is None or name == "__import__":
            self._add(arg.value, node.lineno)

    def try_(self, node: ast.Try) -> None:
        # The first handler that catches ImportError decides: one that ends by raising
        # (``raise ImportError("install X") from err``) makes the import required.
        handler = next((h for h in node.handlers if _catches_import_error(h)), None)
        guarded = handler is not None and not (handler.body and isinstance(handler.body[-1], ast.Raise))
        self.body(node.body, guarded)
        # Imports in the handler are the fallback: optional too when the try body is.
        for h in node.handlers:
            self.body(h.body, guarded)
        self.body(node.orelse)
        self.body(node.finalbody)

    def if_(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.body(node.body, True)
            self.body(node.orelse)
            return
        verdict = _static_truth(node.test, self.target, self.platform)
        self.body(node.body, verdict is False)
        self.body(node.orelse, verdict is True)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_dotted(t).rsplit(".", 1)[-1] in _IMPORT_ERRORS for t in types)


def _is_type_checking(test: ast.expr) -> bool:
    return _dotted(test).endswith("TYPE_CHECKING")


def _static_truth(test: ast.expr, target: tuple[int, int], platform: str) -> bool | None:
    """Evaluate ``sys.version_info``/``sys.platform`` tests and ``PY2``/``six.PY3`` flags for
    the target; None when the test says nothing about it."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _static_truth(test.operand, target, platform)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = [_static_truth(v, target, platform) for v in test.values]
        if isinstance(test.op, ast.And):
            if False in values:
                return False
            return True if all(v is True for v in values) else None
        if True in values:
            return True
        return False if all(v is False for v in values) else None
    if isinstance(test, (ast.Name, ast.Attribute)):
        flag = _PY_FLAG.match(_dotted(test).rsplit(".", 1)[-1])
        return None if flag is None else int(flag.group(1)) == target[0]
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, op, right = test.left, test.ops[0], test.comparators[0]
    subject = _dotted(left.value if isinstance(left, ast.Subscript) else left)
    if subject in _VERSION_SUBJECTS:
        try:
            want = ast.literal_eval(right)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        # The micro version is unknown: a test that depends on it has no verdict.
        verdicts = {_version_test(left, op, want, target + (micro,)) for micro in (0, 99)}
        return verdicts.pop() if len(verdicts) == 1 else None
    if (
        subject in ("sys.platform", "platform")
        and isinstance(right, ast.Constant)
        and isinstance(right.value, str)
        and isinstance(op, (ast.Eq, ast.NotEq))
    ):
        return (platform == right.value) == isinstance(op, ast.Eq)
    return None


# ``sys.version_info`` (also imported bare) and its ``major``/``minor``.
_VERSION_SUBJECTS = frozenset(
    f"{base}{attr}" for base in ("sys.version_info", "version_info") for attr in ("", ".major", ".minor")
)


# ``PY2``, ``PY3``, ``six.PY3``, ``IS_PY2``, ``PY3K``, ``PYTHON3``: flags of compatibility code.
_PY_FLAG = re.compile(r"^_?(?:IS_?)?PY(?:THON)?_?([23])K?$", re.IGNORECASE)


def _version_test(left: ast.expr, op: ast.cmpop, want: object, version: tuple[int, int, int]) -> bool | None:
    """``left op want`` where ``left`` is ``sys.version_info`` (compared as the whole
    5-tuple, as Python does), a slice or an item of it, or its ``major``/``minor``."""
    full = version + (99, 0)  # releaselevel "final" sorts after "alpha" ... "candidate"
    have: object
    if isinstance(left, ast.Attribute) and left.attr in ("major", "minor"):
        have = version[0] if left.attr == "major" else version[1]
    elif isinstance(left, ast.Subscript):
        index = left.slice
        if isinstance(index, ast.Constant) and isinstance(index.value, int) and 0 <= index.value < 3:
            have = version[index.value]
        elif isinstance(index, ast.Slice) and index.lower is None and index.step is None and isinstance(index.upper, ast.Constant) and isinstance(index.upper.value, int):
            have = full[: index.upper.value]
        else:
            return None
    else:
        have = full
    if isinstance(have, int) and type(want) is int:
        return _compare((have,), op, (want,))
    if isinstance(have, tuple) and isinstance(want, tuple) and all(type(w) is int for w in want):
        return _compare(have, op, want)
    return None


def _compare(a: tuple[int, ...], op: ast.cmpop, b: tuple[int, ...]) -> bool | None:
    ops = {ast.Lt: a < b, ast.LtE: a <= b, ast.Gt: a > b, ast.GtE: a >= b, ast.Eq: a == b, ast.NotEq: a != b}
    return ops.get(type(op))


def extract(source: str, *, target: tuple[int, int] = (3, 11), platform: str = "linux") -> list[FoundImport]:
    """Imports in ``source``; raises SyntaxError (with ``lineno``) when it is not Python 3.

    Parses the :func:`skeleton` of the source when it has one, the whole source when the
    skeleton does not parse (the full parse then reports the real error, if any).
    """
    skel = skeleton(source)
    if skel is not None:
        try:
            return _walk(skel, target, platform)
        except (SyntaxError, ValueError):
            pass
    return _walk(source, target, platform)


def _walk(source: str, target: tuple[int, int], platform: str) -> list[FoundImport]:
    tree = ast.parse(source)
    lines = []
    line, last = 1, 0
    for pos in dynamic_positions(source):
        line += source.count("\n", last, pos)
        last = pos
        lines.append(line)
    walker = _Walker(target, platform, lines)
    walker.body(tree.body)
    return walker.found


_MAIN_GUARD = re.compile(r"^if\s+__name__\s*==\s*['\"]__main__['\"]", re.MULTILINE)


def has_main_guard(text: str) -> bool:
    """Whether the source has a top-level ``if __name__ == "__main__":`` (it is meant to
    be run). The usual spelling is matched by a pattern; other spellings, and code that
    does not parse, are decided by ``ast``."""
    if "__main__" not in text:
        return False
    if _MAIN_GUARD.search(text):
        return True
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = {getattr(n, "id", None) for n in ast.walk(node.test)}
            consts = {getattr(n, "value", None) for n in ast.walk(node.test)}
            if "__name__" in names and "__main__" in consts:
                return True
    return False


_FROM_RE = re.compile(r"^\s*from\s+(.+?)\s+import\b")


_IMPORT_RE = re.compile(r"^\s*import\s+(.+)$")


def extract_loose(source: str) -> list[FoundImport]:
    """Imports of code ``ast`` cannot parse (Python 2), from the tokenizer's logical lines.

    Comments and strings never yield imports; a line the tokenizer cannot get past ends
    the search there.
    """
    found: list[FoundImport] = []
    logical: list[str] = []
    start_line = 1
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        tokens = []
        for lineno, line in enumerate(source.splitlines(), 1):
            found.extend(_loose_line(line, lineno))
        return found
    for tok in tokens:
        if tok.type in (token.NEWLINE, token.ENDMARKER):
            found.extend(_loose_line(" ".join(logical), start_line))
            logical = []
            continue
        if tok.type in (tokenize.COMMENT, tokenize.NL, token.INDENT, token.DEDENT):
            continue
        if not logical:
            start_line = tok.start[0]
        if tok.type == token.OP and tok.string == ";":
            found.extend(_loose_line(" ".join(logical), start_line))
            logical = []
            continue
        logical.append(tok.string if tok.type != token.STRING else "''")
    return found


def _loose_line(line: str, lineno: int) -> list[FoundImport]:
    m = _FROM_RE.match(line)
    if m:
        module = re.sub(r"\s+", "", m.group(1))
        if not re.fullmatch(r"\.*[A-Za-z_\d.]*", module):
            return []
        bare = module.lstrip(".")
        if bare != module:
            return [FoundImport(module=bare, line=lineno, relative=True, level=len(module) - len(bare))]
        return [FoundImport(module=bare, line=lineno)] if bare else []
    line = re.sub(r"\s*\.\s*", ".", line)
    m = _IMPORT_RE.match(line)
    if m:
        out = []
        for part in m.group(1).strip("() ").split(","):
            name = part.strip().split(" as ")[0].strip()
            if re.fullmatch(r"[A-Za-z_][\w.]*", name):
                out.append(FoundImport(module=name, line=lineno))
        return out
    return []
