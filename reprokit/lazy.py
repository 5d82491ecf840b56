"""Heavy modules loaded when first used, not when imported: numpy and Pillow take a
quarter of a second to import, requests and jsonschema a tenth, and ``reprokit validate``
checking a bundle's integrity never touches them. A package's short names are loaded
the same way (:func:`exports`). The importing module names them at its top as usual::

    if TYPE_CHECKING:
        import numpy as np
    else:
        np = lazy.module("numpy")
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

_LOCK = threading.Lock()


def module(name: str) -> ModuleType:
    """``name``, imported at its first attribute access (``importlib.util.LazyLoader``);
    the module itself when it is imported already. A name that cannot be found fails here,
    at once, as an import would."""
    with _LOCK:
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        loader.exec_module(mod)
        parent, _, child = name.rpartition(".")
        if parent:  # as an import binds it: `import urllib.parse` elsewhere then finds urllib.parse
            setattr(sys.modules[parent], child, mod)
        return mod


def exports(package: str) -> Callable[[str], Any]:
    """A package's ``__getattr__`` (PEP 562) for the names its ``__init__`` imports under
    ``if TYPE_CHECKING:``: each module is imported when one of its names is first used.
    A package's short names then cost nothing until used, and importing one small module
    of it (``reprokit.outputs.verdict``) does not load all the others::

        if TYPE_CHECKING:
            from reprokit.outputs.learn import Learned, learn
        else:
            __getattr__ = lazy.exports(__name__)
    """
    where: dict[str, tuple[str, str]] = {}
    source = sys.modules[package].__file__
    assert source is not None
    with open(source, encoding="utf-8") as fh:  # not pathlib: a package here costs few imports
        tree = ast.parse(fh.read())
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom) and imp.module:
                    where.update({a.asname or a.name: (imp.module, a.name) for a in imp.names})

    # A name that is also its module's (reprokit.run.failure's failure) would be the module
    # once that module is imported by anyone: the import binds it on the package.
    clash = sorted(name for name, (module_name, _) in where.items() if module_name == f"{package}.{name}")
    if clash:
        raise ImportError(f"{package} cannot export {', '.join(clash)}: the name of a module of its own")

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, attribute = where[name]
        value = getattr(importlib.import_module(module_name), attribute)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
