"""Arrays compared element by element: NumPy ``.npy``/``.npz`` always, HDF5 with h5py and
NetCDF with netCDF4 or h5py when installed (otherwise the caller falls back to sha256).
Shapes and dtypes must match; numbers agree within the rule.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reprokit import lazy
from reprokit.errors import InputError
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import MAX_FAILURES, Difference, Tally

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy.module("numpy")


def available(kind: str) -> str | None:
    """The library that reads ``kind``, or None."""
    if kind == "npy":
        return "numpy"
    if kind == "hdf5":
        return "h5py" if importlib.util.find_spec("h5py") else None
    if kind == "netcdf":
        for lib in ("netCDF4", "h5py"):
            if importlib.util.find_spec(lib):
                return lib
    return None


def _index(shape: tuple[int, ...], flat: int) -> str:
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]" if shape else ""


def compare_arrays(a: Any, b: Any, rule: Rule, tally: Tally, where: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        tally.mismatch(f"{where} shape", str(a.shape), str(b.shape))
        return
    numeric = a.dtype.kind in "biufc" and b.dtype.kind in "biufc"
    if not numeric:
        tally.compared += a.size
        if a.dtype.kind != b.dtype.kind or not np.array_equal(a, b):
            bad = np.flatnonzero(a != b) if a.dtype.kind == b.dtype.kind else np.array([0])
            flat = int(bad[0]) if bad.size else 0
            tally.mismatch(f"{where}{_index(a.shape, flat)}", str(a.reshape(-1)[flat]) if a.size else "", str(b.reshape(-1)[flat]) if b.size else "",
                           f"dtype {a.dtype} recorded, {b.dtype} in the rerun" if a.dtype != b.dtype else "")
        return
    common = np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64
    fa, fb = a.astype(common), b.astype(common)
    tally.compared += a.size
    if a.size == 0:
        return
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        both_nan = np.isnan(fa) & np.isnan(fb)
        diff = np.where(both_nan | (fa == fb), 0.0, np.abs(fa - fb))
        scale = np.maximum(np.abs(fa), np.abs(fb))
        rel = np.where(diff == 0, 0.0, np.where(scale > 0, diff / np.where(scale > 0, scale, 1), np.inf))
    diff = np.nan_to_num(diff, nan=np.inf)
    rel = np.nan_to_num(rel, nan=np.inf)
    bad = ~((diff <= rule.abs) | (rel <= rule.rel))
    ia, ir = int(np.argmax(diff)), int(np.argmax(rel))
    flat_a, flat_b = fa.reshape(-1), fb.reshape(-1)

    def at(i: int) -> Difference:
        return Difference(where=f"{where}{_index(a.shape, i)}", recorded=repr(flat_a[i].item()), rerun=repr(flat_b[i].item()),
                          abs=float(diff.reshape(-1)[i]), rel=float(rel.reshape(-1)[i]))

    if diff.reshape(-1)[ia] > 0 and (tally.worst_abs is None or (tally.worst_abs.abs or 0) < diff.reshape(-1)[ia]):
        tally.worst_abs = at(ia)
    if rel.reshape(-1)[ir] > 0 and (tally.worst_rel is None or (tally.worst_rel.rel or 0) < rel.reshape(-1)[ir]):
        tally.worst_rel = at(ir)
    for i in np.flatnonzero(bad)[:MAX_FAILURES]:
        tally.fail(at(int(i)))
    tally.failed += max(0, int(bad.sum()) - MAX_FAILURES)


def _npy(data: bytes, where: str) -> dict[str, Any]:
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{where}: not a readable .npy/.npz file ({exc})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    return {"": loaded}


def _hdf5(data: bytes, where: str) -> dict[str, Any]:
    import h5py  # type: ignore[import-not-found, unused-ignore]

    out: dict[str, Any] = {}
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    out["/" + name] = obj[()]
            f.visititems(visit)
    except OSError as exc:
        raise InputError(f"{where}: not a readable HDF5 file ({exc})") from None
    return out


def _netcdf(data: bytes, where: str) -> dict[str, Any]:
    if importlib.util.find_spec("netCDF4"):
        import netCDF4  # type: ignore[import-not-found, unused-ignore]

        try:
            with netCDF4.Dataset("inmemory.nc", memory=data) as ds:
                return {name: np.asarray(var[...]) for name, var in ds.variables.items()}
        except OSError as exc:
            raise InputError(f"{where}: not a readable NetCDF file ({exc})") from None
    return _hdf5(data, where)


def _items(kind: str, data: bytes, where: str) -> dict[str, Any]:
    return {"npy": _npy, "hdf5": _hdf5, "netcdf": _netcdf}[kind](data, where)


def _pairs(a: dict[str, Any], b: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    for name in sorted(set(a) | set(b)):
        yield name, a.get(name), b.get(name)


def compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> Tally:
    a = _items(rule.kind, recorded, f"{path} (recorded)")
    b = _items(rule.kind, rerun, f"{path} (rerun)")
    tally = Tally(rule)
    for name, x, y in _pairs(a, b):
        label = name or "array"
        if x is None or y is None:
            tally.mismatch(label, "(absent)" if x is None else "present", "(absent)" if y is None else "present")
        else:
            compare_arrays(x, y, rule, tally, label)
    return tally
