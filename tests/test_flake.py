"""The generated flake: golden text, era-specific arguments, escaping, and real Nix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reprokit import flake
from reprokit.lock import Artifact, Lock, Package
from reprokit.nixpkgs import NixpkgsPin

GOLDEN = Path(__file__).parent / "golden"
NIX = shutil.which("nix")
NIX_ENV = {**os.environ, "NIX_CONFIG": "experimental-features = nix-command flakes"}
needs_nix = pytest.mark.skipif(NIX is None, reason="nix not installed (Debian package nix-bin)")


def art(filename: str, kind: str) -> Artifact:
    return Artifact(filename=filename, url=f"https://files.example/{filename}", sha256="ab" * 32, size=10, kind=kind, upload_time="2023-01-01T00:00:00Z")  # type: ignore[arg-type]


LOCK = Lock(
    python="3.11", platform="x86_64-linux", date="2024-02-15", index_url="https://pypi.org/simple/", versions_from="date",
    packages=(
        Package(name="numpy", version="1.26.4", requested=True, artifacts=(art("numpy-1.26.4.tar.gz", "sdist"), art("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", "wheel"))),
        Package(name="pandas", version="2.2.0", requested=True, via=(), artifacts=(art("pandas-2.2.0.tar.gz", "sdist"),)),
        Package(name="python-dateutil", version="2.8.2", requested=False, via=("pandas",), artifacts=(art("python-dateutil-2.8.2.tar.gz", "sdist"), art("python_dateutil-2.8.2-py2.py3-none-any.whl", "wheel"))),
    ),
)


def pin(last_modified: int) -> NixpkgsPin:
    return NixpkgsPin(channel="nixos-23.11", rev="c68a9fc85c2cb3a313be6ff40511635544dde8da", last_modified=last_modified,
                      nar_hash="sha256-UblFdWQ2MMZNzD9C/w8+7RjAJ2QIbebbzHUniQ/a44o=", url="https://github.com/NixOS/nixpkgs/archive/c68a9fc.tar.gz",
                      source="embedded", requested="2024-02-15")


PIN = pin(1707978831)
ENTRY_POINTS = [flake.EntryPoint(name="run_analysis", kind="script", path="run_analysis.py"), flake.EntryPoint(name="analysis", kind="notebook", path="analysis.ipynb")]


def generate(out: Path, lock: Lock = LOCK, p: NixpkgsPin = PIN, description: str = "Leaf area and growth") -> None:
    (out / "paper").mkdir(parents=True, exist_ok=True)
    (out / "vendor").mkdir(exist_ok=True)
    choices = flake.write_flake(out, lock, p, description=description, entry_points=ENTRY_POINTS)
    assert [c.package for c in choices] == [pkg.name for pkg in lock.packages]


def test_golden_files(tmp_path: Path) -> None:
    generate(tmp_path)
    for rel in ("flake.nix", "flake.lock", "nix/python-packages.nix"):
        got = (tmp_path / rel).read_text()
        golden = GOLDEN / rel.replace("/", "_")
        if os.environ.get("UPDATE_GOLDEN"):
            golden.write_text(got)
        assert got == golden.read_text(), f"{rel} differs from {golden} (UPDATE_GOLDEN=1 rewrites it)"


def test_providers_and_edges() -> None:
    choices = {c.package: c.provider for c in flake.choose_providers(LOCK)}
    assert choices == {"numpy": "wheel", "pandas": "sdist", "python-dateutil": "wheel"}
    assert flake.choose_providers(LOCK, {"numpy": "1.26.4", "pandas": "2.1.0"})[0].provider == "nixpkgs"
    assert flake.dependencies(LOCK) == {"numpy": [], "pandas": ["python-dateutil"], "python-dateutil": []}


def test_arguments_follow_the_nixpkgs_era() -> None:
    choices = flake.choose_providers(LOCK)
    old = flake.python_packages_nix(LOCK, choices, pin(1690000000))  # 23.05 era
    mid = flake.python_packages_nix(LOCK, choices, pin(1707978831))  # 23.11
    new = flake.python_packages_nix(LOCK, choices, pin(1720000000))  # 24.05 and later
    assert 'format = "pyproject";' in old and "pyproject = true;" not in old and "build-system" not in old
    assert "pyproject = true;" in mid and "propagatedBuildInputs" in mid and "build-system" not in mid
    assert "build-system = [ final.setuptools final.wheel ];" in new and "dependencies = [" in new
    assert "autoPatchelfHook" in mid and mid.count("autoPatchelfHook") == 1  # only the native wheel


def test_user_strings_are_escaped() -> None:
    assert flake.nix_string('a "b" ${c} \\d\n') == '"a \\"b\\" \\${c} \\\\d\\n"'
    assert flake.nix_attr("python-dateutil") == "python-dateutil" and flake.nix_attr("2to3") == '"2to3"' and flake.nix_attr("with") == '"with"'
    assert flake.indented("it''s ${x}") == "it'''s ''${x}"


def test_flake_lock_is_sorted_version_7() -> None:
    doc = json.loads(flake.flake_lock(PIN))
    assert doc["version"] == 7 and doc["nodes"]["nixpkgs"]["locked"]["narHash"] == PIN.nar_hash
    assert flake.flake_lock(PIN) == json.dumps(doc, indent=2, sort_keys=True) + "\n"


@needs_nix
def test_generated_nix_parses_even_with_hostile_strings(tmp_path: Path) -> None:
    evil = Package(name="with", version="1.0", requested=True, artifacts=(art('we"ird${x}.whl', "wheel"),))
    lock = Lock(**{**{f: getattr(LOCK, f) for f in ("python", "platform", "date", "index_url", "versions_from")}, "packages": LOCK.packages + (evil,)})
    generate(tmp_path, lock, description='a "quoted" ${interpolation} \\ and\nnewline')
    for rel in ("flake.nix", "nix/python-packages.nix"):
        subprocess.run(["nix-instantiate", "--parse", str(tmp_path / rel)], check=True, capture_output=True)


@needs_nix
def test_real_nix_accepts_the_lock_and_rejects_a_tampered_one(tmp_path: Path) -> None:
    generate(tmp_path)
    meta = subprocess.run(["nix", "flake", "metadata", "--json", f"path:{tmp_path}"], capture_output=True, text=True, env=NIX_ENV, check=True)
    locked = json.loads(meta.stdout)["locks"]["nodes"]["nixpkgs"]["locked"]
    assert locked["rev"] == PIN.rev and locked["narHash"] == PIN.nar_hash and locked["lastModified"] == PIN.last_modified
    # The lock matches flake.nix: Nix needs to change (and so fetch) nothing.
    ok = subprocess.run(["nix", "flake", "lock", "--no-update-lock-file", f"path:{tmp_path}"], capture_output=True, text=True, env=NIX_ENV, timeout=120)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads((tmp_path / "flake.lock").read_text())
    doc["nodes"]["nixpkgs"]["original"]["rev"] = "0" * 40
    (tmp_path / "flake.lock").write_text(json.dumps(doc, indent=2))
    bad = subprocess.run(["nix", "flake", "lock", "--no-update-lock-file", "--offline", f"path:{tmp_path}"], capture_output=True, text=True, env=NIX_ENV, timeout=120)
    assert bad.returncode != 0


STANDIN = Path(__file__).parent / "nixpkgs-standin"


@pytest.mark.slow
@needs_nix
@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="the nixpkgs stand-in builds with /usr/bin/python3")
def test_nix_build_of_a_generated_flake_with_vendored_wheels(tmp_path: Path) -> None:
    import hashlib

    from tests.fakeindex import build_wheel

    wheels = {name: build_wheel(name, "1.0", requires) for name, requires in (("alpha", ["beta"]), ("beta", []))}
    (tmp_path / "vendor" / "wheels").mkdir(parents=True)
    arts = {}
    for name, (filename, data) in wheels.items():
        (tmp_path / "vendor" / "wheels" / filename).write_bytes(data)
        arts[name] = Artifact(filename=filename, url=f"https://files.example/{filename}", sha256=hashlib.sha256(data).hexdigest(), size=len(data), kind="wheel", upload_time=None)
    lock = Lock(python="3.11", platform="x86_64-linux", date="2024-02-15", index_url="https://pypi.org/simple/", versions_from="date", packages=(
        Package(name="alpha", version="1.0", requested=True, artifacts=(arts["alpha"],), has_sdist=False),
        Package(name="beta", version="1.0", requested=False, via=("alpha",), artifacts=(arts["beta"],), has_sdist=False),
    ))
    generate(tmp_path, lock)
    (tmp_path / "paper" / "run_analysis.py").write_text("import alpha\nprint(alpha.__version__)\n")
    cmd = ["nix", "build", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{STANDIN}", "-o", str(tmp_path / "result"), f"path:{tmp_path}"]
    built = subprocess.run(cmd, capture_output=True, text=True, env=NIX_ENV, timeout=300)
    assert built.returncode == 0, built.stderr
    out = subprocess.run([str(tmp_path / "result" / "bin" / "python"), "-c", "import alpha, beta; print(alpha.__file__)"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("/nix/store/")
    app = subprocess.run(["nix", "run", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{STANDIN}", f"path:{tmp_path}#run_analysis"],
                         capture_output=True, text=True, env=NIX_ENV, timeout=300, cwd=tmp_path)
    assert app.returncode == 0 and app.stdout.strip() == "1.0", app.stderr
