"""The bundle's Nix build: the data reprokit writes, and what real Nix makes of it.

Against the real nixpkgs of 2020-07-26 (../shared/data/nixpkgs-28fce082.tar.xz, or
$REPROKIT_NIXPKGS_TARBALL) every output of a generated flake is evaluated; building needs
stdenv's bootstrap tools, which cannot be fetched here. Builds run against
tests/nixpkgs-standin, whose Python builder takes the arguments of one NixOS release.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from reprokit.errors import InputError, InterpreterUnavailable, SourceNotVendored
from reprokit.nix import flake, providers
from reprokit.nix.nixpkgs import NixpkgsPin
from reprokit.resolve.lockfile import Artifact, Lock, Package

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
STANDIN = HERE / "nixpkgs-standin"
NIX = shutil.which("nix")
NIX_ENV = {**os.environ, "NIX_CONFIG": "experimental-features = nix-command flakes"}
needs_nix = pytest.mark.skipif(NIX is None, reason="nix not installed (Debian package nix-bin)")
REV_2020 = "28fce082c8ca1a8fb3dfac5c938829e51fb314c8"


def art(filename: str, kind: str, data: bytes | None = None) -> Artifact:
    data = f"stand-in bytes of {filename}\n".encode() if data is None else data
    return Artifact(filename=filename, url=f"https://files.example/{filename}", sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    kind=kind, upload_time="2020-07-01T00:00:00Z")  # type: ignore[arg-type]


def stand_in_bytes(a: Artifact) -> bytes:
    return f"stand-in bytes of {a.filename}\n".encode()


LOCK = Lock(
    python="3.11", platform="x86_64-linux", date="2024-02-15", index_url="https://pypi.org/simple/", versions_from="date",
    packages=(
        Package(name="numpy", version="1.26.4", requested=True, artifacts=(art("numpy-1.26.4.tar.gz", "sdist"), art("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", "wheel"))),
        Package(name="pandas", version="2.2.0", requested=True, via=(), artifacts=(art("pandas-2.2.0.tar.gz", "sdist"),),
                build_with=("meson-python==0.15.0", "cython==3.0.8")),
        Package(name="python-dateutil", version="2.8.2", requested=False, via=("pandas",), artifacts=(art("python-dateutil-2.8.2.tar.gz", "sdist"), art("python_dateutil-2.8.2-py2.py3-none-any.whl", "wheel"))),
    ),
    build_tools=(
        Package(name="meson-python", version="0.15.0", requested=False, artifacts=(art("meson_python-0.15.0-py3-none-any.whl", "wheel"),)),
        Package(name="meson", version="1.3.2", requested=False, via=("meson-python",), artifacts=(art("meson-1.3.2-py3-none-any.whl", "wheel"),)),
        Package(name="cython", version="3.0.8", requested=False, artifacts=(art("Cython-3.0.8-cp311-cp311-manylinux_2_17_x86_64.whl", "wheel"),)),
    ),
)


def pin(last_modified: int = 1707978831, channel: str = "nixos-23.11", rev: str = "c68a9fc85c2cb3a313be6ff40511635544dde8da") -> NixpkgsPin:
    return NixpkgsPin(channel=channel, rev=rev, last_modified=last_modified, nar_hash="sha256-UblFdWQ2MMZNzD9C/w8+7RjAJ2QIbebbzHUniQ/a44o=",
                      url=f"https://github.com/NixOS/nixpkgs/archive/{rev}.tar.gz", source="embedded", requested="2024-02-15")


PIN = pin()
PIN_2020 = pin(1595744290, "nixos-unstable", REV_2020)
ENTRY_POINTS = [flake.EntryPoint(name="run_analysis", kind="script", path="run_analysis.py"), flake.EntryPoint(name="analysis", kind="notebook", path="notebooks/analysis.ipynb")]


def vendor_files(out: Path, lock: Lock, *, wheels: bool = True, data: Mapping[str, bytes] | None = None) -> None:
    """Put the lock's artifacts where vendoring would (runtime wheels only with ``wheels``)."""
    for p in lock.packages:
        for a in p.artifacts:
            if a.kind == "wheel" and not wheels and any(b.kind == "sdist" for b in p.artifacts):
                continue
            target = out / providers.vendor_path(a)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((data or {}).get(a.filename, stand_in_bytes(a)))
    for t in lock.build_tools:
        for a in t.artifacts:
            target = out / providers.vendor_path(a, build_tool=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((data or {}).get(a.filename, stand_in_bytes(a)))


def generate(out: Path, lock: Lock = LOCK, p: NixpkgsPin = PIN, description: str = "Leaf area and growth", *, wheels: bool = True,
             entry_points: Sequence[flake.EntryPoint] = ENTRY_POINTS, outputs: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
             data: Mapping[str, bytes] | None = None, native_inputs: Mapping[str, providers.NativeInputs] | None = None,
             python_path: Sequence[str] = ()) -> list[providers.Choice]:
    (out / "paper").mkdir(parents=True, exist_ok=True)
    vendor_files(out, lock, wheels=wheels, data=data)
    choices = flake.write_flake(out, lock, p, description=description, entry_points=entry_points, outputs=outputs, native_inputs=native_inputs,
                                python_path=python_path)
    assert [c.package for c in choices] == [pkg.name for pkg in lock.packages]
    return choices


def lock_json(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / flake.LOCK_JSON).read_text())
    return doc


# --- what reprokit writes --------------------------------------------------------------------

