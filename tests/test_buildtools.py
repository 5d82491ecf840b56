"""The build tools of a lock's sdists: found (static and dynamic), resolved, vendored, and
used by an offline rebuild in the sandbox, with no network."""

from __future__ import annotations

import datetime as dt
import ensurepip
import textwrap
from pathlib import Path

import pytest

from reprokit import run as rerun
from reprokit import sandbox
from reprokit.cache import cache_root
from reprokit.errors import InputError, RebuildFailed, ResolutionFailed
from reprokit.resolve import LockSettings, buildtools, legacybuild, lock, pypi, uv
from reprokit.resolve import lockfile as lock_mod
from reprokit.scan import ScanSettings, scan
from reprokit.vendor import VendorSettings, vendor
from tests.fakeindex import Dist, FakeIndex, build_sdist, build_wheel, running
from tests.helpers import RUNNING, write_tree

needs_sandbox = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")

LEGACY_SETUP = """\
from setuptools import setup
setup(name="oldpkg", version="1.0", packages=["oldpkg"], setup_requires=["zzhelper"])
"""

# A PEP 517 backend of its own, as flit-core or hatchling are: it asks for one more
# package when asked what it needs, and builds a plain wheel.
BACKEND = textwrap.dedent('''\
    import base64, hashlib, os, zipfile

    def get_requires_for_build_wheel(config_settings=None):
        return ["zzdyn"]

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        import zzdyn  # the dynamic requirement is really installed for the build
        name = "newpkg-1.0-py3-none-any.whl"
        files = {"newpkg/__init__.py": "x = 1\\n",
                 "newpkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: newpkg\\nVersion: 1.0\\n",
                 "newpkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: zzbackend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
        rows = []
        for path, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append(f"{path},sha256={digest},{len(data)}")
        files["newpkg-1.0.dist-info/RECORD"] = "\\n".join(rows + ["newpkg-1.0.dist-info/RECORD,,"]) + "\\n"
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
            for path, text in files.items():
                zf.writestr(path, text)
        return name
''')


@pytest.fixture
def index() -> FakeIndex:
    idx = FakeIndex()
    idx.add_build_tools()
    idx.add("zzhelper", "1.0", uploaded="2023-01-01T00:00:00Z", sdist=False)
    idx.add("zzdyn", "2.0", uploaded="2023-01-01T00:00:00Z", sdist=False)
    when = "2023-02-01T00:00:00Z"
    idx.projects["zzbackend"] = [Dist(*build_wheel("zzbackend", "0.3", code={"zzbackend.py": BACKEND}), when)]
    idx.projects["oldpkg"] = [Dist(*build_sdist("oldpkg", "1.0", code={"setup.py": LEGACY_SETUP, "oldpkg/__init__.py": "x = 1\n"}), when)]
    idx.projects["newpkg"] = [Dist(*build_sdist("newpkg", "1.0", code={
        "pyproject.toml": '[build-system]\nrequires = ["zzbackend"]\nbuild-backend = "zzbackend"\n',
        "PKG-INFO": "Metadata-Version: 2.1\nName: newpkg\nVersion: 1.0\n", "newpkg/__init__.py": "x = 1\n"}), when)]
    return idx


def locked(index: FakeIndex, base: str, tmp_path: Path) -> tuple[lock_mod.Lock, LockSettings, pypi.Client]:
    paper = write_tree(tmp_path / "paper", {"run.py": "import oldpkg\nimport newpkg\n", "requirements.txt": "oldpkg\nnewpkg\n"})
    settings = LockSettings(date=dt.date(2024, 1, 15), python=RUNNING, index_url=f"{base}/simple/", uv_cache=tmp_path / "uv", cache_dir=tmp_path / "cache")
    client = pypi.Client(settings.index_url)
    found = lock(scan(ScanSettings(path=paper, python=RUNNING)), settings, root=paper)
    exe, _ = rerun.find_python(RUNNING)
    assert exe
    planned, _ = buildtools.plan(found, settings, python_exe=exe, client=client, cache=cache_root(settings.cache_dir))
    return planned, settings, client


