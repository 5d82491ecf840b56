"""The property tests with new random examples, many more of them: the search for bugs
that CI, which draws the same examples every run, does not do.

    python benchmarks/explore_properties.py [PYTEST ARGS ...]

Runs the Hypothesis tests (skeleton parse against the full parse, NAR hashes against Nix,
the paper tree walk) under ``HYPOTHESIS_PROFILE=explore``: a fresh seed each run and 30
times the examples CI draws. A failure prints the example and a ``@reproduce_failure``
blob; add the example to the test's fixed cases (as TRICKY in tests/test_skeleton.py) with
the fix. Meant for a nightly job; it takes several minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROPERTY_TESTS = ["tests/test_skeleton.py", "tests/test_hashes.py", "tests/test_tree.py"]


def main() -> int:
    env = {**os.environ, "HYPOTHESIS_PROFILE": "explore"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PROPERTY_TESTS, *sys.argv[1:]]
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