def test_golden_files(tmp_path: Path) -> None:
    generate(tmp_path, outputs={"run_analysis": [
        {"path": "results/fit.csv", "sha256": "cd" * 32},  # format 1: exact bytes
        {"path": "results/fit.png", "sha256": "ef" * 32, "rule": "image", "pixel-threshold": 0.1, "max-pixels": 0.0001, "stable": True},
        {"path": "results/table.txt", "sha256": "12" * 32, "rule": "text", "rel": 0.0, "abs": 0.0, "sanitize": [], "stable": True},
    ]})
    for rel in ("flake.nix", "flake.lock", "nix/lock.json"):
        got = (tmp_path / rel).read_text()
        golden = GOLDEN / rel.replace("/", "_")
        if os.environ.get("UPDATE_GOLDEN"):
            golden.write_text(got)
        assert got == golden.read_text(), f"{rel} differs from {golden} (UPDATE_GOLDEN=1 rewrites it)"
    # The library is copied as shipped: the bundle keeps building whatever reprokit does later.
    for name in flake.LIBRARY:
        assert (tmp_path / "nix" / name).read_bytes() == (HERE.parent / "reprokit" / "data" / "nix" / name).read_bytes()


def test_the_flake_is_the_same_for_every_paper_but_the_revision(tmp_path: Path) -> None:
    generate(tmp_path / "a")
    generate(tmp_path / "b", dataclasses.replace(LOCK, packages=LOCK.packages[:1]), description="Another paper", entry_points=[])
    generate(tmp_path / "c", p=PIN_2020)
    a, b, c = ((tmp_path / x / "flake.nix").read_text() for x in "abc")
    assert a == b and a != c and a.replace(PIN.rev, REV_2020) == c


def test_providers_follow_what_was_vendored() -> None:
    everything = {c.package: (c.provider, c.path) for c in providers.choose_providers(LOCK)}
    assert everything == {"numpy": ("wheel", "vendor/wheels/numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"),
                          "pandas": ("sdist", "vendor/sdist/pandas-2.2.0.tar.gz"),
                          "python-dateutil": ("wheel", "vendor/wheels/python_dateutil-2.8.2-py2.py3-none-any.whl")}
    sdists_only = {"vendor/sdist/numpy-1.26.4.tar.gz", "vendor/sdist/pandas-2.2.0.tar.gz", "vendor/sdist/python-dateutil-2.8.2.tar.gz"}
    assert {c.package: c.provider for c in providers.choose_providers(LOCK, sdists_only)} == {"numpy": "sdist", "pandas": "sdist", "python-dateutil": "sdist"}
    assert {c.provider for c in providers.choose_providers(LOCK, set())} == {"nixpkgs"}
    # A wheel for another Python is not installable: the sdist it is.
    py38 = dataclasses.replace(LOCK, python="3.8")
    assert providers.choose_providers(py38)[0].provider == "sdist"
    assert providers.dependencies(LOCK) == {"numpy": [], "pandas": ["python-dateutil"], "python-dateutil": []}


@pytest.mark.parametrize(("filename", "python", "fit"), [
    ("six-1.16.0-py2.py3-none-any.whl", "3.8", "pure"),
    ("zipp-3.1.0-py3-none-any.whl", "3.8", "pure"),
    ("numpy-1.19.1-cp38-cp38-manylinux2010_x86_64.whl", "3.8", "native"),
    ("numpy-1.19.1-cp38-cp38-manylinux2010_x86_64.whl", "3.9", None),
    ("numpy-1.19.1-cp38-cp38-manylinux2010_i686.whl", "3.8", None),
    ("numpy-1.26.4-cp311-cp311-musllinux_1_1_x86_64.whl", "3.11", None),
    ("cryptography-42.0.0-cp37-abi3-manylinux_2_28_x86_64.whl", "3.11", "native"),
    ("cryptography-42.0.0-cp39-abi3-manylinux_2_28_x86_64.whl", "3.8", None),
    ("tomli-2.0.1-py3-none-any.whl", "2.7", None),
    ("not-a-wheel.tar.gz", "3.8", None),
])
def test_wheel_fit(filename: str, python: str, fit: str | None) -> None:
    assert providers.wheel_fit(filename, python, "x86_64-linux") == fit


def test_build_system_from_build_with_else_nixpkgs() -> None:
    pandas = LOCK.packages[1]
    got = providers.build_system(pandas, LOCK)
    # meson comes with meson-python (its `via`); cython's wheel is native but installable.
    assert [(b.name, b.tool) for b in got] == [("meson-python", "meson-python==0.15.0"), ("cython", "cython==3.0.8"), ("meson", "meson==1.3.2")]
    # Not vendored: nixpkgs' tool of that name, under the names nixpkgs has used.
    only_meson = {"vendor/build/meson-1.3.2-py3-none-any.whl"}
    got = providers.build_system(pandas, LOCK, only_meson)
    assert [(b.name, b.tool, b.nixpkgs) for b in got] == [("meson-python", None, ("meson-python", "meson_python", "mesonpython")),
                                                          ("cython", None, ("cython",)), ("meson", "meson==1.3.2", ())]
    legacy = Package(name="old", version="1", requested=True)
    assert [b.nixpkgs[0] for b in providers.build_system(legacy, LOCK)] == ["setuptools", "wheel"]
    declared = Package(name="new", version="1", requested=True, build_requires=("hatchling>=1.5", "hatch-vcs; python_version > '3'"))
    assert [b.nixpkgs for b in providers.build_system(declared, LOCK)] == [("hatchling",), ("hatch-vcs", "hatch_vcs", "hatchvcs")]