def test_static_and_dynamic_build_requirements_are_resolved(index: FakeIndex, tmp_path: Path) -> None:
    with running(index) as base:
        planned, _, _ = locked(index, base, tmp_path)
    by_name = {p.name: p for p in planned.packages}
    # A legacy setup.py: setuptools and wheel, and its setup_requires, which only its
    # backend can tell (setuptools' get_requires_for_build_wheel).
    assert by_name["oldpkg"].build_requires[:2] == buildtools.LEGACY_REQUIRES and "zzhelper" in by_name["oldpkg"].build_requires
    assert {w.split("==")[0] for w in by_name["oldpkg"].build_with} >= {"setuptools", "wheel", "zzhelper"}
    # A PEP 517 sdist: its [build-system] requires, and what its backend asks for.
    assert by_name["newpkg"].build_requires == ("zzbackend", "zzdyn")
    assert by_name["newpkg"].build_with == ("zzbackend==0.3", "zzdyn==2.0")
    tools = {p.name for p in planned.build_tools}
    assert tools >= {"pip", "setuptools", "wheel", "zzhelper", "zzbackend", "zzdyn"}
    assert planned.build_tools_date == "2024-01-15" and planned.build_tools_note == ""


@needs_sandbox
def test_sdists_rebuild_offline_from_vendored_build_tools_with_no_network(index: FakeIndex, tmp_path: Path) -> None:
    with running(index) as base:
        planned, _, client = locked(index, base, tmp_path)
        bundle = tmp_path / "bundle"
        vendor(planned, VendorSettings(output=bundle / "vendor", cache_dir=tmp_path / "cache"), client)
    lock_mod.write(planned, bundle / "reprokit.lock.yaml", bundle / "requirements.lock")
    assert sorted(p.name for p in (bundle / "vendor" / "build").iterdir())[:1] != []
    exe, _ = rerun.find_python(RUNNING)
    assert exe
    # The index is gone, and the sandbox has no network: everything comes from vendor/.
    env = rerun.rebuild_pip(bundle, exe, tmp_path / "env", policy=sandbox.Policy(network=False))
    out = sandbox.run([str(env.python), "-c", "import oldpkg, newpkg; print(oldpkg.x + newpkg.x)"], cwd=Path(sandbox.ENV_AT),
                      readonly=list(env.readonly), mounts=env.mounts)
    assert out.returncode == 0 and out.stdout.strip() == "2", out.stderr


def test_without_its_build_tools_the_rebuild_fails_naming_the_package(index: FakeIndex, tmp_path: Path) -> None:
    with running(index) as base:
        planned, _, client = locked(index, base, tmp_path)
        bundle = tmp_path / "bundle"
        vendor(planned, VendorSettings(output=bundle / "vendor", cache_dir=tmp_path / "cache"), client)
    lock_mod.write(planned, bundle / "reprokit.lock.yaml", bundle / "requirements.lock")
    for w in (bundle / "vendor" / "build").glob("zzdyn-*"):
        w.unlink()
    exe, _ = rerun.find_python(RUNNING)
    assert exe
    with pytest.raises(RebuildFailed, match=r"newpkg.*zzdyn is not in the bundle's vendor/"):
        rerun.rebuild_pip(bundle, exe, tmp_path / "env", policy=sandbox.Policy(contained=sandbox.available() is None))


