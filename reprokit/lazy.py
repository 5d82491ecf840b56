"""Heavy modules loaded when first used, not when imported: numpy and Pillow take a
quarter of a second to import, and ``reprokit validate`` checking a bundle's integrity
never touches them. The importing module names them at its top as usual::

    if TYPE_CHECKING:
        import numpy as np
    else:
        np = lazy.module("numpy")
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType

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
        return mod
