from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Literal

import pytest

from reprokit.errors import HashMismatch, PackageIndexError, ResolutionFailed, UnresolvedImports
from reprokit.resolve import LockSettings, lazy_left_out, lock, parse_uv_output, piptool, pypi, requirements_for
from reprokit.resolve import lockfile as lock_mod
from reprokit.resolve.closure import artifacts_for
from reprokit.resolve.fetch import cache_path
from reprokit.scan import ScanSettings, scan
from reprokit.vendor import VendorSettings, vendor
from tests.fakeindex import FakeIndex, build_sdist, running
from tests.helpers import RUNNING, write_tree


@pytest.fixture
def index() -> FakeIndex:
    idx = FakeIndex()
    idx.add("alpha", "1.0", ["beta>=1"], uploaded="2023-01-10T00:00:00Z")
    idx.add("alpha", "1.1", ["beta>=1"], uploaded="2023-05-10T00:00:00Z")
    idx.add("alpha", "2.0", ["beta>=2"], uploaded="2024-03-01T00:00:00Z")  # after the paper's date
    idx.add("beta", "1.0", uploaded="2022-01-01T00:00:00Z")
    idx.add("beta", "1.5", uploaded="2023-02-01T00:00:00Z", yanked=True)
    idx.add("beta", "2.0", uploaded="2024-03-01T00:00:00Z")
    idx.add("gamma", "0.3", uploaded="2023-03-01T00:00:00Z", sdist=False)  # a release with no sdist
    return idx


def fast_client(base: str) -> pypi.Client:
    return pypi.Client(f"{base}/simple/", backoff=0.01, timeout=1.0)


def test_client_resolves_relative_urls_and_retries(index: FakeIndex) -> None:
    with running(index) as base:
        index.fault("/simple/alpha/", 429, 500)
        files = fast_client(base).files("alpha")
        assert next(f.url for f in files) == f"{base}/files/alpha-1.0-py3-none-any.whl"
        assert sum(1 for p in index.log if p == "/simple/alpha/") == 3
        index.fault("/simple/beta/", "stall")
        assert len(fast_client(base).files("beta")) == 6  # the stalled try timed out, the next one answered
        yanked = [f for f in fast_client(base).files("beta") if f.yanked]
        assert {f.filename for f in yanked} == {"beta-1.5-py3-none-any.whl", "beta-1.5.tar.gz"}
        with pytest.raises(PackageIndexError, match="nosuch: not on the index"):
            fast_client(base).files("nosuch")
        index.fault("/simple/alpha/", 503, 503, 503, 503, 503)
        with pytest.raises(PackageIndexError, match="no answer after 5 tries"):
            fast_client(base).files("alpha")


def paper(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "paper", {"run.py": "import alpha\nimport gamma\n", "requirements.txt": "alpha\ngamma\n"})


def do_lock(index: FakeIndex, base: str, root: Path, tmp_path: Path, date: str = "2024-01-15") -> lock_mod.Lock:
    result = scan(ScanSettings(path=root, python="3.11"))
    settings = LockSettings(date=dt.date.fromisoformat(date), python="3.11", index_url=f"{base}/simple/", uv_cache=tmp_path / "uv-cache")
    return lock(result, settings, root=root)


def test_lock_is_dated_hashed_and_stable(index: FakeIndex, tmp_path: Path) -> None:
    root = paper(tmp_path)
    with running(index) as base:
        first = do_lock(index, base, root, tmp_path)
        again = do_lock(index, base, root, tmp_path)
        older = do_lock(index, base, root, tmp_path, date="2023-03-01")
    assert first == again
    got = {p.name: p for p in first.packages}
    assert {n: p.version for n, p in got.items()} == {"alpha": "1.1", "beta": "1.0", "gamma": "0.3"}  # 1.5 is yanked
    assert got["alpha"].requested and not got["beta"].requested and got["beta"].via == ("alpha",)
    assert got["gamma"].has_sdist is False and [a.kind for a in got["gamma"].artifacts] == ["wheel"]
    alpha_sdist = next(a for a in got["alpha"].artifacts if a.kind == "sdist")
    assert alpha_sdist.sha256 == hashlib.sha256(index.file("alpha-1.1.tar.gz").data).hexdigest()
    assert alpha_sdist.url.startswith(base) and alpha_sdist.upload_time == "2023-05-10T00:00:00Z"
    assert {p.name: p.version for p in older.packages}["alpha"] == "1.0"
    # YAML round trip through the schema, and the pip form.
    lock_mod.write(first, tmp_path / "reprokit.lock.yaml", tmp_path / "requirements.lock")
    assert lock_mod.read_yaml(tmp_path / "reprokit.lock.yaml") == first
    req = (tmp_path / "requirements.lock").read_text()
    assert "alpha==1.1 \\\n    --hash=sha256:" in req and "# dependency of alpha" in req