def test_a_library_an_sdist_is_compiled_against_is_the_papers_own_version(index: FakeIndex, tmp_path: Path) -> None:
    """Built against a newer numpy, an extension does not import with the paper's older
    one: a build requirement that is also one of the paper's packages keeps its version."""
    index.add("zzhelper", "0.9", uploaded="2022-01-01T00:00:00Z", sdist=False)
    paper = write_tree(tmp_path / "paper", {"run.py": "import oldpkg, zzhelper\n", "requirements.txt": "oldpkg\nzzhelper==0.9\n"})
    with running(index) as base:
        settings = LockSettings(date=dt.date(2024, 1, 15), python=RUNNING, index_url=f"{base}/simple/", uv_cache=tmp_path / "uv", cache_dir=tmp_path / "cache")
        found = lock(scan(ScanSettings(path=paper, python=RUNNING)), settings, root=paper)
        exe, _ = rerun.find_python(RUNNING)
        assert exe
        planned, _ = buildtools.plan(found, settings, python_exe=exe, client=pypi.Client(settings.index_url), cache=cache_root(settings.cache_dir))
    oldpkg = next(p for p in planned.packages if p.name == "oldpkg")
    assert "zzhelper==0.9" in oldpkg.build_with  # not 1.0, the newest
    assert "setuptools" in {w.split("==")[0] for w in oldpkg.build_with}  # tools are free to be newer


# An sdist made by someone else (its members owned by uid 1234) whose backend, as setup.py's
# copy_file does, copies a file's mode onto another file of its tree.
OWN_FILES_BACKEND = "import shutil\n\ndef get_requires_for_build_wheel(config_settings=None):\n" \
                    "    shutil.copymode('LICENSE.txt', 'pkg/LICENSE.txt')\n    open('pkg/new.txt', 'w').write('x')\n    return ['zzdyn']\n"


@needs_sandbox
def test_a_backend_may_change_the_files_of_its_own_source_tree(tmp_path: Path) -> None:
    import io
    import sys
    import tarfile

    sdist = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        for name, text in {"pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "ownbackend"\nbackend-path = ["."]\n',
                           "ownbackend.py": OWN_FILES_BACKEND, "LICENSE.txt": "MIT\n", "pkg/LICENSE.txt": "MIT\n"}.items():
            info = tarfile.TarInfo(f"pkg-1.0/{name}")
            info.size, info.uid, info.gid, info.uname, info.gname, info.mode = len(text), 1234, 1234, "builder", "builder", 0o644
            tf.addfile(info, io.BytesIO(text.encode()))
    system = buildtools.BuildSystem(requires=(), backend="ownbackend", backend_path=(".",), declared=True)
    assert buildtools.dynamic_requires(sdist, system, [], sys.executable) == ["zzdyn"]


# A setup.py of before PEP 518 that imports numpy without declaring it (glumpy, many
# Cython extensions): its users had numpy installed. Here "numpy" is a tiny stand-in.
def _planned_bundle(base: str, paper: Path, tmp_path: Path, date: dt.date) -> tuple[lock_mod.Lock, list[str], Path, str]:
    """The paper locked against the index at ``base`` as of ``date``, its build tools
    planned and everything vendored into ``tmp_path/bundle``; with the plan's notes and
    the interpreter that rebuilds it."""
    settings = LockSettings(date=date, python=RUNNING, index_url=f"{base}/simple/", uv_cache=tmp_path / "uv", cache_dir=tmp_path / "cache")
    found = lock(scan(ScanSettings(path=paper, python=RUNNING)), settings, root=paper)
    exe, _ = rerun.find_python(RUNNING)
    assert exe
    client = pypi.Client(settings.index_url)
    planned, notes = buildtools.plan(found, settings, python_exe=exe, client=client, cache=cache_root(settings.cache_dir))
    bundle = tmp_path / "bundle"
    vendor(planned, VendorSettings(output=bundle / "vendor", cache_dir=tmp_path / "cache"), client)
    lock_mod.write(planned, bundle / "reprokit.lock.yaml", bundle / "requirements.lock")
    return planned, notes, bundle, exe


def _imported(env: rerun.Env, module: str) -> str:
    """What ``print(module.x)`` prints in the rebuilt environment, in the sandbox."""
    out = sandbox.run([str(env.python), "-c", f"import {module}; print({module}.x)"], cwd=Path(sandbox.ENV_AT), readonly=list(env.readonly),
                      mounts=env.mounts)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


