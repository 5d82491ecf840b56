"""Why pip failed, in one line: which package, at which step (asking its backend, building
its wheel), and the cause its output names (a missing header or tool, a module its build
imports, a file not in the bundle, the network).
"""

from __future__ import annotations

import re

_STEP = (
    (re.compile(r"Getting requirements to build (?:wheel|editable)|get_requires_for_build"), "asking its build backend what it needs"),
    (re.compile(r"Installing build dependencies|installing build dependencies"), "installing its build tools"),
    (re.compile(r"Preparing metadata|metadata-generation-failed|python setup\.py egg_info"), "preparing its metadata"),
    (re.compile(r"Building wheel for|Failed building wheel|bdist_wheel|wheel-build"), "building its wheel"),
    (re.compile(r"Running setup\.py install"), "running setup.py install"),
)


_CAUSES = (
    (re.compile(r"fatal error: ([\w./+-]+\.h(?:pp)?): No such file"), "missing C header {0} (a system library's development files)"),
    (re.compile(r"(?:^|\s)(\S+): (?:command )?not found"), "missing tool `{0}`"),
    (re.compile(r"error: command '([^']+)' failed"), "the compiler `{0}` failed"),
    (re.compile(r"cannot find -l(\w+)"), "missing system library lib{0} (linker)"),
    (re.compile(r"(?:Could not find a version that satisfies the requirement|No matching distribution found for) ([^\s(]+)"),
     "{0} is not in {source}"),
    (re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'|ImportError: No module named '?([\w.]+)"), "its build imports {0}, which its build tools lack"),
    (re.compile(r"Failed to establish a new connection|Network is unreachable|Temporary failure in name resolution|Could not fetch URL"),
     "it tried to reach the network (the rebuild is offline)"),
    (re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES|hash.*does not match"), "a vendored file does not match its hash in requirements.lock"),
    (re.compile(r"(\S+) requires Python ['\"]?([^'\"]+)"), "{0} needs Python {1}"),
)


_PACKAGE = re.compile(r"(?:Collecting|Processing|Building wheel for|Running setup\.py install for|Failed to build|Failed building wheel for|"
                      r"Getting requirements to build wheel for|Preparing metadata \(pyproject\.toml\) for)\s+(\S+)")


def _package_name(token: str) -> str:
    """``./vendor/sdist/numpy-1.13.3.zip``, ``numpy==1.13.3`` or ``numpy`` -> ``numpy``."""
    base = token.rstrip("/").rsplit("/", 1)[-1]
    base = re.sub(r"\.(tar\.gz|tar\.bz2|tgz|zip|whl)$", "", base)
    m = re.match(r"([A-Za-z0-9][A-Za-z0-9._]*?(?:-[A-Za-z][A-Za-z0-9._]*)*)(?:-\d|[=<>!~\[(;]|$)", base)
    return m.group(1) if m else base


def _error_at(lines: list[str]) -> int:
    return next((i for i, ln in enumerate(lines) if re.search(r"^\s*(ERROR|error|×)\b|did not run successfully|Failed", ln)), len(lines))


def failed_package(output: str) -> str:
    """The package pip was working on when it failed ("" when it does not say)."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    package = ""
    for ln in lines[: _error_at(lines) + 1]:
        m = _PACKAGE.search(ln)
        if m:
            package = _package_name(m.group(1))
    for ln in lines:
        m = re.search(r"Failed (?:to build|building wheel for) ([A-Za-z0-9][\w.-]*)", ln)
        if m:
            package = m.group(1)
    return package


def explain_pip_failure(output: str, source: str = "the bundle's vendor/ (pip looked there only)") -> str:
    """One line from pip's output: which package, at which step, and why. ``source``:
    where pip looked for distributions, for "X is not in …"."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    package = failed_package(output)
    step = ""
    error_at = _error_at(lines)
    for ln in lines[max(0, error_at - 40): error_at + 20]:
        for pat, what in _STEP:
            if pat.search(ln):
                step = what
    causes: list[str] = []
    for ln in lines:
        for pat, what in _CAUSES:
            m = pat.search(ln)
            if m:
                cause = what.format(*[g for g in m.groups() if g is not None], source=source)
                if cause not in causes:
                    causes.append(cause)
    detail = "; ".join(causes[:2])
    if not detail:
        # pip prints what the failed step said between "Complete output (N lines):" and a
        # line of dashes: its last line says why.
        for i, ln in enumerate(lines):
            if "Complete output" in ln:
                end = next((j for j, b in enumerate(lines[i + 1:]) if b.strip().startswith("---")), len(lines))
                said = [b.strip() for b in lines[i + 1:i + 1 + end] if b.strip()]
                if said:
                    detail = said[-1]
                    break
    if not detail:
        errors = [ln.strip() for ln in lines if re.search(r"\berror\b|Error:", ln) and "subprocess" not in ln and "See above" not in ln]
        detail = errors[-1] if errors else (lines[-1].strip() if lines else "no output")
    head = f"{package}: " if package else ""
    return f"{head}{step + ' failed: ' if step else ''}{detail}"
