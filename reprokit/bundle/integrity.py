"""Is a bundle exactly what reprokit writes? Every file matches SHA256SUMS and the manifest,
nothing is added or missing, every file is a regular, readable file, and what the other
files say (requirements.lock, pylock.toml, flake.lock, nix/lock.json, verify.py, the
entry points) agrees with the manifest. Nothing of a bundle runs before this passes.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from reprokit.bundle import manifest
from reprokit.bundle.manifest import Manifest
from reprokit.checks import Check, Problem
from reprokit.errors import InputError
from reprokit.fsutil import files_under
from reprokit.hashes import Hashing
from reprokit.nix import flake
from reprokit.resolve import lockfile as lock_mod

# verify.py is copied from reprokit's template; a bundle's must be that file, byte for
# byte, for the manifest format it was written with.
# The verify.py each manifest format ships. Formats 1 and 2 ship the same script; when it
# changes, the old one is kept under its own name here so older bundles still validate.
VERIFY_TEMPLATES = {1: "verify_template.py", 2: "verify_template.py"}


# The text files validate reads whole are far smaller than this in any bundle reprokit
# writes; a larger one is refused rather than read into memory.
MAX_TEXT = 64 << 20


def small_text(path: Path) -> str:
    """A text file of the bundle, read whole only when it is of a sane size."""
    if path.stat().st_size > MAX_TEXT:
        raise ValueError(f"larger than {MAX_TEXT >> 20} MiB")
    return path.read_text(encoding="utf-8")


def read_sums(bundle: Path) -> tuple[dict[str, str], list[Problem]]:
    try:
        text = small_text(bundle / "SHA256SUMS")
    except OSError:
        return {}, [Problem(path="SHA256SUMS", message="missing")]
    except ValueError as exc:
        return {}, [Problem(path="SHA256SUMS", message=f"not a SHA256SUMS file ({exc})")]
    return parse_sums(text)


# A line of SHA256SUMS as sha256sum writes it (a path with no line break in it).
_SUMS_LINE = re.compile(r"^([0-9a-f]{64})  ([^\n\r]+)\n", re.MULTILINE)


def parse_sums(text: str) -> tuple[dict[str, str], list[Problem]]:
    """Path -> sha256 of a SHA256SUMS text, and a problem for each line that is no
    'SHA256  PATH'."""
    lines = text.splitlines()
    pairs = _SUMS_LINE.findall(text)
    if len(pairs) == len(lines) and text.endswith("\n"):  # every line is one: read at once
        return {rel: digest for digest, rel in pairs}, []
    listed: dict[str, str] = {}
    problems = []
    for n, line in enumerate(lines, 1):
        m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
        if not m:
            problems.append(Problem(path="SHA256SUMS", message=f"line {n} is not 'SHA256  PATH'"))
            continue
        listed[m.group(2)] = m.group(1)
    return listed, problems


_NOT_PLAIN = re.compile(r"^[/~-]|[\\\x00-\x1f]")
_EMPTY_OR_DOTS = re.compile(r"(?:^|/)\.{0,2}(?:/|$)")


# Either of the two above, in any line of the paths joined by line breaks (a path holds no
# line break): when none is anywhere, no path is looked at on its own.
_ANY_UNSAFE = re.compile(r"^$|^[/~-]|[\\\x00-\x09\x0b-\x1f]|(?:^|/)\.{0,2}(?:/|$)", re.MULTILINE)


def safe_relpath(text: str) -> str | None:
    """Why ``text`` is not a plain relative path inside its folder, or None."""
    if not text or _NOT_PLAIN.search(text):
        return "not a plain relative path"
    if _EMPTY_OR_DOTS.search(text):
        return "has an empty, '.' or '..' part"
    return None


def check_entry_points(bundle: Path, man: Manifest) -> list[Problem]:
    """Entry points are files of paper/ (no options, no '..', no links out) of their kind."""
    problems = []
    paper = bundle / "paper"
    recorded = {f.path for f in man.paper_files}
    for e in man.entry_points:
        rel, kind = e.path, e.entry_point.kind
        why = safe_relpath(rel)
        if why is None and rel not in recorded:
            why = "not a file recorded in reprokit.yaml's paper_files"
        if why is None:
            target = paper / rel
            if any(p.is_symlink() for p in [target, *target.parents] if p != paper and paper in p.parents):
                why = "goes through a symlink"
            elif not target.is_file():
                why = "not a file"
            elif (kind == "notebook") != rel.endswith(".ipynb") or not rel.endswith((".py", ".ipynb")):
                why = f"a {kind} entry point must be a {'.ipynb' if kind == 'notebook' else '.py'} file"
        if why:
            problems.append(Problem(path="reprokit.yaml", message=f"entry point {rel!r}: {why}; entry points are files in paper/"))
        for o in e.outputs:
            owhy = safe_relpath(o.recorded.path)
            if owhy:
                problems.append(Problem(path="reprokit.yaml", message=f"output {o.recorded.path!r} of {e.name}: {owhy}"))
    return problems


def check_requirements(bundle: Path, man: Manifest) -> list[Problem]:
    """requirements.lock is exactly what reprokit writes, and pins what the manifest locks."""
    path = bundle / "requirements.lock"
    try:
        text = small_text(path)
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return [Problem(path="requirements.lock", message="missing, too large or not UTF-8 text")]
    pins, bad = lock_mod.parse_requirements(text)
    problems = [Problem(path="requirements.lock", message=f"line {n}: {why}") for n, why in bad]
    pinned = {p.name.lower().replace("_", "-"): p for p in pins}
    for pkg in man.packages:
        got = pinned.pop(pkg.name.lower().replace("_", "-"), None)
        if got is None:
            problems.append(Problem(path="requirements.lock", message=f"does not pin {pkg.name}, which reprokit.yaml locks"))
        elif got.version != pkg.version:
            problems.append(Problem(path="requirements.lock", message=f"line {got.line}: pins {got.name}=={got.version}, reprokit.yaml locks {pkg.version}"))
        else:
            for a in pkg.artifacts:
                if a.sha256 not in got.hashes:
                    problems.append(Problem(path="requirements.lock", message=f"does not allow {a.path} (sha256 {a.sha256[:12]}…)"))
    for extra in pinned.values():
        problems.append(Problem(path="requirements.lock", message=f"line {extra.line}: pins {extra.name}, which reprokit.yaml does not lock"))
    return problems


def check_pylock(bundle: Path, man: Manifest) -> list[Problem]:
    """pylock.toml is a PEP 751 lock (as ``packaging.pylock`` reads it) of what the manifest
    locks: the same Python, every package at its version, every vendored file by its
    path, sha256 and size. Bundles made before reprokit wrote it have none."""
    path = bundle / "pylock.toml"
    if not path.is_file():
        return []
    try:
        locked = lock_mod.parse_pylock(small_text(path))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return [Problem(path="pylock.toml", message="too large or not UTF-8 text")]
    except InputError as exc:
        return [Problem(path="pylock.toml", message=str(exc).split(": ", 1)[-1])]
    problems = []
    python = man.python.version
    if locked.requires_python != SpecifierSet(f"=={python}.*"):
        problems.append(Problem(path="pylock.toml", message=f"requires-python is {locked.requires_python}, reprokit.yaml targets Python {python}"))
    listed = {p.name: p for p in locked.packages}
    for pkg in man.packages:
        got = listed.pop(canonicalize_name(pkg.name), None)
        if got is None:
            problems.append(Problem(path="pylock.toml", message=f"does not lock {pkg.name}, which reprokit.yaml locks"))
            continue
        if got.version != Version(pkg.version):
            problems.append(Problem(path="pylock.toml", message=f"locks {got.name} {got.version}, reprokit.yaml locks {pkg.version}"))
            continue
        files = lock_mod.pylock_files(got)
        for a in pkg.artifacts:
            f = files.pop(a.path, None)
            if f is None:
                problems.append(Problem(path="pylock.toml", message=f"does not name {a.path}, which reprokit.yaml vendors for {pkg.name}"))
            elif f != (a.sha256, a.size):
                problems.append(Problem(path="pylock.toml", message=f"gives {a.path} another sha256 or size than reprokit.yaml"))
        for extra in files:
            problems.append(Problem(path="pylock.toml", message=f"names {extra} for {got.name}, which reprokit.yaml does not vendor"))
    for extra in listed:
        problems.append(Problem(path="pylock.toml", message=f"locks {extra}, which reprokit.yaml does not"))
    return problems


def check_verify_py(bundle: Path, man: Manifest) -> list[Problem]:
    template = VERIFY_TEMPLATES.get(man.format)
    if template is None:
        return [Problem(path="verify.py", message=f"no verify.py template for manifest format {man.format}")]
    want = resources.files("reprokit.bundle").joinpath(template).read_bytes()
    try:
        path = bundle / "verify.py"
        same = path.stat().st_size == len(want) and path.read_bytes() == want
    except OSError:
        return []  # missing: SHA256SUMS already says so
    return [] if same else [Problem(path="verify.py", message="is not reprokit's verify.py; it may do anything when run: do not run it")]


def _digests(bundle: Path, sizes: dict[str, int]) -> Callable[[], dict[str, str | OSError]]:
    """sha256 of every file, under way (see :class:`reprokit.hashes.Hashing`) until the
    function returned is called."""
    rels = list(sizes)
    root = str(bundle)
    hashing = Hashing([f"{root}/{rel}" for rel in rels], [sizes[rel] for rel in rels])

    def result() -> dict[str, str | OSError]:
        return {rel: d.hex() if isinstance(d, bytes) else d for rel, d in zip(rels, hashing.result(), strict=True)}
    return result


def check_integrity(bundle: Path) -> Check:
    return integrity_and_manifest(bundle)[0]


def integrity_and_manifest(bundle: Path) -> tuple[Check, Manifest | None]:
    """The integrity check, and the manifest it read (None when it cannot be read), so
    that a validate reads it once."""
    listed, problems = read_sums(bundle)
    unsafe = {rel: why for rel in listed if (why := safe_relpath(rel))} if _ANY_UNSAFE.search("\n".join(listed)) else {}
    for rel, why in unsafe.items():
        problems.append(Problem(path="SHA256SUMS", message=f"{rel!r}: {why}"))
    listed = {rel: d for rel, d in listed.items() if rel not in unsafe}
    try:
        actual = set(files_under(bundle))
    except OSError as exc:
        where = Path(exc.filename).relative_to(bundle).as_posix() if exc.filename and Path(exc.filename) != bundle else None
        return Check(name="integrity", ok=False, problems=(Problem(path=where, message=f"cannot be read ({exc.strerror})"),)), None
    actual.discard("SHA256SUMS")
    actual.discard(".reprokit-published.json")
    for rel in sorted(set(listed) - actual):
        problems.append(Problem(path=rel, message="listed in SHA256SUMS but missing"))
    for rel in sorted(actual - set(listed)):
        problems.append(Problem(path=rel, message="not listed in SHA256SUMS (added or renamed?)"))
    present = sorted(set(listed) & actual)
    sizes: dict[str, int] = {}
    root = str(bundle)
    for rel in present:
        st = os.lstat(f"{root}/{rel}")
        if stat.S_ISLNK(st.st_mode):
            problems.append(Problem(path=rel, message="is a symlink; bundles hold regular files only"))
        elif stat.S_ISREG(st.st_mode):
            sizes[rel] = st.st_size
        else:  # a FIFO or a device would block or never end a read
            problems.append(Problem(path=rel, message="is not a regular file; bundles hold regular files only"))
    hashed = _digests(bundle, sizes)
    man = None
    unread = None  # the manifest is read while the files are hashed
    try:
        man = manifest.read(bundle / "reprokit.yaml")
    except InputError as exc:
        unread = Problem(path="reprokit.yaml", message=str(exc).split(": ", 1)[-1])
    digests = hashed()
    for rel in sorted(sizes):
        if isinstance(digests[rel], OSError):
            problems.append(Problem(path=rel, message=f"cannot be read ({digests[rel].strerror})"))  # type: ignore[union-attr]
        elif digests[rel] != listed[rel]:
            problems.append(Problem(path=rel, message="sha256 differs from SHA256SUMS"))
    if unread is not None:
        problems.append(unread)
    if man is not None:
        for f in man.paper_files:
            rel = "paper/" + f.path
            if listed.get(rel) not in (None, f.sha256):
                problems.append(Problem(path=rel, message="sha256 in reprokit.yaml differs from SHA256SUMS"))
            if rel not in listed:
                problems.append(Problem(path=rel, message="in reprokit.yaml but not in SHA256SUMS"))
        for e in man.entry_points:
            for o in e.outputs:
                rel = f"outputs/{e.name}/{o.recorded.path}"
                if o.recorded.kept and listed.get(rel) != o.recorded.sha256:
                    why = "in reprokit.yaml but not in SHA256SUMS" if rel not in listed else "sha256 in reprokit.yaml differs from SHA256SUMS"
                    problems.append(Problem(path=rel, message=why))
        paper_listed = {k[len("paper/"):] for k in listed if k.startswith("paper/")}
        for rel in sorted(paper_listed - {f.path for f in man.paper_files}):
            problems.append(Problem(path="paper/" + rel, message="not recorded in reprokit.yaml"))
        try:
            lock_text = small_text(bundle / "requirements.lock")
        except (OSError, ValueError):
            lock_text = ""
        problems += check_requirements(bundle, man)
        problems += check_pylock(bundle, man)
        problems += check_entry_points(bundle, man)
        problems += check_verify_py(bundle, man)
        nix_doc: dict[str, Any] | None = None
        if man.nixpkgs is not None:
            nix_doc, nix_problems = read_nix_lock(bundle)
            # Bundles of earlier reprokit versions built from nix/python-packages.nix instead.
            if not (nix_doc is None and (bundle / "nix" / "python-packages.nix").is_file()):
                problems += nix_problems
        built_from = {p["name"]: p["src"]["path"] for p in nix_doc["packages"] if "src" in p} if nix_doc else {}
        tools = man.build_tools.packages if man.build_tools else ()
        kept = {a.path for a in [*(a for p in man.packages for a in p.artifacts), *(a for t in tools for a in t.artifacts)]}
        for rel in sorted(k for k in listed if k.startswith("vendor/") and not k.startswith("vendor/nixpkgs/") and k not in kept):
            problems.append(Problem(path=rel, message="vendored but named by no package or build tool in reprokit.yaml"))
        for tool in tools:
            for a in tool.artifacts:
                if listed.get(a.path) not in (None, a.sha256):
                    problems.append(Problem(path=a.path, message="sha256 in reprokit.yaml differs from SHA256SUMS"))
                if a.path not in listed:
                    problems.append(Problem(path=a.path, message="in reprokit.yaml but not in SHA256SUMS"))
        for pkg in man.packages:
            for a in pkg.artifacts:
                if listed.get(a.path) not in (None, a.sha256):
                    problems.append(Problem(path=a.path, message="sha256 in reprokit.yaml differs from SHA256SUMS"))
                if a.sha256 not in lock_text:
                    problems.append(Problem(path="requirements.lock", message=f"does not allow {a.path} (sha256 {a.sha256[:12]}…)"))
                if nix_doc and pkg.provider == a.kind and built_from.get(pkg.name) != a.path:
                    problems.append(Problem(path=flake.LOCK_JSON, message=f"does not build {pkg.name} from {a.path}"))
        if nix_doc:
            problems += nix_source_problems(nix_doc, listed)
            # The flake's checks compare nothing reprokit.yaml does not record, byte for byte.
            recorded = {e.name: {o.recorded.path: o.recorded.sha256 for o in e.outputs} for e in man.entry_points}
            for e in nix_doc["entryPoints"]:
                mine = recorded.get(e["name"], {})
                if any(mine.get(o["path"]) != o["sha256"] for o in e["outputs"]) or any(o["path"] not in mine for o in e.get("ruled", [])):
                    problems.append(Problem(path=flake.LOCK_JSON, message=f"the outputs its check compares for {e['name']} are not those reprokit.yaml records"))
            if list(nix_doc.get("pythonPath", [])) != list(man.python_path):
                problems.append(Problem(path=flake.LOCK_JSON, message="its pythonPath is not reprokit.yaml's python_path"))
        if man.nixpkgs is not None:
            pin = man.nixpkgs
            try:
                node = json.loads(small_text(bundle / "flake.lock"))["nodes"]["nixpkgs"]["locked"]
                for key, want in (("rev", pin.rev), ("narHash", pin.nar_hash), ("lastModified", pin.last_modified)):
                    if node.get(key) != want:
                        problems.append(Problem(path="flake.lock", message=f"nixpkgs {key} {node.get(key)!r} differs from reprokit.yaml's {want!r}"))
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
                problems.append(Problem(path="flake.lock", message="missing or not a flake.lock with a nixpkgs node"))
    return Check(name="integrity", ok=not problems, problems=tuple(problems), details=f"{len(listed)} files"), man


def read_nix_lock(bundle: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The bundle's ``nix/lock.json``, or why it cannot be used."""
    path = bundle / flake.LOCK_JSON
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("reprokit_nix") != flake.LOCK_JSON_FORMAT:
            return None, [Problem(path=flake.LOCK_JSON, message=f"format {doc.get('reprokit_nix')!r}, this reprokit reads {flake.LOCK_JSON_FORMAT}")]
        flake.sources(doc)
        return doc, []
    except OSError:
        return None, [Problem(path=flake.LOCK_JSON, message="missing: the Nix build has nothing to build from")]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None, [Problem(path=flake.LOCK_JSON, message="not the JSON reprokit writes")]


def nix_source_problems(doc: dict[str, Any], listed: dict[str, str]) -> list[Problem]:
    """Every file the Nix build names is in vendor/, listed in SHA256SUMS with the same sha256."""
    problems = []
    for rel, sha in sorted(flake.sources(doc).items()):
        if not rel.startswith("vendor/") or ".." in rel.split("/") or rel not in listed:
            problems.append(Problem(path=flake.LOCK_JSON, message=f"builds from {rel}, which the bundle's vendor/ does not hold"))
        elif listed[rel] != sha:
            problems.append(Problem(path=rel, message=f"sha256 in {flake.LOCK_JSON} differs from SHA256SUMS"))
    return problems