LEGACY_NUMPY_SETUP = "import numpy\nfrom setuptools import setup\nsetup(name='zzlegacy', version='1.0', packages=['zzlegacy'])\n"


def _legacy_numpy_paper(index: FakeIndex, tmp_path: Path, numpy_wheel: bool) -> Path:
    """zzlegacy, an sdist whose setup.py imports numpy undeclared, and a paper needing it;
    numpy 1.0 on the index as a wheel, or only as an sdist."""
    when = "2023-02-01T00:00:00Z"
    index.add("numpy", "1.0", uploaded=when, sdist=not numpy_wheel, wheel=numpy_wheel)
    index.projects["zzlegacy"] = [Dist(*build_sdist("zzlegacy", "1.0", code={
        "setup.py": LEGACY_NUMPY_SETUP, "PKG-INFO": "Metadata-Version: 2.1\nName: zzlegacy\nVersion: 1.0\n", "zzlegacy/__init__.py": "x = 3\n"}), when)]
    return write_tree(tmp_path / "paper", {"run.py": "import zzlegacy\n", "requirements.txt": "zzlegacy\n"})


@needs_sandbox
def test_a_setup_py_that_imports_numpy_undeclared_gets_it_and_rebuilds(index: FakeIndex, tmp_path: Path) -> None:
    """uv's metadata build, the backend's answer and pip's rebuild all fail with "No module
    named 'numpy'" until numpy (of the paper's version) is given to the build: it is,
    recorded as undeclared, said in a note, and the rebuild builds it unisolated."""
    paper = _legacy_numpy_paper(index, tmp_path, numpy_wheel=True)
    with running(index) as base:
        planned, notes, bundle, exe = _planned_bundle(base, paper, tmp_path, dt.date(2024, 1, 15))
    assert any(n.startswith("zzlegacy: its setup.py imports numpy at build time without declaring it") for n in planned.notes), planned.notes
    legacy = next(p for p in planned.packages if p.name == "zzlegacy")
    assert legacy.build_undeclared == ("numpy",) and "numpy==1.0" in legacy.build_with
    assert any("its build needs the module numpy without declaring it" in n for n in notes), notes
    env = rerun.rebuild_pip(bundle, exe, tmp_path / "env", policy=sandbox.Policy(network=False),
                            unisolated={legacy.name: legacy.build_with})
    assert _imported(env, "zzlegacy") == "3"


@needs_sandbox
@pytest.mark.parametrize("requires_helper", [True, False])
def test_a_setup_py_importing_its_own_package_gets_what_the_paper_also_requires(index: FakeIndex, tmp_path: Path,
                                                                                 requires_helper: bool) -> None:
    """A setup.py that imports its own package to read its version (pyglmnet's) imports
    what the package imports (pandas): a distribution the paper requires too is given to
    its build, as its users had it installed first; one the paper does not name stays the
    build's error, naming it."""
    when = "2023-02-01T00:00:00Z"
    index.add("zzhelper", "2.0", uploaded=when)
    index.projects["zzown"] = [Dist(*build_sdist("zzown", "1.0", code={
        "setup.py": "from setuptools import setup\nimport zzown\nsetup(name='zzown', version=zzown.__version__, packages=['zzown'])\n",
        "PKG-INFO": "Metadata-Version: 2.1\nName: zzown\nVersion: 1.0\n",
        "zzown/__init__.py": "import zzhelper\n__version__ = '1.0'\nx = 5\n"}), when)]
    paper = write_tree(tmp_path / "paper", {"run.py": "import zzown\n", "requirements.txt": "zzown\n" + ("zzhelper\n" if requires_helper else "")})
    with running(index) as base:
        if not requires_helper:
            with pytest.raises(ResolutionFailed, match="No module named 'zzhelper'"):
                _planned_bundle(base, paper, tmp_path, dt.date(2024, 1, 15))
            return
        planned, notes, bundle, exe = _planned_bundle(base, paper, tmp_path, dt.date(2024, 1, 15))
    own = next(p for p in planned.packages if p.name == "zzown")
    assert own.build_undeclared == ("zzhelper",) and "zzhelper==2.0" in own.build_with
    assert any("its build needs the module zzhelper without declaring it" in n for n in notes), notes
    env = rerun.rebuild_pip(bundle, exe, tmp_path / "env", policy=sandbox.Policy(network=False), unisolated={own.name: own.build_with})
    assert _imported(env, "zzown") == "5"