def test_unresolvable_closure_names_who_asked(index: FakeIndex, tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {"run.py": "import alpha\n", "requirements.txt": "alpha>=5\n"})
    with running(index) as base, pytest.raises(ResolutionFailed, match=r"alpha.*requirements.txt:1"):
        do_lock(index, base, root, tmp_path)


def test_parse_uv_output() -> None:
    text = "a==1.0 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via\n    #   -r requirements.in\n    #   b\nc==2 ; python_version >= '3.8' \\\n    --hash=sha256:" + "c" * 64 + "\n    # via b\n"
    assert parse_uv_output(text) == [("a", "1.0", ["a" * 64], ["-r requirements.in", "b"]), ("c", "2", ["c" * 64], ["b"])]


def test_vendor_cache_mismatch_truncation_and_resume(index: FakeIndex, tmp_path: Path) -> None:
    root = paper(tmp_path)
    cache = tmp_path / "cache"
    with running(index) as base:
        locked = do_lock(index, base, root, tmp_path)
        names = sorted(a.filename for p in locked.packages for a in p.artifacts)
        # An interrupted earlier run left half of alpha's sdist behind.
        sdist = next(a for p in locked.packages for a in p.artifacts if a.filename == "alpha-1.1.tar.gz")
        part = cache_path(cache, sdist.sha256).with_name(sdist.sha256 + ".part")
        part.parent.mkdir(parents=True)
        part.write_bytes(index.file("alpha-1.1.tar.gz").data[:100])
        index.fault("/files/beta-1.0.tar.gz", "truncate")
        index.log.clear()
        out = tmp_path / "vendor"
        report = vendor(locked, VendorSettings(output=out, cache_dir=cache), fast_client(base))
        assert sorted(p.name for p in out.rglob("*") if p.is_file()) == names
        for f in out.rglob("*"):
            if f.is_file():
                assert f.read_bytes() == index.file(f.name).data
        assert ("/files/alpha-1.1.tar.gz", "bytes=100-") in index.ranges  # resumed, not restarted
        assert report.requests >= len(names)
        assert not list(cache.rglob("*.part"))
        # Second vendoring of the same lock: no request at all.
        index.log.clear()
        report2 = vendor(locked, VendorSettings(output=tmp_path / "vendor2", cache_dir=cache), fast_client(base))
        assert index.log == [] and report2.requests == 0 and all(not v.downloaded for v in report2.files)
        # Bytes that do not match the lock are refused and not kept.
        index.fault("/files/gamma-0.3-py3-none-any.whl", "corrupt")
        with pytest.raises(HashMismatch, match=r"gamma-0.3-py3-none-any.whl: sha256 is [0-9a-f]{64}, the lock says [0-9a-f]{64}"):
            vendor(locked, VendorSettings(output=tmp_path / "v3", cache_dir=tmp_path / "cache3"), fast_client(base))
        assert not (tmp_path / "v3" / "wheels" / "gamma-0.3-py3-none-any.whl").exists()
        assert not [p for p in (tmp_path / "cache3").rglob("*") if p.is_file() and p.stat().st_size and "gamma" in p.name]


def test_offline_pip_install_from_vendored_files(index: FakeIndex, tmp_path: Path) -> None:
    root = paper(tmp_path)
    with running(index) as base:
        locked = do_lock(index, base, root, tmp_path)
        vendor(locked, VendorSettings(output=tmp_path / "vendor", cache_dir=tmp_path / "cache"), fast_client(base))
    lock_mod.write(locked, tmp_path / "l.yaml", tmp_path / "requirements.lock")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_NO_INDEX": "1"}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-index", "--no-build-isolation",
                    "--find-links", str(tmp_path / "vendor" / "wheels"), "--find-links", str(tmp_path / "vendor" / "sdist"),
                    "--require-hashes", "--only-binary", ":all:", "-r", str(tmp_path / "requirements.lock")], check=True, env=env)
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import alpha, beta, gamma; print(alpha.__version__, beta.__version__)"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1.1", "1.0"]


