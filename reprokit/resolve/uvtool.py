"""The uv binary that the ``uv`` wheel ships: the resolver reprokit drives, and where
uv's managed Pythons are found."""

from __future__ import annotations

from reprokit.errors import UsageError


def uv_bin() -> str:
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError) as exc:
        raise UsageError("the 'uv' package is not installed (pip install uv)") from exc