@needs_sandbox
def test_a_build_requirement_with_no_wheel_for_the_python_is_said_as_such(index: FakeIndex, tmp_path: Path) -> None:
    """The numpy a setup.py needs has only an sdist for this Python (numpy of 2016 and
    Python 3.6): the backend cannot be given it, and the error says that, not the
    setup.py's own advice to install numpy."""
    paper = _legacy_numpy_paper(index, tmp_path, numpy_wheel=False)
    with running(index) as base:
        settings = LockSettings(date=dt.date(2024, 1, 15), python=RUNNING, index_url=f"{base}/simple/", uv_cache=tmp_path / "uv", cache_dir=tmp_path / "cache")
        found = lock(scan(ScanSettings(path=paper, python=RUNNING)), settings, root=paper)
        exe, _ = rerun.find_python(RUNNING)
        assert exe
        with pytest.raises(InputError) as err:
            buildtools.plan(found, settings, python_exe=exe, client=pypi.Client(settings.index_url), cache=cache_root(settings.cache_dir))
    assert str(err.value) == (f"zzlegacy-1.0.tar.gz: its build needs numpy, and numpy 1.0, the release of the paper's date, has no wheel for "
                              f"Python {RUNNING}: it would have to be built from source first (a Python of the paper's own time, or "
                              "--python, avoids it)")


@needs_sandbox
def test_pip_builds_on_disk_not_in_the_sandboxs_capped_tmp(index: FakeIndex, tmp_path: Path) -> None:
    """pip unpacks and builds an sdist in TMPDIR: the rebuild gives it a folder on disk, so
    a package larger than the sandbox's in-memory /tmp (torch's wheels are gigabytes) builds."""
    when = "2023-02-01T00:00:00Z"
    index.projects["zzbig"] = [Dist(*build_sdist("zzbig", "1.0", code={
        "setup.py": "from setuptools import setup\nsetup(name='zzbig', version='1.0', packages=['zzbig'], package_data={'zzbig': ['*.bin']})\n",
        "PKG-INFO": "Metadata-Version: 2.1\nName: zzbig\nVersion: 1.0\n", "zzbig/__init__.py": "x = 5\n", "zzbig/blob.bin": "0" * (6 << 20)}), when)]
    paper = write_tree(tmp_path / "paper", {"run.py": "import zzbig\n", "requirements.txt": "zzbig\n"})
    with running(index) as base:
        _, _, bundle, exe = _planned_bundle(base, paper, tmp_path, dt.date(2024, 1, 15))
    small_tmp = sandbox.Policy(limits=sandbox.Limits(tmp=4 << 20))
    env = rerun.rebuild_pip(bundle, exe, tmp_path / "env", policy=small_tmp)
    assert _imported(env, "zzbig") == "5"
    assert not (tmp_path / "env" / ".reprokit-tmp").exists()


ARGV0_SETUP = """\
import os, sys
# As numpy's and scipy's setup.py of their day: work from the folder of the script run.
os.chdir(os.path.dirname(os.path.abspath(sys.argv[0])))
version = open("VERSION").read().strip()
from setuptools import setup
setup(name="zzargv", version=version, packages=["zzargv"])
"""


