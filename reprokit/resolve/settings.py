"""What a resolution is for: the target Python and platform, the date, the index (:class:`LockSettings`),
and the wheel tags that fit that target.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from reprokit.resolve import pypi

PLATFORMS = {"x86_64-linux": ("x86_64-unknown-linux-gnu", "x86_64"), "aarch64-linux": ("aarch64-unknown-linux-gnu", "aarch64")}


# What the paper's environment needs to run its notebooks: only a kernel. nbclient runs
# in reprokit's own environment, so it never meets the paper's Jupyter pins.
NOTEBOOK_TOOLING = ("ipykernel",)


@dataclass(frozen=True, kw_only=True, slots=True)
class LockSettings:
    date: dt.date
    python: str
    platform: str = "x86_64-linux"
    index_url: str | None = None
    with_optional: bool = False
    from_env: str | None = None  # a Python whose installed versions pin the lock
    uv_cache: Path | None = None
    cache_dir: Path | None = None  # reprokit's artifact cache (pip wheels for older Pythons)


def target_tags(python: str, platform: str) -> list[Tag]:
    """Wheel tags a CPython ``python`` on ``platform`` accepts, best first."""
    major, minor = (int(x) for x in python.split("."))
    arch = PLATFORMS[platform][1]
    plats = [f"manylinux_2_{v}_{arch}" for v in range(39, 16, -1)]
    plats += [f"manylinux2014_{arch}"] + ([f"manylinux2010_{arch}", f"manylinux1_{arch}"] if arch == "x86_64" else [])
    plats += [f"manylinux_2_{v}_{arch}" for v in range(16, 4, -1)] + [f"linux_{arch}"]
    tags = list(cpython_tags((major, minor), platforms=plats))
    tags += list(compatible_tags((major, minor), f"cp{major}{minor}", platforms=plats))
    return tags


def best_wheel(files: list[pypi.File], tags: list[Tag]) -> pypi.File | None:
    rank = {t: i for i, t in enumerate(tags)}
    best: tuple[int, pypi.File] | None = None
    for f in files:
        if f.kind != "wheel":
            continue
        try:
            _, _, _, ftags = parse_wheel_filename(f.filename)
        except InvalidWheelFilename:  # an oddly named wheel is not a candidate
            continue
        score = min((rank[t] for t in ftags if t in rank), default=None)
        if score is not None and (best is None or score < best[0]):
            best = (score, f)
    return best[1] if best else None
