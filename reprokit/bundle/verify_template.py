#!/usr/bin/env python3
"""Check this bundle with nothing but Python 3.6+ (no reprokit, no network).

    python3 verify.py

Every file listed in SHA256SUMS must exist and have that sha256; no other file may be
present (besides this script's own outputs). Prints how to rebuild and rerun the paper.
``sha256sum -c SHA256SUMS`` performs the same byte check.
"""

import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
IGNORED = {"SHA256SUMS", ".reprokit-published.json"}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    listed = {}
    with open(os.path.join(HERE, "SHA256SUMS"), encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            digest, sep, name = line.partition("  ")
            if not sep or len(digest) != 64:
                print("SHA256SUMS:%d: not a 'HASH  PATH' line" % n)
                return 1
            listed[name] = digest
    problems = []
    for name, digest in sorted(listed.items()):
        path = os.path.join(HERE, *name.split("/"))
        if not os.path.isfile(path):
            problems.append("missing   " + name)
        elif sha256(path) != digest:
            problems.append("changed   " + name)
    for root, dirs, files in os.walk(HERE):
        dirs[:] = [d for d in dirs if d not in ("result", "__pycache__")]
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), HERE).replace(os.sep, "/")
            if rel not in listed and rel not in IGNORED:
                problems.append("extra     " + rel)
    for p in problems:
        print(p)
    if problems:
        print("FAILED: %d problem(s) in %d files" % (len(problems), len(listed)))
        return 1
    print("OK: all %d files match SHA256SUMS" % len(listed))
    print(REBUILD)
    return 0


REBUILD = """
How to rebuild and rerun (see README.md for more):
  with Nix:   nix build          # the Python environment, from flake.lock and vendor/
              nix flake check    # rerun every entry point
  with pip:   python3 -m venv env
              env/bin/pip install --no-index --find-links vendor/sdist \\
                  --find-links vendor/wheels --require-hashes -r requirements.lock
              cd paper && ../env/bin/python <entry point>
"""

if __name__ == "__main__":
    sys.exit(main())
