"""What a file adds to ``sys.path`` (``sys.path.insert(0, os.path.join(os.path.dirname(__file__),
'..'))``): the folders whose modules it can import, as far as the literal code says.
"""

from __future__ import annotations

import ast
import posixpath
import re

_SYS_PATH = re.compile(r"sys\.path\.(?:insert\s*\(\s*[-\w]+\s*,|append\s*\(|extend\s*\(\s*\[)\s*(.+)")


def path_additions(text: str) -> list[str]:
    """Folders a file puts on ``sys.path``, relative to the file's own folder ("" for
    itself, ".." for its parent): ``sys.path.insert(0, '..')``,
    ``sys.path.append(os.path.join(os.path.dirname(__file__), 'lib'))``,
    ``sys.path.append(str(Path(__file__).parent.parent / 'src'))``. A script is run from
    its own folder, so a relative literal is relative to it too. Expressions that are not
    made of literals, ``__file__`` and path functions are skipped."""
    out = []
    for m in _SYS_PATH.finditer(text):
        arg = _first_argument(m.group(1))
        if arg is None:
            continue
        try:
            value = _path_value(ast.parse(arg, mode="eval").body)
        except (SyntaxError, ValueError, RecursionError):
            continue
        if value is None or value.startswith("/"):
            continue
        if value == _FILE_FOLDER:
            value = "."
        elif value.startswith(_FILE_FOLDER + "/"):
            value = value[len(_FILE_FOLDER) + 1:]
        if _FILE_FOLDER not in value and "__file__" not in value:
            out.append(posixpath.normpath(value) if value else "")
    return list(dict.fromkeys("" if p == "." else p for p in out))


def _first_argument(rest: str) -> str | None:
    """The text of the first argument of a call whose ``(`` was already read."""
    depth = 0
    for i, ch in enumerate(rest):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return rest[:i].strip()
            depth -= 1
        elif ch == "," and depth == 0:
            return rest[:i].strip()
    return None


_FILE_FOLDER = "\0file-folder"


def _path_value(node: ast.expr) -> str | None:
    """A path relative to the file's folder, or None when it cannot be known statically."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id == "__file__":
        return _FILE_FOLDER + "/__file__"
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        args = [_path_value(a) for a in node.args]
        if any(a is None for a in args):
            return None
        parts = [a for a in args if a is not None]
        if name in ("abspath", "realpath", "normpath", "str", "Path", "PurePath", "resolve", "expanduser") and len(parts) <= 1:
            if not parts and isinstance(func, ast.Attribute):
                return _path_value(func.value)  # Path(...).resolve()
            return parts[0] if parts else None
        if name == "dirname" and len(parts) == 1:
            return _parent(parts[0])
        if name == "join" and parts:
            return _join(*parts)
        if name == "getcwd":
            return ""
        return None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = _path_value(node.value)
        return None if inner is None else _parent(inner)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _path_value(node.left), _path_value(node.right)
        return None if left is None or right is None else _join(left, right)
    return None


def _parent(value: str) -> str:
    if value == _FILE_FOLDER + "/__file__":
        return _FILE_FOLDER
    if value.startswith(_FILE_FOLDER):
        return posixpath.join(value, "..")
    return posixpath.join(value, "..") if value not in ("", ".") else ".."


def _join(*parts: str) -> str:
    return posixpath.join(*parts)