class FakeTTY:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


def test_progress_draws_a_bar_per_file_and_a_total_on_a_terminal() -> None:
    from reprokit.report.progress import Progress

    tty = FakeTTY()
    p = Progress(tty)  # type: ignore[arg-type]
    p.start([("a.whl", 10_000_000), ("b.tar.gz", 20_000_000)])
    p.advance("a.whl", 5_000_000)
    p.last = 0
    p.advance("b.tar.gz", 20_000_000)
    assert "[############............]     5.0 MB  a.whl" in tty.text
    assert "[########################]    20.0 MB  b.tar.gz" in tty.text and "25.0/30.0 MB  0/2 files" in tty.text
    p.finished("b.tar.gz", "download")
    assert "25.0/30.0 MB  1/2 files\n" in tty.text and "\x1b[F" in tty.text  # redrawn in place
    plain = FakeTTY()
    plain.isatty = lambda: False  # type: ignore[method-assign]
    q = Progress(plain)  # type: ignore[arg-type]
    q.start([("c.whl", 10)])
    q.advance("c.whl", 10)
    q.finished("c.whl", "cached")
    assert plain.text == "cached     c.whl\n"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("uv.lock", 'version = 1\n[[package]]\nname = "alpha"\nversion = "1.0"\n[[package]]\nname = "beta"\nversion = "1.0"\n'),
        ("poetry.lock", '[[package]]\nname = "alpha"\nversion = "1.0"\n[[package]]\nname = "beta"\nversion = "1.0"\n'),
        ("Pipfile.lock", '{"default": {"alpha": {"version": "==1.0"}, "beta": {"version": "==1.0"}}}'),
        ("requirements.txt", "alpha==1.0\ngamma==0.3\n"),
    ],
)
def test_a_lock_file_in_the_paper_wins(index: FakeIndex, tmp_path: Path, name: str, text: str) -> None:
    root = write_tree(tmp_path / "paper", {"run.py": "import alpha\nimport gamma\n", name: text})
    if name != "requirements.txt":
        (root / "requirements.txt").write_text("alpha\ngamma\n")
    with running(index) as base:
        locked = do_lock(index, base, root, tmp_path)
    assert {p.name: p.version for p in locked.packages}["alpha"] == "1.0"  # not 1.1, the newest before the date
    assert locked.versions_from == f"lock file {name}"


def test_credentials_in_urls_are_redacted() -> None:
    from reprokit.http import redact

    assert redact("https://user:pw@mirror.example:8080/simple/?access_token=abc&x=1") == "https://***@mirror.example:8080/simple/?access_token=<hidden>&x=1"
    assert redact("https://pypi.org/simple/six/") == "https://pypi.org/simple/six/"


def test_lazy_imports_are_locked_when_declared_or_installed(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {
        "requirements.txt": "pyyaml\n",
        "paperlib/__init__.py": "",
        "paperlib/fig.py": "def load():\n    import yaml\n\ndef plot():\n    import matplotlib\n",
        "run.py": "import paperlib.fig\n",
    })
    result = scan(ScanSettings(path=root, python="3.11"))
    assert {d.name: (d.lazy, d.how) for d in result.distributions} == {"pyyaml": (True, "declared"), "matplotlib": (True, "table")}
    settings = LockSettings(date=dt.date(2024, 1, 15), python="3.11")
    assert [line.split(";")[0] for line in requirements_for(result, settings)[0]] == ["pyyaml"]
    everything = LockSettings(date=dt.date(2024, 1, 15), python="3.11", with_optional=True)
    assert sorted(requirements_for(result, everything)[0]) == ["matplotlib", "pyyaml"]
    # What is left out is said, with where it is imported.
    left = lazy_left_out(result, settings)
    assert set(left) == {"matplotlib"} and "paperlib/fig.py:5" in left["matplotlib"] and "not locked" in left["matplotlib"]
    assert lazy_left_out(result, everything) == {}


