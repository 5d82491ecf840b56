"""Small papers for the output tests: scripts that write results the way real papers do,
run with plain ``subprocess`` and this Python, each run in a fresh copy of the paper.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import write_tree

# (a) Numbers that differ in the 12th digit from run to run, as BLAS reductions in another
# order make them; the seed is unset on purpose. SCALE lets a test change the result.
FLOAT_NOISE = '''
import csv, json, os, random
from pathlib import Path

scale = float(os.environ.get("SCALE", "1"))
noise = lambda: 1 + random.uniform(-4e-12, 4e-12)
Path("results").mkdir(exist_ok=True)
slope, intercept = 0.51234567891234 * noise() * scale, 1.2500000000001 * noise()
Path("results/summary.json").write_text(json.dumps({"model": {"slope": slope, "intercept": intercept, "n": 120},
                                                    "groups": ["control", "light"]}, indent=2))
with open("results/table1.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["treatment", "mean_growth", "sd"])
    w.writerow(["control", repr(2.3456789012345 * noise()), repr(0.41 * noise())])
    w.writerow(["light", repr(2.9876543210987 * noise() * scale), repr(0.39 * noise())])
Path("results/log.txt").write_text(f"fitted 120 points\\nslope = {slope!r}\\nintercept = {intercept!r}\\n")
'''

# (b) Figures whose files carry the time they were made: a PNG text chunk and PDF dates.
TIMESTAMPED = '''
import time
from pathlib import Path
from PIL import Image, ImageDraw, PngImagePlugin

Path("figures").mkdir(exist_ok=True)
im = Image.new("RGB", (200, 150), "white")
d = ImageDraw.Draw(im)
d.rectangle([40, 50, 80, 140], fill=(31, 119, 180))
d.rectangle([110, 20, 150, 140], fill=(255, 127, 14))
info = PngImagePlugin.PngInfo()
info.add_text("Creation Time", time.strftime("%Y-%m-%d %H:%M:%S") + f".{time.time_ns() % 10**9:09d}")
im.save("figures/fig1.png", pnginfo=info)
im.save("figures/fig1.pdf", producer=f"paper.py {time.time_ns()}", creationDate=time.gmtime(), modDate=time.gmtime())
'''

# (c) A figure drawn with anti-aliasing (supersampled, then averaged down) whose curve sits
# a fraction of a pixel higher or lower on each run (OFFSET, as noisy data would move it).
ANTIALIASED = '''
import os
from pathlib import Path
from PIL import Image, ImageDraw

S = 4
off = float(os.environ["OFFSET"])
im = Image.new("RGB", (320 * S, 240 * S), "white")
d = ImageDraw.Draw(im)
d.line([(20 * S, (200 + off) * S), (300 * S, (40 + off) * S)], fill=(31, 119, 180), width=2 * S)
d.ellipse([(100 + off) * S, 100 * S, (140 + off) * S, 140 * S], outline=(255, 127, 14), width=2 * S)
Path("figures").mkdir(exist_ok=True)
im.resize((320, 240), Image.BOX).save("figures/fig2.png")
'''


def make_paper(root: Path, script: str, name: str = "run.py") -> Path:
    return write_tree(root, {name: script})


def run_paper(paper: Path, work: Path, script: str = "run.py", env: dict[str, str] | None = None) -> dict[str, Path]:
    """Run ``script`` in a fresh copy of ``paper`` under ``work``; the files it wrote."""
    shutil.copytree(paper, work)
    before = {p for p in work.rglob("*") if p.is_file()}
    proc = subprocess.run([sys.executable, script], cwd=work, capture_output=True, text=True, env={**_base_env(), **(env or {})}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {p.relative_to(work).as_posix(): p for p in sorted(work.rglob("*")) if p.is_file() and p not in before}


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "SCALE"}


def runs(paper: Path, tmp: Path, envs: list[dict[str, str]], windows: list[tuple[float, float]] | None = None) -> list[dict[str, Path]]:
    """Each run's outputs; ``windows`` gets when each run started and ended."""
    out = []
    for i, env in enumerate(envs):
        started = time.time()
        out.append(run_paper(paper, tmp / f"run{i}", env=env))
        if windows is not None:
            windows.append((started, time.time()))
    return out


# Notebooks, built by hand: the stored outputs, and "rerun" outputs as a kernel would give.

def png(offset: float = 0.0, colour: tuple[int, int, int] = (31, 119, 180)) -> str:
    from PIL import Image, ImageDraw

    s = 4
    im = Image.new("RGB", (160 * s, 120 * s), "white")
    d = ImageDraw.Draw(im)
    d.line([(10 * s, (100 + offset) * s), (150 * s, (20 + offset) * s)], fill=colour, width=2 * s)
    buf = io.BytesIO()
    im.resize((160, 120), Image.BOX).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def notebook(mean: str, array: str, address: str, wall: str, figure: str, stderr: str = "") -> bytes:
    """A notebook of five code cells with stored outputs; the arguments are what varies."""
    def code(n: int, source: str, outputs: list[dict[str, object]]) -> dict[str, object]:
        return {"cell_type": "code", "id": f"c{n}", "execution_count": n, "metadata": {}, "source": source, "outputs": outputs}

    cells = [
        {"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "# Growth study"},
        code(1, "import numpy as np\nrng = np.random.default_rng()", []),
        code(2, "x = growth()\nprint(f'mean growth = {x.mean()}')",
             [{"output_type": "stream", "name": "stdout", "text": [f"mean growth = {mean}\n"]}]
             + ([{"output_type": "stream", "name": "stderr", "text": [stderr]}] if stderr else [])),
        code(3, "x[:3]", [{"output_type": "execute_result", "execution_count": 3, "metadata": {}, "data": {"text/plain": [array]}}]),
        code(4, "%%time\nmodel = Model()\nmodel", [
            {"output_type": "stream", "name": "stdout", "text": ["CPU times: user 1.2 ms, sys: 0 ns, total: 1.2 ms\n", f"Wall time: {wall}\n"]},
            {"output_type": "execute_result", "execution_count": 4, "metadata": {}, "data": {"text/plain": [f"<Model object at {address}>"]}},
        ]),
        code(5, "plot(x)", [{"output_type": "display_data", "metadata": {},
                             "data": {"image/png": figure, "text/plain": ["<Figure size 160x120 with 1 Axes>"]}}]),
    ]
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "cells": cells}
    return json.dumps(nb, indent=1).encode()


# (e) A summary and a log table that say when they were written: epoch seconds and
# milliseconds, an ISO date-time with its zone and a naive one (local time), beside seeded
# results. LATER moves the clock the script reads, as a rerun days later would.
WALL_CLOCK = '''
import csv, datetime, json, os, random, time
from pathlib import Path

later = float(os.environ.get("LATER", "0"))
now = lambda: time.time() + later
random.seed(7)
ys = [random.gauss(0, 1) for _ in range(100)]
Path("results").mkdir(exist_ok=True)
Path("results/summary.json").write_text(json.dumps({
    "mean_y": sum(ys) / len(ys), "generated_at": now(), "runs": [{"step": i, "ms": int(now() * 1000)} for i in range(3)],
    "when": datetime.datetime.fromtimestamp(now(), datetime.timezone.utc).isoformat(), "day": "2024-01-20"}))
with open("results/log.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["step", "value", "finished"])
    for i in range(3):
        w.writerow([i, repr(ys[i]), datetime.datetime.fromtimestamp(now()).isoformat(timespec="seconds")])
'''
