"""Is every third-party import of the paper covered by a locked package? Read from the
bundle alone: the manifest, and the files the vendored distributions hold.
"""

from __future__ import annotations

from pathlib import Path

from reprokit.bundle.manifest import Manifest
from reprokit.checks import Check, Problem
from reprokit.errors import ReprokitError
from reprokit.resolve import pypi
from reprokit.scan import ScanSettings, reachable_files, scan


def check_completeness(bundle: Path, man: Manifest) -> Check:
    """Every third-party import of the paper is provided by a locked distribution. The scan
    here is offline: an import only a distribution's files tell (``labellines`` from
    matplotlib-label-lines) is taken from the manifest, when that distribution is locked and
    its vendored files hold the module."""
    result = scan(ScanSettings(path=bundle / "paper", python=man.python.version))
    locked = {p.name for p in man.packages}
    matched = {i.module.split(".")[0]: i.distribution for i in man.imports if i.distribution in locked}
    # What the entry points run or import: an import only in files they never reach (an old
    # draft) is no part of what the bundle reruns.
    local = [(loc.split(":", 1)[0], i.top) for i in result.imports if i.kind == "local" for loc in i.locations]
    starts = [e.path for e in man.entry_points]
    reached = reachable_files(starts, local, result.files) if starts else frozenset(result.files)
    problems = []
    unreached: list[str] = []
    for imp in result.imports:
        if imp.kind != "third-party" or imp.optional:
            continue
        if (imp.distribution is None or imp.distribution not in locked) and not _vendored_provides(bundle, man, matched.get(imp.top), imp.top):
            where = imp.locations[0] if imp.locations else None
            if not any(loc.split(":", 1)[0] in reached for loc in imp.locations):
                unreached.append(f"{imp.module} ({where})")
                continue
            what = imp.distribution or "no known distribution"
            problems.append(Problem(path=f"paper/{where}" if where else None, message=f"imports {imp.module} ({what}), which is not locked"))
    details = (f"not locked, and imported only by files no entry point runs or imports: {', '.join(unreached)}" if unreached else "")
    return Check(name="completeness", ok=not problems, problems=tuple(problems), details=details)


def _vendored_provides(bundle: Path, man: Manifest, distribution: str | None, module: str) -> bool:
    """Whether a vendored file of ``distribution`` holds the top-level ``module``."""
    for package in man.packages:
        if distribution is None or package.name != distribution:
            continue
        for artifact in package.artifacts:
            path = bundle / artifact.path
            if not artifact.path.startswith("vendor/") or not path.is_file() or path.is_symlink():
                continue
            try:
                if module in pypi.top_level_modules(pypi.file_names(path)):
                    return True
            except ReprokitError:
                continue
    return False