def test_native_inputs_table_and_the_papers_additions(tmp_path: Path) -> None:
    table = providers.native_inputs_table()
    assert "libjpeg" in table["pillow"].host and "zlib" in table["pillow"].host
    assert {"freetype", "qhull"} <= set(table["matplotlib"].host)
    assert {"blas", "lapack"} <= set(table["scipy"].host) and "gfortran" in table["scipy"].build
    assert table["pyzmq"].host == ("zeromq",) and table["h5py"].host == ("hdf5",) and "netcdf" in table["netcdf4"].host
    assert {"libxml2", "libxslt"} <= set(table["lxml"].host) and table["shapely"].host == ("geos",)
    (tmp_path / "reprokit.toml").write_text('[native-inputs]\nPyGSL = ["gsl", "pkg-config"]\nshapely = { host = ["geos", "proj"] }\n')
    mine = providers.read_native_inputs(tmp_path)
    assert mine == {"pygsl": providers.NativeInputs(host=("gsl",), build=("pkg-config",)), "shapely": providers.NativeInputs(host=("geos", "proj"))}
    lock = dataclasses.replace(LOCK, packages=(Package(name="pygsl", version="2.3", requested=True, artifacts=(art("pygsl-2.3.tar.gz", "sdist"),)),
                                               Package(name="shapely", version="2.0", requested=True, artifacts=(art("shapely-2.0.tar.gz", "sdist"),))))
    generate(tmp_path / "b", lock, native_inputs=mine)
    got = {p["name"]: p["nativeInputs"] for p in lock_json(tmp_path / "b")["packages"]}
    assert got == {"pygsl": {"host": ["gsl"], "build": ["pkg-config"]}, "shapely": {"host": ["geos", "proj"], "build": []}}
    for bad in ('x = ["gsl; rm -rf /"]', 'x = "gsl"', 'x = { libs = ["gsl"] }'):
        (tmp_path / "reprokit.toml").write_text(f"[native-inputs]\n{bad}\n")
        with pytest.raises(InputError, match="native-inputs"):
            providers.read_native_inputs(tmp_path)


def test_no_wheels_names_no_wheel_and_a_missing_file_is_refused(tmp_path: Path) -> None:
    generate(tmp_path / "a", wheels=False)
    doc = lock_json(tmp_path / "a")
    srcs = flake.sources(doc)
    assert srcs and not any(s.startswith("vendor/wheels/") for s in srcs)
    assert all((tmp_path / "a" / s).is_file() for s in srcs)
    (tmp_path / "b" / "paper").mkdir(parents=True)
    vendor_files(tmp_path / "b", LOCK)
    (tmp_path / "b" / "vendor" / "build" / "meson-1.3.2-py3-none-any.whl").unlink()
    flake.write_flake(tmp_path / "b", LOCK, PIN, description="x")  # meson is then nixpkgs'
    doc = lock_json(tmp_path / "b")
    assert "vendor/build/meson-1.3.2-py3-none-any.whl" not in flake.sources(doc) and flake.missing_sources(tmp_path / "b", doc) == []
    assert flake.missing_sources(tmp_path / "b", {**doc, "packages": doc["packages"] + [{"src": {"path": "vendor/sdist/gone.tar.gz", "sha256": "0" * 64}}]}) == ["vendor/sdist/gone.tar.gz"]
    assert flake.missing_sources(tmp_path / "b", {"packages": [{"src": {"path": "vendor/../../etc/passwd", "sha256": "0" * 64}}], "buildTools": {}}) == ["vendor/../../etc/passwd"]


def test_a_file_vendoring_did_not_keep_is_an_error_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "paper").mkdir()
    vendor_files(tmp_path, LOCK)
    real = flake.lock_document

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        doc = real(*args, **kwargs)
        doc["packages"][0]["src"]["path"] = "vendor/wheels/never-vendored.whl"
        return doc

    monkeypatch.setattr(flake, "lock_document", broken)
    with pytest.raises(SourceNotVendored, match=r"never-vendored\.whl"):
        flake.write_flake(tmp_path, LOCK, PIN, description="x")
    assert not (tmp_path / "flake.nix").exists()


def test_interpreter_check_names_the_pin_and_a_channel_that_has_it() -> None:
    flake.check_interpreter(PIN_2020, "3.8")
    with pytest.raises(InterpreterUnavailable) as exc:
        flake.check_interpreter(PIN_2020, "3.11")
    message = str(exc.value)
    assert "\n" not in message and "nixos-unstable 28fce082c8ca (2020-07-26) has no python311" in message and "--channel nixos-22.05" in message
    flake.check_interpreter(pin(1704290814, "nixos-23.05"), "3.11")
    with pytest.raises(InterpreterUnavailable, match=r"nixos-24\.05 .* has no python38 .* pass --channel nixos-23\.11"):
        flake.check_interpreter(pin(1720000000, "nixos-24.05"), "3.8")
    with pytest.raises(InterpreterUnavailable, match="no NixOS release up to"):
        flake.check_interpreter(PIN, "3.99")


def test_entry_points_run_from_their_own_folder() -> None:
    assert flake.entry_folder(flake.EntryPoint(name="a", kind="script", path="run.py")) == (".", "run.py")
    assert flake.entry_folder(flake.EntryPoint(name="a", kind="script", path="code/fig/plot.py")) == ("code/fig", "plot.py")
    assert flake.entry_folder(flake.EntryPoint(name="a", kind="script", path="code/fig/plot.py", cwd=".")) == (".", "code/fig/plot.py")
    assert flake.entry_folder(flake.EntryPoint(name="a", kind="script", path="code/plot.py", cwd="code/")) == ("code", "plot.py")


def test_flake_lock_is_sorted_version_7_for_a_plain_source_input() -> None:
    doc = json.loads(flake.flake_lock(PIN))
    node = doc["nodes"]["nixpkgs"]
    assert doc["version"] == 7 and node["flake"] is False and node["locked"]["narHash"] == PIN.nar_hash
    assert flake.flake_lock(PIN) == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    with pytest.raises(InputError):
        flake.flake_nix(dataclasses.replace(PIN, rev='x"; evil = "'))


HOSTILE = 'a "quoted" ${interpolation} \\ and\nnewline \'\' ${x}'


