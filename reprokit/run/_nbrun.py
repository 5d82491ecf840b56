"""Run one notebook: nbclient from reprokit's own environment drives a kernel started
with the paper's Python, so the paper's environment needs only ipykernel and keeps
whatever Jupyter versions it pins.

    python -m reprokit._nbrun NOTEBOOK --python PAPER_PYTHON [--pythonpath DIR]
                              [--timeout S] [--output EXECUTED.ipynb]

Exit status 0 when every cell ran; otherwise 1 and one line on stderr that names the
cell and the error. The executed notebook (with the outputs of this run) is written to
``--output`` even when a cell failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def kernel_argv(python: str, pythonpath: str | None) -> list[str]:
    """``ipykernel_launcher`` where the kernel has it (ipykernel 4.6+), else ``ipykernel``."""
    env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    probe = subprocess.run([python, "-c", "import ipykernel_launcher"], capture_output=True, env=env, timeout=120)
    if probe.returncode != 0:
        has_kernel = subprocess.run([python, "-c", "import ipykernel"], capture_output=True, env=env, timeout=120)
        if has_kernel.returncode != 0:
            raise SystemExit("the rebuilt environment has no ipykernel: the lock should hold it for notebooks")
        return [python, "-m", "ipykernel", "-f", "{connection_file}"]
    return [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A frame of an IPython traceback: "File /x/y.py:1281, in f(...)" (IPython 8), "/x/y.py in
# f(...)" (IPython 7, its line marked "--> 1281" below), or Python's own 'File "/x/y.py", line 3'.
# A library's compiled (Cython) code names its source as it was built, relative:
# "File numpy/random/mtrand.pyx:1579" (IPython 8), "mtrand.pyx in mtrand.RandomState.normal()".
_TB_FRAME = re.compile(r'(/[^\s:"]+\.pyx?|(?<![^\s"])[\w.-]+(?:/[\w.-]+)*\.pyx)(?::(\d+)|", line (\d+)| in )')
_TB_ARROW = re.compile(r"^-+> ?(\d+)", re.M)


def _raised_in(traceback: str, folder: Path) -> str:
    """`` (in matplotlib/axes/_base.py, line 1281)``: the innermost frame of a cell's
    traceback in a file of a library (what follows site-packages/, or the ``.pyx`` source
    its compiled code names) or of the paper (its path from the notebook's folder); ""
    when the error came from the cell itself."""
    text = _ANSI.sub("", traceback)
    frames = list(_TB_FRAME.finditer(text))
    if not frames:
        return ""
    last = frames[-1]
    path = last.group(1)
    line = last.group(2) or last.group(3)
    if line is None:
        arrow = _TB_ARROW.search(text, last.end())
        line = arrow.group(1) if arrow else None
    if "/site-packages/" in path:
        path = path.split("/site-packages/", 1)[1]
    elif path.startswith(f"{folder}/"):
        path = path[len(str(folder)) + 1:]
    elif path.startswith("/"):
        return ""
    # else a library's compiled code, named by its source as it was built
    return f" (in {path}, line {line})" if line else f" (in {path})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reprokit._nbrun")
    p.add_argument("notebook")
    p.add_argument("--python", required=True)
    p.add_argument("--pythonpath")
    p.add_argument("--timeout", type=int, default=1800)
    p.add_argument("--output")
    args = p.parse_args(argv)


    path = Path(args.notebook).resolve()
    try:
        nb = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises several types for a broken file
        print(f"{path.name}: not a readable notebook ({exc.__class__.__name__}: {_one_line(str(exc))})", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="reprokit-kernel-") as tmp:
        spec = Path(tmp) / "kernels" / "reprokit-paper"
        spec.mkdir(parents=True)
        kernel: dict[str, object] = {"argv": kernel_argv(args.python, args.pythonpath), "display_name": "the paper's Python", "language": "python"}
        if args.pythonpath:
            kernel["env"] = {"PYTHONPATH": args.pythonpath}
        (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
        os.environ["JUPYTER_PATH"] = tmp
        # No timing metadata: an executed notebook should differ between runs only where
        # its outputs do.
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="reprokit-paper", allow_errors=False, record_timing=False,
                                resources={"metadata": {"path": str(path.parent)}})
        failed = ""
        try:
            with client.setup_kernel():
                code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    # Where the run is, for reprokit's progress lines (sandbox.PROGRESS_PREFIX).
                    print(f"reprokit-progress: cell {index + 1} (code cell {code.index(index) + 1} of {len(code)})", file=sys.stderr, flush=True)
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as exc:
                        # The first line of the error, as Python's traceback ends with it: the
                        # lines after it explain (numpy's removed aliases end with a URL).
                        first = next((ln.strip() for ln in exc.evalue.splitlines() if ln.strip()), "")
                        failed = f"cell {index + 1}: {exc.ename}: {first or exc.ename}{_raised_in(exc.traceback, path.parent)}"
                        break
                    except CellTimeoutError:
                        failed = f"cell {index + 1}: timed out after {args.timeout}s"
                        break
        except DeadKernelError as exc:
            failed = failed or f"the kernel died ({_one_line(str(exc))})"
        except RuntimeError as exc:  # the kernel never started
            failed = failed or f"the kernel did not start ({_one_line(str(exc))})"
        if args.output:
            nbformat.write(nb, args.output)  # type: ignore[no-untyped-call]
    if failed:
        print(f"{path.name}: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
