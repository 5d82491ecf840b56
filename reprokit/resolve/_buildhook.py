# Run by reprokit with the paper's Python (2.7 or 3.x) to ask an unpacked sdist's build
# backend what else it needs to build a wheel (PEP 517 get_requires_for_build_wheel:
# setup_requires for setuptools). Standalone and Python 2.7-compatible on purpose.
#
#   python -S _buildhook.py TOOLS_DIR SOURCE_DIR BACKEND BACKEND_PATH_JSON
#
# Prints one line "REPROKIT-REQUIRES <json list>" (setup.py may print anything else).
import importlib
import json
import os
import sys


def main():
    tools, src, backend, backend_path = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    sys.path[:0] = [os.path.join(src, p) for p in backend_path] + [tools]
    os.chdir(src)
    module_name, _, attrs = backend.partition(":")
    obj = importlib.import_module(module_name)
    for attr in [a for a in attrs.split(".") if a]:
        obj = getattr(obj, attr)
    hook = getattr(obj, "get_requires_for_build_wheel", None)
    requires = list(hook({})) if hook is not None else []
    sys.stdout.write("\nREPROKIT-REQUIRES " + json.dumps([str(r) for r in requires]) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