def test_user_strings_stay_data(tmp_path: Path) -> None:
    evil = Package(name="with", version="1.0", requested=True, artifacts=(art("we'ird${x}.whl", "wheel"),))
    lock = dataclasses.replace(LOCK, packages=LOCK.packages + (evil,))
    eps = [flake.EntryPoint(name="run", kind="script", path="we ird/$(touch x)'.py", args=(HOSTILE,))]
    generate(tmp_path, lock, description=HOSTILE, entry_points=eps)
    nix_code = (tmp_path / "flake.nix").read_text() + "".join((tmp_path / "nix" / n).read_text() for n in flake.LIBRARY)
    for s in ("we'ird", "$(touch x)", "interpolation"):
        assert s not in nix_code
    doc = lock_json(tmp_path)
    assert doc["title"] == HOSTILE and doc["entryPoints"][0]["args"] == [HOSTILE] and doc["entryPoints"][0]["file"] == "$(touch x)'.py"
    with pytest.raises(InputError, match="entry point name"):
        generate(tmp_path / "b", entry_points=[flake.EntryPoint(name="a b", kind="script", path="a.py")])


# --- real Nix --------------------------------------------------------------------------------

def nix(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nix", *args], capture_output=True, text=True, env=NIX_ENV, timeout=timeout, cwd=cwd)


@needs_nix
def test_generated_nix_parses_and_hashes_are_what_nix_computes(tmp_path: Path) -> None:
    generate(tmp_path)
    for rel in ["flake.nix"] + [f"nix/{n}" for n in flake.LIBRARY if n.endswith(".nix")]:
        subprocess.run(["nix-instantiate", "--parse", str(tmp_path / rel)], check=True, capture_output=True)
    for rel, sha in flake.sources(lock_json(tmp_path)).items():
        got = subprocess.run(["nix-hash", "--flat", "--type", "sha256", str(tmp_path / rel)], capture_output=True, text=True, check=True).stdout.strip()
        assert got == sha, rel


@needs_nix
def test_real_nix_accepts_the_lock_and_rejects_a_tampered_one(tmp_path: Path) -> None:
    generate(tmp_path)
    meta = nix("flake", "metadata", "--json", f"path:{tmp_path}")
    assert meta.returncode == 0, meta.stderr
    locked = json.loads(meta.stdout)["locks"]["nodes"]["nixpkgs"]["locked"]
    assert locked["rev"] == PIN.rev and locked["narHash"] == PIN.nar_hash and locked["lastModified"] == PIN.last_modified
    # The lock matches flake.nix (a plain source input): Nix needs to change, so fetch, nothing.
    ok = nix("flake", "lock", "--no-update-lock-file", "--offline", f"path:{tmp_path}", timeout=120)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads((tmp_path / "flake.lock").read_text())
    doc["nodes"]["nixpkgs"]["original"]["rev"] = "0" * 40
    (tmp_path / "flake.lock").write_text(json.dumps(doc, indent=2))
    bad = nix("flake", "lock", "--no-update-lock-file", "--offline", f"path:{tmp_path}", timeout=120)
    assert bad.returncode != 0


# --- against the real nixpkgs of 2020-07-26 ------------------------------------------------

def tarball_2020() -> Path | None:
    env = os.environ.get("REPROKIT_NIXPKGS_TARBALL")
    candidates = [Path(env)] if env else []
    candidates.append(HERE.parent.parent / "shared" / "data" / "nixpkgs-28fce082.tar.xz")
    return next((c for c in candidates if c.is_file()), None)


@pytest.fixture(scope="session")
def nixpkgs_2020() -> Iterator[str]:
    """The 2020 tree in the Nix store as `…-source`, so that `path:` inputs use it in place
    (extracted once into a cache outside the repository, added once per session)."""
    tarball = tarball_2020()
    if NIX is None or tarball is None:
        pytest.skip("needs nix and the nixpkgs 28fce082 tarball (../shared/data/ or $REPROKIT_NIXPKGS_TARBALL)")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reprokit-tests" / f"nixpkgs-{REV_2020[:12]}-{tarball.stat().st_size}"
    tree = cache / "source"
    if not (tree / ".version").is_file():
        partial = cache / "partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        if shutil.which("tar"):
            subprocess.run(["tar", "-xf", str(tarball), "-C", str(partial), "--strip-components=1"], check=True)
        else:  # pragma: no cover
            with tarfile.open(tarball) as tf:
                tf.extractall(partial, filter="data")
            (inner,) = partial.iterdir()
            inner.rename(cache / "inner")
            shutil.rmtree(partial)
            partial = cache / "inner"
        shutil.rmtree(tree, ignore_errors=True)
        partial.rename(tree)
    known = cache / "store-path"
    if known.is_file() and subprocess.run(["nix-store", "--check-validity", known.read_text()], capture_output=True).returncode == 0:
        yield known.read_text()
        return
    added = subprocess.run(["nix-store", "--add", str(tree)], capture_output=True, text=True, env=NIX_ENV, timeout=600)
    assert added.returncode == 0, added.stderr
    known.write_text(added.stdout.strip())
    yield added.stdout.strip()


def eval_json(bundle: Path, tree: str, attr: str, apply: str | None = None) -> Any:
    args = ["eval", "--json", "--offline", "--no-eval-cache", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{tree}", f"path:{bundle}#{attr}"]
    done = nix(*args, *(["--apply", apply] if apply else []))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


SETUP = ("setuptools==49.2.0", "wheel==0.34.2")
# A paper of July 2020: (name, version, wheel, sdist, via, build_with)
PINS_2020 = [
    ("numpy", "1.19.1", "numpy-1.19.1-cp38-cp38-manylinux2010_x86_64.whl", "numpy-1.19.1.zip", (), SETUP + ("Cython==0.29.21",)),
    ("requests", "2.24.0", "requests-2.24.0-py2.py3-none-any.whl", "requests-2.24.0.tar.gz", (), SETUP),
    ("packaging", "20.4", "packaging-20.4-py2.py3-none-any.whl", "packaging-20.4.tar.gz", (), SETUP),
    ("setuptools", "49.2.0", "setuptools-49.2.0-py3-none-any.whl", "setuptools-49.2.0.zip", (), ()),
    ("urllib3", "1.25.10", "urllib3-1.25.10-py2.py3-none-any.whl", "urllib3-1.25.10.tar.gz", ("requests",), SETUP),
    ("certifi", "2020.6.20", "certifi-2020.6.20-py2.py3-none-any.whl", "certifi-2020.6.20.tar.gz", ("requests",), SETUP),
    ("chardet", "3.0.4", "chardet-3.0.4-py2.py3-none-any.whl", "chardet-3.0.4.tar.gz", ("requests",), SETUP),
    ("idna", "2.10", "idna-2.10-py2.py3-none-any.whl", "idna-2.10.tar.gz", ("requests",), SETUP),
    ("pyparsing", "2.4.7", "pyparsing-2.4.7-py2.py3-none-any.whl", "pyparsing-2.4.7.tar.gz", ("packaging",), SETUP),
    ("six", "1.15.0", "six-1.15.0-py2.py3-none-any.whl", "six-1.15.0.tar.gz", ("packaging",), SETUP),
    ("zipp", "3.1.0", "zipp-3.1.0-py3-none-any.whl", "zipp-3.1.0.tar.gz", (), SETUP + ("setuptools-scm==4.1.2",)),
    ("entrypoints", "0.3", "entrypoints-0.3-py2.py3-none-any.whl", "entrypoints-0.3.tar.gz", (), ("flit-core==2.3.0",)),
]
# (name, version, wheel or None, via): pytoml has no wheel, so nixpkgs' serves.
TOOLS_2020 = [
    ("setuptools", "49.2.0", "setuptools-49.2.0-py3-none-any.whl", ("setuptools-scm",)),
    ("wheel", "0.34.2", "wheel-0.34.2-py2.py3-none-any.whl", ()),
    ("Cython", "0.29.21", "Cython-0.29.21-cp38-cp38-manylinux1_x86_64.whl", ()),
    ("setuptools-scm", "4.1.2", "setuptools_scm-4.1.2-py2.py3-none-any.whl", ()),
    ("flit-core", "2.3.0", "flit_core-2.3.0-py2.py3-none-any.whl", ()),
    ("pytoml", "0.1.21", None, ("flit-core",)),
]
LOCK_2020 = Lock(
    python="3.8", platform="x86_64-linux", date="2020-07-26", index_url="https://pypi.org/simple/", versions_from="date",
    packages=tuple(Package(name=n, version=v, requested=not via, via=via, build_with=bw, artifacts=(art(w, "wheel"), art(s, "sdist")))
                   for n, v, w, s, via, bw in PINS_2020),
    build_tools=tuple(Package(name=n, version=v, requested=False, via=via, artifacts=(art(w, "wheel"),) if w else ()) for n, v, w, via in TOOLS_2020),
)
RESULT = b"0.5\n"
EP_2020 = [flake.EntryPoint(name="figure", kind="script", path="code/figure.py"), flake.EntryPoint(name="explore", kind="notebook", path="explore.ipynb")]


def paper_2020(out: Path, *, wheels: bool) -> None:
    (out / "paper" / "code").mkdir(parents=True)
    (out / "paper" / "code" / "figure.py").write_text("import numpy\nopen('fig.txt', 'w').write('0.5\\n')\n")
    (out / "paper" / "explore.ipynb").write_text("{}")
    generate(out, LOCK_2020, PIN_2020, wheels=wheels, entry_points=EP_2020,
             outputs={"figure": [{"path": "code/fig.txt", "sha256": hashlib.sha256(RESULT).hexdigest()}]})


def every_output(bundle: Path, tree: str) -> dict[str, Any]:
    """Evaluate every output of a bundle's flake; the instantiated derivations' paths."""
    system = "x86_64-linux"
    drvs = "ps: builtins.mapAttrs (n: p: p.drvPath) ps"
    out = {
        "packages": eval_json(bundle, tree, f"packages.{system}", drvs),
        "checks": eval_json(bundle, tree, f"checks.{system}", drvs),
        "apps": eval_json(bundle, tree, f"apps.{system}", "as: builtins.mapAttrs (n: a: { inherit (a) type program; }) as"),
        "shell": eval_json(bundle, tree, f"devShells.{system}.default", "d: { drv = d.drvPath; inputs = map (i: i.drvPath) d.buildInputs; }"),
    }
    checked = nix("flake", "check", "--no-build", "--offline", "--no-eval-cache", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{tree}", f"path:{bundle}")
    assert checked.returncode == 0, checked.stderr
    return out


def names_of(bundle: Path, tree: str, package: str, attr: str) -> list[str]:
    got: list[str] = eval_json(bundle, tree, f"packages.x86_64-linux.pypi-{package}", f"d: map (x: x.name) d.{attr}")
    return got


@pytest.mark.slow
def test_2020_paper_with_wheels_evaluates_on_the_real_nixpkgs(tmp_path: Path, nixpkgs_2020: str) -> None:
    paper_2020(tmp_path, wheels=True)
    out = every_output(tmp_path, nixpkgs_2020)
    pkgs = out["packages"]
    assert {f"pypi-{p.name}" for p in LOCK_2020.packages} | {"default", "docker"} == set(pkgs)
    assert pkgs["default"].endswith("-python3-3.8.3-env.drv") and pkgs["docker"].endswith(".tar.gz.drv")
    assert pkgs["default"] in out["shell"]["inputs"]
    assert set(out["apps"]) == {"figure", "explore", "default"} and all(a["type"] == "app" for a in out["apps"].values())
    assert out["apps"]["default"] == out["apps"]["figure"] and set(out["checks"]) == {"figure", "explore"}
    # The paper's setuptools 49.2.0 is in its environment; nixpkgs' 47.3.1 and pip's hooks
    # keep building (nothing of nixpkgs' set is overridden, so nothing needs itself).
    env_inputs = show_derivation(tmp_path, nixpkgs_2020, "packages.x86_64-linux.default")["inputDrvs"]
    assert pkgs["pypi-setuptools"] in env_inputs and not any("setuptools-47.3.1" in d for d in env_inputs)
    assert "pip-install-hook" in names_of(tmp_path, nixpkgs_2020, "setuptools", "nativeBuildInputs")
    numpy_native = names_of(tmp_path, nixpkgs_2020, "numpy", "nativeBuildInputs")
    assert "auto-patchelf-hook" in numpy_native and "wheel-unpack-hook.sh" in numpy_native
    assert "auto-patchelf-hook" not in names_of(tmp_path, nixpkgs_2020, "requests", "nativeBuildInputs")
    assert set(names_of(tmp_path, nixpkgs_2020, "requests", "propagatedBuildInputs")) >= {"python3.8-urllib3-1.25.10", "python3.8-idna-2.10"}
    rerun = show_derivation(tmp_path, nixpkgs_2020, "checks.x86_64-linux.figure")
    script = rerun["env"]["buildCommand"]
    assert "sha256sum -c" in script and "cd ./'code'" in script and "python 'figure.py'" in script


def show_derivation(bundle: Path, tree: str, attr: str) -> dict[str, Any]:
    done = nix("show-derivation", "--offline", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{tree}", f"path:{bundle}#{attr}")
    assert done.returncode == 0, done.stderr
    (drv,) = json.loads(done.stdout).values()
    result: dict[str, Any] = drv
    return result


@pytest.mark.slow
def test_2020_paper_from_sdists_builds_with_its_own_build_tools(tmp_path: Path, nixpkgs_2020: str) -> None:
    paper_2020(tmp_path, wheels=False)
    assert not (tmp_path / "vendor" / "wheels").exists()
    every_output(tmp_path, nixpkgs_2020)
    tree = nixpkgs_2020
    # setuptools-scm and flit-core from vendor/build; pytoml, which has no wheel, from nixpkgs (0.1.20).
    assert "python3.8-setuptools-scm-4.1.2" in names_of(tmp_path, tree, "zipp", "nativeBuildInputs")
    entrypoints = names_of(tmp_path, tree, "entrypoints", "nativeBuildInputs")
    assert "python3.8-flit-core-2.3.0" in entrypoints and "python3.8-pytoml-0.1.20" in entrypoints
    # 2020's builder: format = "pyproject" runs pip's build hook; no `pyproject` argument yet.
    assert "pip-build-hook.sh" in entrypoints
    assert eval_json(tmp_path, tree, "packages.x86_64-linux.pypi-entrypoints", "d: [ (d ? pyproject) (d ? build-system) (d ? dependencies) ]") == [False, False, False]
    numpy = names_of(tmp_path, tree, "numpy", "nativeBuildInputs")
    assert {"python3.8-setuptools-49.2.0", "python3.8-wheel-0.34.2", "python3.8-Cython-0.29.21", "unzip-6.0"} <= set(numpy)
    assert any(n.startswith("pkg-config") for n in numpy)
    assert set(names_of(tmp_path, tree, "numpy", "buildInputs")) == {"blas-3", "lapack-3"}
    # The build tools' wheels: Nix checked each against the sha256 in nix/lock.json.
    srcs = eval_json(tmp_path, tree, "packages.x86_64-linux.pypi-zipp", "d: map (x: baseNameOf (x.src or \"\")) d.nativeBuildInputs")
    assert "setuptools_scm-4.1.2-py2.py3-none-any.whl" in {s.split("-", 1)[-1] for s in srcs}


@pytest.mark.slow
def test_python_311_on_the_2020_pin_is_refused_before_and_by_nix(tmp_path: Path, nixpkgs_2020: str) -> None:
    tarball = tarball_2020()
    assert tarball is not None
    with pytest.raises(InterpreterUnavailable, match=r"has no python311 for Python 3\.11 \(it has python27, python35, .*python39\)") as exc:
        flake.check_interpreter(PIN_2020, "3.11", tarball)
    assert "\n" not in str(exc.value)
    flake.check_interpreter(PIN_2020, "3.8", tarball)
    # Had it been written anyway, Nix itself says so in one line.
    paper_2020(tmp_path, wheels=True)
    doc = lock_json(tmp_path)
    (tmp_path / flake.LOCK_JSON).write_text(json.dumps({**doc, "python": "3.11", "interpreter": "python311"}))
    done = nix("eval", "--offline", "--no-eval-cache", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{nixpkgs_2020}",
               f"path:{tmp_path}#packages.x86_64-linux.default.drvPath")
    assert done.returncode != 0 and "this nixpkgs (20.09) has no python311, for Python 3.11" in done.stderr


# --- the builder's arguments follow the pinned tree, not the commit date -----------------

def era_tree(tmp: Path, release: str | None) -> Path:
    """The stand-in as the nixpkgs of a release (None: the stand-in's own, 24.05)."""
    tree = tmp / f"nixpkgs-{release or 'standin'}"
    shutil.copytree(STANDIN, tree, ignore=shutil.ignore_patterns("eras"))
    if release:
        shutil.copy(STANDIN / "eras" / release / "era.nix", tree / "era.nix")
        shutil.copy(STANDIN / "eras" / release / "mk-python-derivation.nix", tree / "pkgs/development/interpreters/python/mk-python-derivation.nix")
    return tree


ERA_LOCK = dataclasses.replace(LOCK, python="3.11", packages=(
    Package(name="alpha", version="1.0", requested=True, artifacts=(art("alpha-1.0.tar.gz", "sdist"),), build_with=("hatchling==1.21.0",)),
    Package(name="beta", version="2.0", requested=False, via=("alpha",), artifacts=(art("beta-2.0-py3-none-any.whl", "wheel"),)),
), build_tools=(Package(name="hatchling", version="1.21.0", requested=False, artifacts=(art("hatchling-1.21.0-py3-none-any.whl", "wheel"),)),))


@needs_nix
@pytest.mark.parametrize(("release", "last_modified", "expected"), [
    # nixos-23.05 late (after 23.11 branched off): still the 23.05 builder.
    ("23.05", 1704290814, {"format": "pyproject", "pyproject": None, "nativeBuildInputs": ["hatchling"], "propagatedBuildInputs": ["beta"], "build-system": None, "dependencies": None}),
    # nixos-23.11 late (after 24.05 branched off): `pyproject`, but not yet `build-system`.
    ("23.11", 1719957072, {"format": None, "pyproject": True, "nativeBuildInputs": ["hatchling"], "propagatedBuildInputs": ["beta"], "build-system": None, "dependencies": None}),
    # nixos-24.05: `build-system` and `dependencies`.
    (None, 1716542732, {"format": None, "pyproject": True, "nativeBuildInputs": [], "propagatedBuildInputs": None, "build-system": ["hatchling"], "dependencies": ["beta"]}),
])
def test_builder_arguments_follow_the_release(tmp_path: Path, release: str | None, last_modified: int, expected: dict[str, Any]) -> None:
    tree = era_tree(tmp_path, release)
    generate(tmp_path / "b", ERA_LOCK, pin(last_modified, f"nixos-{release or '24.05'}"), entry_points=[])
    apply = ('d: builtins.mapAttrs (n: v: if builtins.isList v then map (x: x.pname) v else v) '
             '(builtins.intersectAttrs { format = 0; pyproject = 0; nativeBuildInputs = 0; propagatedBuildInputs = 0; build-system = 0; dependencies = 0; } d.args)')
    got = eval_json(tmp_path / "b", str(tree), "packages.x86_64-linux.pypi-alpha", apply)
    assert {k: got.get(k) for k in expected} == expected


@needs_nix
def test_without_the_builders_arguments_the_release_decides(tmp_path: Path) -> None:
    tree = era_tree(tmp_path, "23.11")
    # A builder file whose inner function cannot be reached without its real arguments.
    source = tree / "pkgs/development/interpreters/python/mk-python-derivation.nix"
    text = source.read_text()
    source.write_text(text.replace("{ name ?", "lib.id ({ name ?").replace("build attrs\n", "build attrs)\n"))
    generate(tmp_path / "b", ERA_LOCK, pin(1719957072, "nixos-23.11"), entry_points=[])
    got = eval_json(tmp_path / "b", str(tree), "packages.x86_64-linux.pypi-alpha", "d: [ (d.args.pyproject or null) (d.args ? build-system) ]")
    assert got == [True, False]


@needs_nix
def test_the_stand_in_refuses_arguments_its_release_does_not_take(tmp_path: Path) -> None:
    tree = era_tree(tmp_path, "23.11")
    expr = f'(import {tree} {{ system = "x86_64-linux"; }}).python311.pkgs.buildPythonPackage {{ pname = "a"; version = "1"; src = ./.; pyproject = true; build-system = [ ]; }}'
    done = subprocess.run(["nix-instantiate", "--eval", "-E", f"({expr}).drvPath"], capture_output=True, text=True, env=NIX_ENV)
    assert done.returncode != 0 and "build-system is not an argument of this release's builder" in done.stderr


# --- building, against the stand-in -------------------------------------------------------

@pytest.mark.slow
@needs_nix
@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="the nixpkgs stand-in builds with /usr/bin/python3")
def test_nix_build_run_and_check_against_the_stand_in(tmp_path: Path) -> None:
    from tests.fakeindex import build_wheel

    wheels = {name: build_wheel(name, "1.0", requires) for name, requires in (("alpha", ["beta"]), ("beta", []))}
    arts = {name: art(filename, "wheel", data) for name, (filename, data) in wheels.items()}
    lock = Lock(python="3.11", platform="x86_64-linux", date="2024-02-15", index_url="https://pypi.org/simple/", versions_from="date", packages=(
        Package(name="alpha", version="1.0", requested=True, artifacts=(arts["alpha"],), has_sdist=False),
        Package(name="beta", version="1.0", requested=False, via=("alpha",), artifacts=(arts["beta"],), has_sdist=False),
    ))
    bundle = tmp_path / "bundle"
    # Paths and arguments reach the shell as data: nothing in them runs.
    folder, script, args = "my code", "it's $(touch pwned).py", ("--fast", "a b", "$(touch pwned)")
    (bundle / "paper" / folder).mkdir(parents=True)
    (bundle / "paper" / folder / script).write_text("import alpha, sys, time\nopen('out.txt', 'w').write(alpha.__version__ + ' ' + '|'.join(sys.argv[1:]) + '\\n')\n"
                                                       "open('log.txt', 'w').write(str(time.time()))\nimport helper\nprint(helper.VERSION)\n")
    # The paper's own module, in a folder of its own: on PYTHONPATH, as when installed.
    (bundle / "paper" / "my lib").mkdir()
    (bundle / "paper" / "my lib" / "helper.py").write_text("import alpha\nVERSION = alpha.__version__\n")
    expected = b"1.0 --fast|a b|$(touch pwned)\n"
    eps = [flake.EntryPoint(name="run", kind="script", path=f"{folder}/{script}", args=args)]
    # out.txt is compared by its bytes; the log (a rule with tolerances) must be written.
    log = {"path": f"{folder}/log.txt", "sha256": "0" * 64, "rule": "text", "rel": 1e-9, "abs": 1e-12, "sanitize": ["timestamps"], "stable": False}
    generate(bundle, lock, pin(1716542732, "nixos-24.05"), entry_points=eps, data={a.filename: d for a, (_, d) in zip(arts.values(), wheels.values(), strict=True)},
             outputs={"run": [{"path": f"{folder}/out.txt", "sha256": hashlib.sha256(expected).hexdigest()}, log]}, python_path=["my lib"])
    override = ["--offline", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{STANDIN}"]
    built = nix("build", *override, "-o", str(tmp_path / "result"), f"path:{bundle}")
    assert built.returncode == 0, built.stderr
    out = subprocess.run([str(tmp_path / "result" / "bin" / "python"), "-c", "import alpha, beta; print(alpha.__file__)"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("/nix/store/")
    work = tmp_path / "work"
    app = subprocess.run(["nix", "run", *override, f"path:{bundle}#run"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**NIX_ENV, "REPROKIT_WORKDIR": str(work)})
    assert app.returncode == 0 and app.stdout.strip() == "1.0", app.stderr
    assert (work / folder / "out.txt").read_bytes() == expected and not (bundle / "paper" / folder / "out.txt").exists()
    assert not list(tmp_path.rglob("pwned"))
    checked = nix("build", *override, "--no-link", f"path:{bundle}#checks.x86_64-linux.run")
    assert checked.returncode == 0, checked.stderr
    assert "my code/log.txt: written (compared by its text rule" in nix("log", *override, f"path:{bundle}#checks.x86_64-linux.run").stdout
    # An output that no longer matches fails the check, and says which file; so does one not written.
    doc = lock_json(bundle)
    doc["entryPoints"][0]["outputs"][0]["sha256"] = "0" * 64
    (bundle / flake.LOCK_JSON).write_text(json.dumps(doc))
    failed = nix("build", *override, "--no-link", "-L", f"path:{bundle}#checks.x86_64-linux.run")
    assert failed.returncode != 0 and "my code/out.txt: FAILED" in failed.stderr
    doc["entryPoints"][0]["outputs"] = []
    doc["entryPoints"][0]["ruled"][0]["path"] = f"{folder}/never.txt"
    (bundle / flake.LOCK_JSON).write_text(json.dumps(doc))
    failed = nix("build", *override, "--no-link", "-L", f"path:{bundle}#checks.x86_64-linux.run")
    assert failed.returncode != 0 and "my code/never.txt: FAILED, not written" in failed.stderr


def _checked_and_run(bundle: Path, tmp_path: Path) -> Path:
    """Build the check of entry point ``run`` and run its app against the stand-in; the
    folder it ran in."""
    override = ["--offline", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{STANDIN}"]
    checked = nix("build", *override, "--no-link", f"path:{bundle}#checks.x86_64-linux.run")
    assert checked.returncode == 0, checked.stderr
    work = tmp_path / "work"
    app = subprocess.run(["nix", "run", *override, f"path:{bundle}#run"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**NIX_ENV, "REPROKIT_WORKDIR": str(work)})
    assert app.returncode == 0, app.stderr
    return work


def test_the_build_step_runs_before_each_entry_point_in_its_copy_of_the_paper(tmp_path: Path) -> None:
    """``python setup.py build_ext --inplace`` (marked ``build`` in nix/lock.json) makes the
    paper's own modules: the app and the check of every other entry point run it first,
    in their own copy of the paper (here a setup.py that writes the module it builds)."""
    bundle = tmp_path / "bundle"
    (bundle / "paper" / "code").mkdir(parents=True)
    (bundle / "paper" / "code" / "setup.py").write_text(
        "import sys\nassert sys.argv[1:] == ['build_ext', '--inplace'], sys.argv\nopen('fast.py', 'w').write('VALUE = 42\\n')\n")
    (bundle / "paper" / "code" / "run.py").write_text("import fast\nopen('out.txt', 'w').write(str(fast.VALUE))\n")
    lock = Lock(python="3.11", platform="x86_64-linux", date="2024-02-15", index_url="https://pypi.org/simple/", versions_from="date", packages=())
    eps = [flake.EntryPoint(name="build-extensions", kind="script", path="code/setup.py", args=("build_ext", "--inplace")),
           flake.EntryPoint(name="run", kind="script", path="code/run.py")]
    generate(bundle, lock, pin(1716542732, "nixos-24.05"), entry_points=eps, data={},
             outputs={"run": [{"path": "code/out.txt", "sha256": hashlib.sha256(b"42").hexdigest()}]})
    assert [e.get("build", False) for e in lock_json(bundle)["entryPoints"]] == [True, False]
    work = _checked_and_run(bundle, tmp_path)
    assert (work / "code" / "out.txt").read_text() == "42" and not (bundle / "paper" / "code" / "fast.py").exists()


def test_a_paper_that_is_a_package_reads_its_own_metadata_in_the_nix_runs(tmp_path: Path) -> None:
    """As in reprokit's own runs, the app and the check see a .dist-info of the paper's
    project: importlib.metadata finds its version and its console scripts."""
    bundle = tmp_path / "bundle"
    (bundle / "paper" / "src" / "volcano").mkdir(parents=True)
    (bundle / "paper" / "pyproject.toml").write_text('[project]\nname = "volcano-paper"\nversion = "1.2.0"\n'
                                                     '[project.scripts]\ngenerate-figs = "volcano.figs:main"\n')
    (bundle / "paper" / "src" / "volcano" / "__init__.py").write_text("")
    (bundle / "paper" / "src" / "run.py").write_text(
        "from importlib.metadata import version, entry_points\n"
        "scripts = [e.value for e in entry_points(group='console_scripts') if e.name == 'generate-figs']\n"
        "open('out.txt', 'w').write(version('volcano-paper') + ' ' + ' '.join(scripts))\n")
    lock = Lock(python="3.11", platform="x86_64-linux", date="2024-02-15", index_url="https://pypi.org/simple/", versions_from="date", packages=())
    expected = b"1.2.0 volcano.figs:main"
    generate(bundle, lock, pin(1716542732, "nixos-24.05"), entry_points=[flake.EntryPoint(name="run", kind="script", path="src/run.py")],
             data={}, outputs={"run": [{"path": "src/out.txt", "sha256": hashlib.sha256(expected).hexdigest()}]})
    assert lock_json(bundle)["project"]["distInfo"] == "volcano_paper-1.2.0.dist-info"
    work = _checked_and_run(bundle, tmp_path)
    assert (work / "src" / "out.txt").read_bytes() == expected
    # A metadata folder name that is no plain name never reaches the shell.
    doc = lock_json(bundle)
    doc["project"]["distInfo"] = "x$(touch pwned).dist-info"
    with pytest.raises(InputError, match="project metadata folder"):
        flake.check_document(doc)
