"""Paired timing of two commands: the one the benchmark is about and its yardstick.

Each round runs both, in alternating order (A B, then B A, ...) so that neither always
gets the warmer cache or the quieter moment; the result is the median of each and the
ratio of the medians. Both sides run the same way: as subprocesses, with the page cache
warmed by one unmeasured run of each first.
"""

from __future__ import annotations

import compileall
import hashlib
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paired:
    ours: tuple[float, ...]
    theirs: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """Our median time over theirs: below 1.0, ours is faster."""
        return statistics.median(self.ours) / statistics.median(self.theirs)

    def line(self, ours: str, theirs: str, target: str) -> str:
        mo, mt = statistics.median(self.ours), statistics.median(self.theirs)
        return (f"median of {len(self.ours)}: {ours} {mo:.3f}s, {theirs} {mt:.3f}s; "
                f"ratio {self.ratio:.2f}x the time of {theirs} ({target})")


REPO = Path(__file__).resolve().parent.parent


def installed_reprokit() -> list[str]:
    """The command of reprokit installed from this working tree as a user installs it: a
    wheel (no editable finder, which the interpreter imports at every start), its
    bytecode compiled, in a venv of its own under ``benchmarks/.work/installed``. It is
    installed again when a source file changed. Falls back to ``python -m reprokit``,
    and says so, where ``uv`` is missing."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        print("uv not found: timing reprokit as run from this checkout (python -m reprokit)")
        compileall.compile_dir(str(REPO / "reprokit"), quiet=1)
        return [sys.executable, "-m", "reprokit"]
    venv = REPO / "benchmarks" / ".work" / "installed"
    digest = hashlib.sha256()
    for p in sorted([REPO / "pyproject.toml", *(REPO / "reprokit").rglob("*")]):
        if p.is_file() and "__pycache__" not in p.parts:
            digest.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes())
    stamp = venv / ".source"
    if not stamp.exists() or stamp.read_text() != digest.hexdigest():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(venv / "bin" / "python"), str(REPO)], check=True)
        stamp.write_text(digest.hexdigest())
    return [str(venv / "bin" / "reprokit")]


def run(cmd: Sequence[str], cwd: Path | None = None) -> tuple[float, str]:
    """Wall time of one run, and its standard output; a failure stops the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stdout[-400:]} {proc.stderr[-400:]}")
    return elapsed, proc.stdout.strip()


def paired(ours: Sequence[str], theirs: Sequence[str], rounds: int, cwd: Path | None = None,
           same: Callable[[str, str], bool] | None = None, say: Callable[[str], None] = print) -> Paired:
    """Time ``ours`` against ``theirs`` over ``rounds`` alternating rounds; ``same`` (when
    given) must hold for the two outputs of every round, or the benchmark stops. Time
    reprokit as :func:`installed_reprokit` has it."""
    run(theirs, cwd)
    run(ours, cwd)
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        order = [(ours, a), (theirs, b)] if i % 2 == 0 else [(theirs, b), (ours, a)]
        outs = {}
        for cmd, into in order:
            t, out = run(cmd, cwd)
            into.append(t)
            outs[id(into)] = out
        if same is not None and not same(outs[id(a)], outs[id(b)]):
            raise SystemExit(f"round {i + 1}: the two disagree:\n  ours:   {outs[id(a)][:300]}\n  theirs: {outs[id(b)][:300]}")
        say(f"  round {i + 1}: ours {a[-1]:.3f}s, theirs {b[-1]:.3f}s")
    return Paired(tuple(a), tuple(b))
