"""validate --rebuild pip --rerun on hostile bundles: an sdist whose build backend and a
paper whose entry point attack the reviewer. Their effects are looked for from outside."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reprokit import sandbox
from reprokit.archive import ArchiveSettings, archive
from reprokit.validate import ValidateSettings, validate
from tests.fakeindex import Dist, FakeIndex, running
from tests.helpers import RUNNING, resign, write_tree
from tests.hostile import ATTACK, KEY, TOKEN, Listener, arena


def attack_source(cfg: dict[str, Any]) -> str:
    """The attack with its targets written in (an entry point or a backend takes no argv)."""
    return ATTACK.replace("cfg = json.loads(sys.argv[1])", f"cfg = json.loads({json.dumps(cfg)!r})")


def evil_sdist(cfg: dict[str, Any]) -> tuple[str, bytes]:
    """An sdist with an in-tree build backend that attacks when pip builds it."""
    backend = attack_source(cfg).replace('print("attack done")', 'print("attack done", flush=True)')
    backend = ("def get_requires_for_build_wheel(config_settings=None):\n    return []\n\n"
               "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
               "    import os\n    os.chdir(os.environ.get('HOME', '/tmp'))\n"
               + "".join("    " + line + "\n" for line in backend.strip().splitlines())
               + "    raise RuntimeError('the attack is over')\n")
    files = {
        "evil-1.0/PKG-INFO": "Metadata-Version: 2.2\nName: evil\nVersion: 1.0\n",
        "evil-1.0/pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n[project]\nname = "evil"\nversion = "1.0"\n',
        "evil-1.0/backend.py": backend,
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1704067200
            tf.addfile(info, io.BytesIO(data))
    return "evil-1.0.tar.gz", gzip.compress(raw.getvalue(), mtime=0)


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    """One arena (canary, fake HOME with a key, listeners) for the module's bundles."""
    with arena(os.geteuid()) as a:
        listener = Listener(a["base"])
        cfg = {"canary": str(a["base"] / "canary.txt"), "key": str(a["home"] / ".ssh" / "id_rsa"), "port": listener.port,
               "unix": str(listener.unix_path), "abstract": listener.abstract_name}
        try:
            yield {**a, "listener": listener, "cfg": cfg}
        finally:
            listener.close()


def build(tmp_path: Path, paper: dict[str, str], index: FakeIndex) -> Path:
    with running(index) as url:
        return archive(ArchiveSettings(python=RUNNING, paper=write_tree(tmp_path / "paper", paper), output=tmp_path / "bundle", offline=True,
                                       date=dt.date(2024, 1, 20), record_outputs=False, index_url=f"{url}/simple/", cache_dir=tmp_path / "cache", quiet=True)).bundle


@contextlib.contextmanager
def watched(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[subprocess.CompletedProcess[str]]]:
    """The reviewer's environment (a token, HOME with a key), and a record of what each
    sandboxed run printed."""
    monkeypatch.setenv("HOME", str(world["home"]))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    seen: list[subprocess.CompletedProcess[str]] = []
    real = sandbox.run

    def spy(*args: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
        proc = real(*args, **kw)
        seen.append(proc)
        return proc

    monkeypatch.setattr(sandbox, "run", spy)
    world["listener"].heard = {"tcp": [], "unix": [], "abstract": []}
    yield seen


def assert_no_trace(world: dict[str, Any], printed: str, report: str, network: bool) -> None:
    listener = world["listener"]
    import time

    time.sleep(0.5)  # let the listener threads take in anything in flight
    assert "attack done" in printed  # the attack ran to its end, inside
    assert (world["base"] / "canary.txt").read_text() == "canary\n"
    assert not (world["base"] / "dropped.txt").exists()
    heard = b"".join(listener.received).decode(errors="replace")
    for secret in (TOKEN, KEY.splitlines()[1]):
        assert secret not in printed + report + heard
    assert listener.heard["unix"] == []
    if network:
        assert listener.heard["tcp"]  # --network lets it out (so the other case proves something)
    else:
        assert listener.received == []


@pytest.mark.parametrize("network", [False, True], ids=["no-network", "network"])
def test_a_hostile_entry_point_runs_contained(world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, network: bool) -> None:
    index = FakeIndex()
    index.add("alpha", "1.0", uploaded="2023-06-01T00:00:00Z")
    bundle = build(tmp_path, {"run.py": "import alpha\nif __name__ == '__main__':\n    print(alpha.__version__)\n", "requirements.txt": "alpha\n"}, index)
    (bundle / "paper" / "run.py").write_text("import alpha\n" + attack_source(world["cfg"]))
    resign(bundle)
    with watched(world, monkeypatch) as seen:
        report = validate(ValidateSettings(bundle=bundle, rebuild="pip", rerun=True, network=network))
    checks = {c.name: c for c in report.checks}
    assert checks["integrity"].ok and checks["rebuild-pip"].ok and checks["rerun"].ok is not None
    printed = "".join(p.stdout + p.stderr for p in seen)
    assert_no_trace(world, printed, json.dumps(report.to_json()), network)
    assert report.sandbox == "sandboxed (bubblewrap), " + ("network allowed" if network else "no network")


@pytest.mark.parametrize("network", [False, True], ids=["no-network", "network"])
def test_a_hostile_build_backend_runs_contained(world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, network: bool) -> None:
    index = FakeIndex()
    name, data = evil_sdist(world["cfg"])
    index.projects["evil"] = [Dist(name, data, "2023-06-01T00:00:00Z")]
    bundle = build(tmp_path, {"run.py": "import evil\n", "requirements.txt": "evil\n"}, index)
    assert (bundle / "vendor" / "sdist" / name).read_bytes() == data
    assert hashlib.sha256(data).hexdigest() in (bundle / "requirements.lock").read_text()
    assert (world["base"] / "canary.txt").read_text() == "canary\n"  # archiving did not build it
    with watched(world, monkeypatch) as seen:
        report = validate(ValidateSettings(bundle=bundle, rebuild="pip", network=network))
    checks = {c.name: c for c in report.checks}
    assert checks["integrity"].ok and checks["rebuild-pip"].ok is False  # the backend raised after its attack
    printed = "".join(p.stdout + p.stderr for p in seen)
    assert_no_trace(world, printed, json.dumps(report.to_json()), network)


@pytest.mark.slow  # archives, then rebuilds with pip as the reviewer would
def test_the_reviewers_pip_cache_and_home_stay_untouched(world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = FakeIndex()
    index.add_build_tools()
    index.add("alpha", "1.0", uploaded="2023-06-01T00:00:00Z", wheel=False)  # built from its sdist
    bundle = build(tmp_path, {"run.py": "import alpha\n", "requirements.txt": "alpha\n"}, index)
    home = tmp_path / "reviewer-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    validate(ValidateSettings(bundle=bundle, rebuild="pip"))
    assert list(home.iterdir()) == []
    shutil.rmtree(home)