def test_lazy_imports_of_modules_the_paper_runs_are_locked(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {
        "paperlib/__init__.py": "",
        "paperlib/experiment.py": "import tabulate\n\nif __name__ == '__main__':\n    print(tabulate.tabulate([[1]]))\n",
        "paperlib/extra.py": "import pyfiglet\n",  # nothing imports or runs it
    })
    result = scan(ScanSettings(path=root, python="3.11"))
    assert {d.name: d.lazy for d in result.distributions} == {"tabulate": True, "pyfiglet": True}
    settings = LockSettings(date=dt.date(2024, 1, 15), python="3.11")
    assert [line.split(";")[0] for line in requirements_for(result, settings)[0]] == ["tabulate"]
    assert set(lazy_left_out(result, settings)) == {"pyfiglet"}


def test_lock_of_a_folder_without_code_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reprokit.cli import main

    (tmp_path / "paper").mkdir()
    out = tmp_path / "reprokit.lock.yaml"
    assert main(["lock", str(tmp_path / "paper"), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"note: no .py or .ipynb files under {tmp_path / 'paper'}" in captured.err
    assert "0 packages for Python" in captured.out and out.is_file()


def small_closure(bundle: Path) -> tuple[lock_mod.Lock, dict[str, str]]:
    """alpha (needs beta) and beta as wheels under bundle/vendor/wheels, their lock naming
    download URLs on a host that does not exist, and sha256 -> path in the bundle."""
    from tests.fakeindex import build_wheel

    (bundle / "vendor" / "wheels").mkdir(parents=True)
    packages, paths = [], {}
    for name, version, requires in (("alpha", "1.0", ["beta"]), ("beta", "2.0", [])):
        filename, data = build_wheel(name, version, requires)
        (bundle / "vendor" / "wheels" / filename).write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        paths[sha] = f"vendor/wheels/{filename}"
        art = lock_mod.Artifact(filename=filename, url=f"https://files.invalid/{filename}", sha256=sha, size=len(data), kind="wheel",
                                upload_time="2023-06-01T00:00:00Z")
        packages.append(lock_mod.Package(name=name, version=version, requested=name == "alpha", via=("alpha",) if name == "beta" else (),
                                         artifacts=(art,), hashes=(sha,)))
    return lock_mod.Lock(python=RUNNING, platform="x86_64-linux", date="2024-01-20", index_url="https://pypi.invalid/simple/",
                         versions_from="date", packages=tuple(packages)), paths


def test_pylock_is_pep_751_with_every_file_and_reads_back_with_packaging(tmp_path: Path) -> None:
    from packaging.pylock import Pylock

    from reprokit import toml

    locked, paths = small_closure(tmp_path)
    text = lock_mod.render_pylock(locked, paths)
    parsed = Pylock.from_dict(toml.loads(text))
    assert [(p.name, str(p.version)) for p in parsed.packages] == [("alpha", "1.0"), ("beta", "2.0")]
    (wheel,) = parsed.packages[0].wheels or ()
    assert (wheel.url, wheel.path, wheel.size, wheel.hashes, wheel.upload_time.isoformat() if wheel.upload_time else None) == (
        f"https://files.invalid/{wheel.name}", f"vendor/wheels/{wheel.name}", (tmp_path / f"vendor/wheels/{wheel.name}").stat().st_size,
        {"sha256": hashlib.sha256((tmp_path / f"vendor/wheels/{wheel.name}").read_bytes()).hexdigest()}, "2023-06-01T00:00:00+00:00")
    assert parsed.requires_python is not None and str(parsed.requires_python) == f"=={locked.python}.*"
    assert lock_mod.parse_pylock(text) == parsed


def test_pylock_names_old_sdists_pep_751_does_not_take_as_sdists(tmp_path: Path) -> None:
    """An old release's ``.tar.bz2`` sdist is no PEP 751 sdist: alone, it is the package's
    archive; beside a wheel, it is listed under tool.reprokit. Either way the lock reads
    back with packaging and names every vendored file with its sha256 and size."""
    from tests.fakeindex import build_wheel

    def art(filename: str, data: bytes, kind: Literal["sdist", "wheel"]) -> lock_mod.Artifact:
        return lock_mod.Artifact(filename=filename, url=f"https://files.invalid/{filename}", sha256=hashlib.sha256(data).hexdigest(),
                                 size=len(data), kind=kind, upload_time="2016-12-01T00:00:00Z")

    wheel_name, wheel = build_wheel("delta", "2016.10")
    files = {"gamma": [art("gamma-1.0.tar.bz2", b"gamma sdist", "sdist")],
             "delta": [art("delta-2016.10.tar.bz2", b"delta sdist", "sdist"), art(wheel_name, wheel, "wheel")]}
    paths = {a.sha256: f"vendor/{a.kind}/{a.filename}" for arts in files.values() for a in arts}
    packages = tuple(lock_mod.Package(name=n, version=arts[0].filename.split("-")[1].removesuffix(".tar.bz2"), requested=True, via=(),
                                      artifacts=tuple(arts), hashes=tuple(a.sha256 for a in arts)) for n, arts in files.items())
    locked = lock_mod.Lock(python="3.6", platform="x86_64-linux", date="2017-01-01", index_url="https://pypi.invalid/simple/",
                           versions_from="date", packages=packages)
    parsed = lock_mod.parse_pylock(lock_mod.render_pylock(locked, paths))
    gamma, delta = parsed.packages
    assert gamma.sdist is None and gamma.wheels is None and gamma.archive is not None
    assert (gamma.archive.path, gamma.archive.url) == ("vendor/sdist/gamma-1.0.tar.bz2", "https://files.invalid/gamma-1.0.tar.bz2")
    assert delta.archive is None and delta.sdist is None and [w.name for w in delta.wheels or ()] == [wheel_name]
    for pkg, arts in ((gamma, files["gamma"]), (delta, files["delta"])):
        assert lock_mod.pylock_files(pkg) == {paths[a.sha256]: (a.sha256, a.size) for a in arts}


@pytest.mark.skipif(not hasattr(__import__("uv"), "find_uv_bin"), reason="the uv wheel is not installed")
def test_uv_installs_the_closure_offline_from_pylock_and_vendor_alone(tmp_path: Path) -> None:
    import uv

    bundle = tmp_path / "bundle"
    locked, paths = small_closure(bundle)
    (bundle / "pylock.toml").write_text(lock_mod.render_pylock(locked, paths))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}
    venv = tmp_path / "env"
    subprocess.run([uv.find_uv_bin(), "venv", "--quiet", "--python", sys.executable, str(venv)], env=env, check=True)
    install = [uv.find_uv_bin(), "pip", "install", "--preview-features", "pylock", "--offline", "--python", str(venv / "bin" / "python"),
               "-r", "pylock.toml"]
    done = subprocess.run(install, cwd=bundle, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ran = subprocess.run([str(venv / "bin" / "python"), "-c", "import alpha, beta; print(alpha.__version__, beta.__version__)"],
                         capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["1.0", "2.0"]
    # A vendored file that is not the one the lock names (another release's bytes, same
    # size) is refused by its sha256.
    from tests.fakeindex import build_wheel

    (bundle / "vendor" / "wheels" / "beta-2.0-py3-none-any.whl").write_bytes(build_wheel("beta", "2.1")[1])
    subprocess.run([uv.find_uv_bin(), "pip", "uninstall", "--python", str(venv / "bin" / "python"), "alpha", "beta"], env=env,
                   capture_output=True, check=True)
    refused = subprocess.run(install, cwd=bundle, env={**env, "UV_CACHE_DIR": str(tmp_path / "fresh-cache")}, capture_output=True, text=True)
    assert refused.returncode != 0 and "sha256:" in refused.stderr

def test_imports_no_table_knows_are_matched_by_the_files_on_the_index(tmp_path: Path) -> None:
    idx = FakeIndex()
    idx.add("plot-label-lines", "0.5", uploaded="2023-01-10T00:00:00Z", sdist=False, module="labellines")  # declared, another name
    idx.add("zzpyper", "1.1", uploaded="2023-01-10T00:00:00Z", sdist=False)  # undeclared: the project of the import's name
    idx.add("zzfake", "1.0", uploaded="2023-01-10T00:00:00Z", sdist=False, module="other")  # named like the import, provides another
    root = write_tree(tmp_path / "p", {
        "run.py": "import labellines\nimport zzpyper\n", "fig.py": "import zzfake\n", "requirements.txt": "plot-label-lines\n",
    })
    with running(idx) as base:
        with pytest.raises(UnresolvedImports, match=r"no known distribution for zzfake \(fig.py:1\): neither the paper.s declared distributions nor an index project of that name"):
            do_lock(idx, base, root, tmp_path)
        (root / "fig.py").unlink()
        got = do_lock(idx, base, root, tmp_path)
    assert {p.name for p in got.packages} == {"plot-label-lines", "zzpyper"}
    assert got.notes == ("zzpyper is provided by the PyPI project zzpyper (read from its files); declare it, as reprokit locks it now",)
    # Wheels are listed through two Range requests, not downloaded.
    assert any(p.endswith("zzpyper-1.1-py3-none-any.whl") for p, _ in idx.ranges)


def test_the_lock_maps_through_no_installed_environment_unless_one_is_named(tmp_path: Path) -> None:
    """reprokit needs requests itself: a lazy `import requests` must not be locked just
    because reprokit's own environment has it; it is when the author names theirs."""
    root = write_tree(tmp_path / "p", {"paperlib/__init__.py": "", "paperlib/net.py": "def fetch():\n    import requests\n",
                                       "run.py": "import paperlib.net\n"})
    plain = scan(ScanSettings(path=root, python="3.11"))
    assert {d.name: d.how for d in plain.distributions} == {"requests": "table"}
    assert requirements_for(plain, LockSettings(date=dt.date(2024, 1, 15), python="3.11"))[0] == []
    named = scan(ScanSettings(path=root, python="3.11", from_env=sys.executable))
    assert {d.name: d.how for d in named.distributions} == {"requests": "installed"}
    assert requirements_for(named, LockSettings(date=dt.date(2024, 1, 15), python="3.11"))[0] == ["requests"]
    import requests

    from reprokit.resolve import env_pins

    assert env_pins(["requests", "not-installed-here"], sys.executable) == {"requests": requests.__version__}


def test_a_fully_pinned_declaration_resolves_what_it_leaves_open_as_of_its_newest_pin(tmp_path: Path) -> None:
    """An environment file pinning every package is a snapshot: their dependencies come
    from that moment, not from the paper's (later) date."""
    idx = FakeIndex()
    idx.add("alpha", "1.0", ["beta"], uploaded="2023-01-10T00:00:00Z")
    idx.add("gamma", "2.0", uploaded="2023-02-01T00:00:00Z")
    idx.add("beta", "1.0", uploaded="2022-06-01T00:00:00Z")
    idx.add("beta", "1.5", uploaded="2023-08-01T00:00:00Z")  # after the snapshot, before the paper's date
    root = write_tree(tmp_path / "p", {"run.py": "import alpha, gamma\n",
                                       "environment.yml": "dependencies:\n  - alpha=1.0\n  - gamma=2.0\n"})
    with running(idx) as base:
        got = do_lock(idx, base, root, tmp_path, date="2024-01-15")
        (root / "environment.yml").write_text("dependencies:\n  - alpha=1.0\n  - gamma\n")  # not every one pinned
        open_ = do_lock(idx, base, root, tmp_path, date="2024-01-15")
    assert {p.name: p.version for p in got.packages}["beta"] == "1.0"
    assert got.versions_from == "date: the paper pins every requirement it declares, the newest of them released 2023-02-02"
    assert {p.name: p.version for p in open_.packages}["beta"] == "1.5" and open_.versions_from == "date"


def test_a_package_first_released_after_the_papers_date_is_taken_at_its_first_release(index: FakeIndex, tmp_path: Path) -> None:
    """The authors had zzlate from its repository; it reached the index months after the
    paper: its first release (not its newest) is locked, that package alone, with a note."""
    index.add("zzlate", "1.0", uploaded="2024-06-01T00:00:00Z")
    index.add("zzlate", "2.0", uploaded="2025-03-01T00:00:00Z")
    root = write_tree(tmp_path / "late", {"run.py": "import zzlate\nimport alpha\n", "requirements.txt": "zzlate\nalpha\n"})
    with running(index) as base:
        locked = do_lock(index, base, root, tmp_path)
    versions = {p.name: p.version for p in locked.packages}
    assert versions["zzlate"] == "1.0" and versions["alpha"] == "1.1"  # the others keep the paper's date
    assert any(n.startswith("zzlate had no release on the index by 2024-01-15") and "1.0, is locked" in n for n in locked.notes), locked.notes


@pytest.mark.parametrize(("filename", "pkg_info", "want"), [
    # The name cannot tell where the project ends and the version begins; PKG-INFO can.
    ("functools32-3.2.3-2.tar.gz", "Metadata-Version: 1.0\nName: functools32\nVersion: 3.2.3-2\n", ("functools32", "3.2.3-2")),
    ("Foo_Bar-1.0.zip", "Metadata-Version: 1.1\nName: Foo_Bar\nVersion: 1.0\n", ("foo-bar", "1.0")),
    ("plain-2.0.tar.gz", None, ("plain", "2.0")),  # no PKG-INFO: the name says it
])
def test_a_downloaded_sdist_is_named_by_its_metadata(tmp_path: Path, filename: str, pkg_info: str | None, want: tuple[str, str]) -> None:
    top = filename.removesuffix(".tar.gz").removesuffix(".zip")
    code = {"setup.py": "pass\n", **({"PKG-INFO": pkg_info} if pkg_info else {})}
    path = tmp_path / filename
    if filename.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            for name, text in code.items():
                zf.writestr(f"{top}/{name}", text)
    else:
        with tarfile.open(path, "w:gz") as tf:
            for name, text in code.items():
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size = len(text.encode())
                tf.addfile(info, io.BytesIO(text.encode()))
    assert piptool._name_version(path) == want


def test_a_dependency_installed_from_a_repository_the_index_lacks_is_one_line_naming_it(index: FakeIndex, tmp_path: Path) -> None:
    """``-e git+https://…#egg=zzsuite`` with no release on any index: the error names the
    line that installs it and what to do, not the resolver's "not found"."""
    root = write_tree(tmp_path / "paper", {
        "run.py": "import alpha\nimport zzsuite\n",
        "requirements.txt": "alpha\n-e git+https://example.org/lab/zzsuite.git#egg=zzsuite\n",
    })
    with running(index) as base, pytest.raises(ResolutionFailed) as caught:
        do_lock(index, base, root, tmp_path)
    assert str(caught.value).startswith("requirements.txt:2 installs zzsuite from git+https://example.org/lab/zzsuite.git")
    assert "the index has no release of it" in str(caught.value) and "put its code in the paper" in str(caught.value)


def test_an_sdist_whose_name_hides_its_version_is_found_by_its_project(tmp_path: Path) -> None:
    """``functools32-3.2.3-2.tar.gz`` is functools32 3.2.3-2 (3.2.3.post2): a lock made by
    pip (Python 2.7) that names it so finds its file on the index."""
    idx = FakeIndex()
    data = build_sdist("functools32", "3.2.3-2")[1]
    idx.add_file("functools32", "functools32-3.2.3-2.tar.gz", data)
    with running(idx) as base:
        arts, has_sdist = artifacts_for(fast_client(base), "functools32", "3.2.3-2", [], [])
    assert has_sdist and [a.filename for a in arts] == ["functools32-3.2.3-2.tar.gz"]
    assert arts[0].sha256 == hashlib.sha256(data).hexdigest()


def test_a_release_for_a_later_patch_of_the_python_is_locked(tmp_path: Path) -> None:
    """pandas 1.3.5 says requires-python >=3.7.1: for a paper on Python 3.7, whose
    interpreter here is 3.7.17, it is a candidate (asked as 3.7, uv takes 3.7.0 and finds
    none). The same for whatever minor version runs these tests, at its .1."""
    major, minor = RUNNING.split(".")
    idx = FakeIndex()
    idx.add("zzpd", "1.3.5", uploaded="2021-12-12T00:00:00Z", requires_python=f">={major}.{minor}.1")
    root = write_tree(tmp_path / "p", {"run.py": "import zzpd\n", "requirements.txt": "zzpd>=1.3.5\n"})
    with running(idx) as base:
        locked = do_lock(idx, base, root, tmp_path)
    assert {p.name: p.version for p in locked.packages} == {"zzpd": "1.3.5"}