@needs_sandbox
def test_a_setup_py_that_works_from_its_own_folder_builds_with_a_setuptools_that_runs_it_so(tmp_path: Path) -> None:
    """Before setuptools 44.1 (#1704) its legacy backend ran setup.py with sys.argv[0] the
    frontend's script, so a setup.py that changes to its own folder lost its files: the
    tools of a 2020 paper's date cannot build it, and the first setuptools that can is
    taken, for the metadata build and for the offline rebuild alike."""
    idx = FakeIndex()
    idx.add_installer()
    for path in sorted((Path(__file__).parent / "data").glob("*.whl")):  # setuptools 41.2.0 and wheel, of 2019
        idx.add_file(path.name.split("-")[0], path.name, path.read_bytes(), uploaded="2019-08-20T00:00:00Z")
    new = next((Path(ensurepip.__file__).parent / "_bundled").glob("setuptools-*.whl"))
    idx.add_file("setuptools", new.name, new.read_bytes(), uploaded="2022-06-01T00:00:00Z")
    idx.projects["zzargv"] = [Dist(*build_sdist("zzargv", "1.0", code={
        "setup.py": ARGV0_SETUP, "VERSION": "1.0\n", "PKG-INFO": "Metadata-Version: 2.1\nName: zzargv\nVersion: 1.0\n",
        "zzargv/__init__.py": "x = 7\n"}), "2019-09-01T00:00:00Z")]
    paper = write_tree(tmp_path / "paper", {"run.py": "import zzargv\n", "requirements.txt": "zzargv\n"})
    with running(idx) as base:
        planned, _, bundle, exe = _planned_bundle(base, paper, tmp_path, dt.date(2020, 1, 15))
    assert {t.name: t.version for t in planned.build_tools}["setuptools"] == new.name.split("-")[1]
    env = rerun.rebuild_pip(bundle, exe, tmp_path / "env", policy=sandbox.Policy(network=False))
    assert _imported(env, "zzargv") == "7"


@pytest.mark.parametrize(("output", "wanted"), [
    ("ModuleNotFoundError: No module named 'numpy'", "numpy"),
    # scikit-image 0.12's setup.py checks for numpy itself and stops with advice.
    ("To install scikit-image from source, you will need numpy.\nInstall numpy with pip:\npip install numpy\n", "numpy"),
    ("Cython is required to build this package", "Cython"),
    ("error: Microsoft Visual C++ 14.0 is required", None),  # not a module a build can be given
    ("Please install wheel first", None),  # the build tools always hold wheel
    ("No module named 'mylab_private'", None),
])
def test_what_an_old_setup_py_asks_for_is_read_from_its_failure(output: str, wanted: str | None) -> None:
    assert legacybuild.undeclared_build_import(output) == wanted


FILTERED_SETUPTOOLS = """\
error: Failed to download and build `markupsafe==1.0`
  cause: No solution found when resolving: `setuptools>=40.8.0`
hint: `setuptools` was filtered by `exclude-newer` to only include packages uploaded before 2017-08-25T00:00:00Z.
"""


def test_a_later_setuptools_for_an_old_sdists_build_takes_a_later_wheel_with_it() -> None:
    """markupsafe 1.0 (2017) with the setuptools uv's legacy builds need (40.8, 2019) and
    the wheel of its date (0.29) failed inside wheel's egg2dist: the two move together,
    each at most LATER_MONTHS past the date."""
    assert uv.later_tools(FILTERED_SETUPTOOLS, {}) == ["setuptools", "wheel"]
    assert uv.later_tools(FILTERED_SETUPTOOLS, {"setuptools": 6, "wheel": 6}) == ["setuptools", "wheel"]
    assert uv.later_tools(FILTERED_SETUPTOOLS, {"wheel": uv.LATER_MONTHS}) == ["setuptools"]
    assert uv.later_tools(FILTERED_SETUPTOOLS, {"setuptools": uv.LATER_MONTHS}) == []
    assert uv.later_tools(FILTERED_SETUPTOOLS.replace("setuptools", "hatchling"), {}) == ["hatchling"]


