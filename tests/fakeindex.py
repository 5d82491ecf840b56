"""A small PyPI-like index on 127.0.0.1 serving real wheels and sdists built here.

Speaks the PEP 691 JSON simple API with URLs relative to the page (as some mirrors do),
honours Range requests, and can be told to misbehave: fail with a status a number of
times, stall, cut a body short, or serve wrong bytes.
"""

from __future__ import annotations

import ensurepip
import hashlib
import io
import json
import re
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakeservers import reply, serve

DATA = Path(__file__).parent / "data"


def build_wheel(name: str, version: str, requires: list[str] = (), tag: str = "py3-none-any", module: str | None = None,  # type: ignore[assignment]
                code: dict[str, str] | None = None, purelib: bool = True, requires_python: str | None = None) -> tuple[str, bytes]:
    """A wheel of ``name`` holding ``module/__init__.py`` (or the files in ``code``);
    ``purelib=False`` marks it a wheel of compiled code (``Root-Is-Purelib: false``)."""
    dist_name = name.replace("-", "_")
    mod = module or dist_name
    dist = f"{dist_name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    meta += f"Requires-Python: {requires_python}\n" if requires_python else ""
    files = {
        **(code or {f"{mod}/__init__.py": f"__version__ = {version!r}\n"}),
        f"{dist}/METADATA": meta,
        f"{dist}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: {str(purelib).lower()}\nTag: {tag}\n",
    }
    record = "".join(f"{p},sha256={hashlib.sha256(c.encode()).hexdigest()},{len(c)}\n" for p, c in files.items()) + f"{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p, c in files.items():
            zi = zipfile.ZipInfo(p, date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(zi, c)
    return f"{dist_name}-{version}-{tag}.whl", buf.getvalue()


def build_sdist(name: str, version: str, requires: list[str] = (), code: dict[str, str] | None = None) -> tuple[str, bytes]:  # type: ignore[assignment]
    """An sdist of ``name`` built by setuptools from PEP 621 metadata (or holding the files
    in ``code``, relative to its top folder)."""
    mod = name.replace("-", "_")
    root = f"{mod}-{version}"
    files = {f"{root}/{k}": v for k, v in (code or {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        "pyproject.toml": f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "{name}"\nversion = "{version}"\ndependencies = {json.dumps(list(requires))}\n',
        f"{mod}/__init__.py": f"__version__ = {version!r}\n",
    }).items()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for p, c in files.items():
            data = c.encode()
            info = tarfile.TarInfo(p)
            info.size = len(data)
            info.mtime = 1704067200
            tf.addfile(info, io.BytesIO(data))
    return f"{mod}-{version}.tar.gz", buf.getvalue()


@dataclass
class Dist:
    filename: str
    data: bytes
    upload_time: str
    yanked: bool = False
    requires_python: str | None = None  # as the index says it (data-requires-python)


@dataclass
class FakeIndex:
    projects: dict[str, list[Dist]] = field(default_factory=dict)
    faults: dict[str, list[object]] = field(default_factory=dict)  # path -> queue of faults
    log: list[str] = field(default_factory=list)
    ranges: list[tuple[str, str]] = field(default_factory=list)  # (path, Range header) asked for
    lock: threading.Lock = field(default_factory=threading.Lock)
    installer: bool = True  # serve the running Python's own pip wheel, which rebuilds use

    def __post_init__(self) -> None:
        if self.installer:
            self.add_installer()

    def add(self, name: str, version: str, requires: list[str] = (), *, uploaded: str = "2023-06-01T00:00:00Z", sdist: bool = True, wheel: bool = True,  # type: ignore[assignment]
            yanked: bool = False, module: str | None = None, requires_python: str | None = None) -> None:
        files = self.projects.setdefault(name, [])
        if wheel:
            files.append(Dist(*build_wheel(name, version, list(requires), module=module, requires_python=requires_python), uploaded, yanked,
                              requires_python))
        if sdist:
            files.append(Dist(*build_sdist(name, version, list(requires)), uploaded, yanked, requires_python))

    def add_file(self, name: str, filename: str, data: bytes, *, uploaded: str = "2023-06-01T00:00:00Z") -> None:
        """Serve a real distribution file (a pip or setuptools wheel) under ``name``."""
        self.projects.setdefault(name, []).append(Dist(filename, data, uploaded))

    def add_installer(self) -> None:
        """The pip wheel the running Python bundles (ensurepip): the installer a rebuild uses."""
        bundled = Path(ensurepip.__file__).parent / "_bundled"
        wheel = next(bundled.glob("pip-*.whl"))
        self.add_file("pip", wheel.name, wheel.read_bytes())

    def add_build_tools(self) -> None:
        """Real setuptools and wheel wheels, for the sdists the tests build: the running
        Python's own setuptools (ensurepip's, new enough for PEP 621 metadata) where it
        has one, else the one kept in tests/data/, and wheel from tests/data/."""
        bundled = sorted((Path(ensurepip.__file__).parent / "_bundled").glob("setuptools-*.whl"))
        for path in [*bundled, *sorted(DATA.glob("*.whl"))]:
            name = path.name.split("-")[0]
            if name == "setuptools" and bundled and path not in bundled:
                continue
            self.add_file(name, path.name, path.read_bytes())

    def file(self, filename: str) -> Dist:
        return next(d for ds in self.projects.values() for d in ds if d.filename == filename)

    def fault(self, path_suffix: str, *faults: object) -> None:
        self.faults.setdefault(path_suffix, []).extend(faults)

    def _take_fault(self, path: str) -> object | None:
        with self.lock:
            for suffix, queue in self.faults.items():
                if path.endswith(suffix) and queue:
                    return queue.pop(0)
        return None

    def handle(self, h) -> None:  # type: ignore[no-untyped-def]
        path = h.path.split("?")[0]
        fault = self._take_fault(path)
        if isinstance(fault, int):
            reply(h, fault, b"{}", headers={"Retry-After": "0"} if fault == 429 else None)
            return
        if fault == "stall":
            time.sleep(3)
        m = re.fullmatch(r"/simple/([^/]+)/", path)
        if m:
            name = m.group(1)
            if name not in self.projects:
                reply(h, 404, b"{}")
                return
            files = [{
                "filename": d.filename, "url": f"../../files/{d.filename}", "hashes": {"sha256": hashlib.sha256(d.data).hexdigest()},
                "size": len(d.data), "upload-time": d.upload_time, "yanked": d.yanked, "requires-python": d.requires_python,
            } for d in self.projects[name]]
            reply(h, 200, json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}).encode(), "application/vnd.pypi.simple.v1+json")
            return
        m = re.fullmatch(r"/files/(.+)", path)
        if m:
            try:
                d = self.file(m.group(1))
            except StopIteration:
                reply(h, 404, b"")
                return
            data = d.data
            if fault == "corrupt":
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            rng = h.headers.get("Range")
            if rng:
                self.ranges.append((path, rng))
            if rng and fault != "norange":
                start = int(re.match(r"bytes=(\d*)-(\d*)", rng).group(1) or 0)  # type: ignore[union-attr]
                if start >= len(data):
                    reply(h, 416, b"", "application/octet-stream")
                    return
                part = data[start:]
                h.send_response(206)
                h.send_header("Content-Type", "application/octet-stream")
                h.send_header("Content-Length", str(len(part)))
                h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                h.end_headers()
                h.wfile.write(part)
                return
            if fault == "truncate":
                h.send_response(200)
                h.send_header("Content-Type", "application/octet-stream")
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            reply(h, 200, data, "application/octet-stream")
            return
        reply(h, 404, b"{}")


@contextmanager
def running(index: FakeIndex) -> Iterator[str]:
    with serve(index.handle) as (base, log):
        index.log = log
        yield base
