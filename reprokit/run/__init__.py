"""Rebuild a bundle's environment with pip from its vendored files, and rerun the paper.

Used by ``validate --rebuild pip --rerun`` and by ``archive`` to record what each entry
point writes (:mod:`.rebuild`, :mod:`.runs`, :mod:`.failure`). The rebuild uses the pip kept in ``vendor/build/`` (not the host's), feeds
pip's isolated builds from ``vendor/build/`` and never touches an index. Entry points run
in order, in one copy of ``paper/``, each from its own folder as a person would run it;
notebooks through :mod:`reprokit.run._nbrun`. All of it is the bundle's code (sdist build
backends, the paper itself) and runs through :mod:`reprokit.sandbox`, by default with no
network, which also proves the bundle needs none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprokit import lazy

if TYPE_CHECKING:
    from reprokit.resolve.pipoutput import explain_pip_failure, failed_package
    from reprokit.run.failure import crash, missing_folder
    from reprokit.run.rebuild import Env, canonical, clean_env, find_python, installer_wheel, rebuild_pip
    from reprokit.run.runs import RUN_TIMEOUT, SHOWN, RunResult, command, run_entry_points, threads_asked, too_long
else:
    __getattr__ = lazy.exports(__name__)

__all__ = [
    "RUN_TIMEOUT", "SHOWN", "Env", "RunResult", "canonical", "clean_env", "command", "crash", "explain_pip_failure", "failed_package",
    "find_python", "installer_wheel", "missing_folder", "rebuild_pip", "run_entry_points", "threads_asked", "too_long",
]