def test_build_tools_later_than_the_date_are_those_of_the_earliest_day_that_resolves(tmp_path: Path) -> None:
    """A build asks for a tool newer than the paper's date (zztool>=2.0): it gets the
    earliest release that satisfies it (2.0 of March), not the newest of the six-month
    step that found one (4.0 of June), which may have removed what an old setup.py uses."""
    idx = FakeIndex()
    for version, day in [("1.0", "2023-01-01"), ("2.0", "2023-03-01"), ("3.0", "2023-05-01"), ("4.0", "2023-06-20")]:
        idx.add("zztool", version, uploaded=f"{day}T00:00:00Z", sdist=False)
    with running(idx) as base:
        settings = LockSettings(date=dt.date(2023, 1, 15), python=RUNNING, index_url=f"{base}/simple/", uv_cache=tmp_path / "uv",
                                cache_dir=tmp_path / "cache")
        client = pypi.Client(settings.index_url)
        resolved, why = buildtools._resolve(["zztool>=2.0"], settings, client, [dt.date(2023, 1, 15), dt.date(2023, 7, 15)])
    assert [(p.name, p.version) for p in resolved.packages] == [("zztool", "2.0")]
    assert resolved.cutoff == dt.date(2023, 3, 1), resolved.cutoff
    assert "zztool" in why


@needs_sandbox
def test_what_a_backend_asks_for_is_resolved_from_the_narrowed_day(tmp_path: Path) -> None:
    """The sdist's [build-system] asks for zztool>=2.0, which came out after the paper's
    date: the tools are of 2023-03-01 (zztool 2.0). Its backend then asks for zzdyn too:
    the tools are resolved again from that day, not from the next six-month step (which
    would take zztool 4.0)."""
    idx = FakeIndex()
    for version, day in [("1.0", "2022-11-01"), ("2.0", "2023-03-01"), ("3.0", "2023-05-01"), ("4.0", "2023-06-20")]:
        idx.add("zztool", version, uploaded=f"{day}T00:00:00Z", sdist=False)
    idx.add("zzdyn", "2.0", uploaded="2022-12-01T00:00:00Z", sdist=False)
    idx.projects["zzbackend"] = [Dist(*build_wheel("zzbackend", "0.3", code={"zzbackend.py": BACKEND}), "2022-12-01T00:00:00Z")]
    idx.projects["newpkg"] = [Dist(*build_sdist("newpkg", "1.0", code={
        "pyproject.toml": '[build-system]\nrequires = ["zzbackend", "zztool>=2.0"]\nbuild-backend = "zzbackend"\n',
        "PKG-INFO": "Metadata-Version: 2.1\nName: newpkg\nVersion: 1.0\n", "newpkg/__init__.py": "x = 1\n"}), "2022-12-01T00:00:00Z")]
    paper = write_tree(tmp_path / "paper", {"run.py": "import newpkg\n", "requirements.txt": "newpkg\n"})
    with running(idx) as base:
        settings = LockSettings(date=dt.date(2023, 1, 15), python=RUNNING, index_url=f"{base}/simple/", uv_cache=tmp_path / "uv",
                                cache_dir=tmp_path / "cache")
        found = lock(scan(ScanSettings(path=paper, python=RUNNING)), settings, root=paper)
        exe, _ = rerun.find_python(RUNNING)
        planned, _ = buildtools.plan(found, settings, python_exe=exe, client=pypi.Client(settings.index_url),
                                     cache=cache_root(settings.cache_dir))
    newpkg = next(p for p in planned.packages if p.name == "newpkg")
    assert newpkg.build_requires == ("zzbackend", "zztool>=2.0", "zzdyn")
    assert "zztool==2.0" in newpkg.build_with and planned.build_tools_date == "2023-03-01", (newpkg.build_with, planned.build_tools_date)
