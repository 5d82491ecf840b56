"""Against the real PyPI: a small pure-Python closure, locked as of a fixed past date."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprokit.resolve import LockSettings, lock, pypi
from reprokit.resolve import lockfile as lock_mod
from reprokit.scan import ScanSettings, scan
from reprokit.vendor import VendorSettings, vendor
from tests.helpers import write_tree

pytestmark = pytest.mark.network


def test_real_pypi_lock_vendor_and_offline_install(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "paper", {"analysis.py": "import requests\nimport attr\nfrom dateutil import parser\n"})
    result = scan(ScanSettings(path=root, python="3.11"))
    settings = LockSettings(date=dt.date(2023, 6, 1), python="3.11", index_url=pypi.DEFAULT_INDEX)
    first = lock(result, settings, root=root)
    second = lock(result, settings, root=root)
    assert first == second
    versions = {p.name: p.version for p in first.packages}
    # The releases current on 2023-06-01 (requests 2.31.0 came out 2023-05-22).
    assert versions["requests"] == "2.31.0" and versions["attrs"] == "23.1.0" and versions["python-dateutil"] == "2.8.2"
    assert {"urllib3", "idna", "certifi", "charset-normalizer", "six"} <= set(versions)
    for p in first.packages:
        assert p.artifacts and all((a.upload_time or "") < "2023-06-02" for a in p.artifacts)
    lock_mod.write(first, tmp_path / "lock.yaml", tmp_path / "requirements.lock")
    out = tmp_path / "vendor"
    report = vendor(first, VendorSettings(output=out, cache_dir=tmp_path / "cache"))
    assert report.files and all(v.downloaded for v in report.files)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_NO_INDEX": "1"}
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--find-links", str(out / "wheels"), "--find-links", str(out / "sdist"),
                    "--require-hashes", "-r", str(tmp_path / "requirements.lock")], check=True, env=env)
    got = subprocess.run([str(venv / "bin" / "python"), "-c", "import requests, attr; print(requests.__version__)"], capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "2.31.0"


@pytest.mark.slow
@pytest.mark.skipif(not (Path.home() / ".pyenv" / "versions").is_dir() or not any(
    p.name.startswith("2.7.") for p in (Path.home() / ".pyenv" / "versions").iterdir()), reason="no Python 2.7 under pyenv")
def test_a_python_2_paper_is_locked_by_its_own_pip_and_rebuilt_without_a_venv(tmp_path: Path) -> None:
    """uv does not target Python 2.7: its own pip resolves against an index of the paper's
    date, and the rebuild installs with the bundle's pip into a folder (2.7 has no venv)."""
    from reprokit.archive import ArchiveSettings, archive
    from reprokit.validate import ValidateSettings, validate

    paper = write_tree(tmp_path / "old", {
        "README.md": "Needs python 2.7.\n\n    python run.py\n",
        "run.py": "import six\nprint 'six', six.__version__\nopen('version.txt', 'w').write(six.__version__)\n",
    })
    result = archive(ArchiveSettings(paper=paper, output=tmp_path / "bundle", date=dt.date(2016, 2, 10), quiet=True, cache_dir=tmp_path / "cache"))
    from reprokit.bundle import manifest

    man = manifest.read(result.bundle / "reprokit.yaml")
    assert man.python == manifest.PythonTarget(version="2.7", platform="x86_64-linux", source="README.md:1 (python 2.7)")
    assert {p.name: p.version for p in man.packages} == {"six": "1.10.0"}  # six 1.10.0: 2015-10-07, 1.11.0: 2017-09
    assert man.build_tools is not None and {p.name for p in man.build_tools.packages} == {"pip"}
    assert (result.bundle / "outputs" / "run" / "version.txt").read_text() == "1.10.0"
    assert validate(ValidateSettings(bundle=result.bundle, rebuild="pip", rerun=True)).ok
