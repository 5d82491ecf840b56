"""The closure: which Python a paper is locked for (:mod:`.choose`, :mod:`.interpreter`), the
exact, hashed set of distributions its imports and declarations need as of its date
(:mod:`.closure`, resolved by uv, :mod:`.uv`, or by pip for Pythons uv does not target,
:mod:`.piptool`), and the build tools its sdists need (:mod:`.buildtools`). The Lock and
its files (reprokit.lock.yaml, requirements.lock, pylock.toml) are :mod:`.lockfile`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprokit import lazy

if TYPE_CHECKING:
    from reprokit.resolve.choose import choose_python, lacks_wheels
    from reprokit.resolve.closure import artifacts_for, lock, lock_scan
    from reprokit.resolve.lockfile import Lock
    from reprokit.resolve.pins import env_pins, pins_from_lock_files
    from reprokit.resolve.requirements import lazy_left_out, requirements_for, with_run_time_needs
    from reprokit.resolve.settings import NOTEBOOK_TOOLING, PLATFORMS, LockSettings, best_wheel, target_tags
    from reprokit.resolve.unresolved import distribution_of, resolve_unresolved
    from reprokit.resolve.uv import compile, parse_uv_output, run_uv
else:
    __getattr__ = lazy.exports(__name__)

__all__ = [
    "NOTEBOOK_TOOLING", "PLATFORMS", "Lock", "LockSettings", "artifacts_for", "best_wheel", "choose_python", "compile", "distribution_of",
    "env_pins", "lacks_wheels", "lazy_left_out", "lock", "lock_scan", "parse_uv_output", "pins_from_lock_files", "requirements_for",
    "resolve_unresolved", "run_uv", "target_tags", "with_run_time_needs",
]
