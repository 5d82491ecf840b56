from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from reprokit import hashes
from reprokit.cli import main
from reprokit.errors import PinError
from reprokit.nix import nixpkgs
from tests.fakeservers import reply, serve
from tests.helpers import COMMIT_TIME, REV, make_tarball


@pytest.mark.parametrize(("date", "channel"), [("2024-02-15", "nixos-23.11"), ("2024-06-01", "nixos-24.05"), ("2024-12-01", "nixos-24.11"), ("2020-05-31", "nixos-20.03"), ("2017-01-20", "nixos-16.09"),
                                             ("2018-08-03", "nixos-18.03"), ("2019-07-11", "nixos-19.03"), ("2020-12-01", "nixos-20.09")])
def test_stable_channel_by_date(date: str, channel: str) -> None:
    assert nixpkgs.stable_channel(dt.date.fromisoformat(date)) == channel


def test_embedded_pin_is_newest_at_or_before_the_date() -> None:
    got = nixpkgs.pin_embedded(dt.date(2024, 2, 15), "nixos-23.11")
    assert got.source == "embedded" and got.channel == "nixos-23.11"
    assert got.last_modified <= nixpkgs._end_of(dt.date(2024, 2, 15))
    later = [r for r in nixpkgs.embedded_pins() if r[0] == "nixos-23.11" and got.last_modified < r[2] <= nixpkgs._end_of(dt.date(2024, 2, 15))]
    assert later == []
    assert got.nar_hash.startswith("sha256-") and len(hashes.from_sri(got.nar_hash)) == 32


def test_embedded_pin_falls_back_to_previous_release_and_errors_clearly() -> None:
    # Right after a release date, before any pin of the new channel exists.
    first = min(r[2] for r in nixpkgs.embedded_pins() if r[0] == "nixos-24.05")
    day = dt.datetime.fromtimestamp(first, dt.timezone.utc).date() - dt.timedelta(days=1)
    got = nixpkgs.pin_embedded(day, "nixos-24.05")
    assert got.channel == "nixos-23.11" and "used nixos-23.11" in got.note
    with pytest.raises(PinError, match="no embedded nixpkgs pin of nixos-unstable at or before 1990-01-01"):
        nixpkgs.pin_embedded(dt.date(1990, 1, 1), "nixos-unstable", strict=True)


def test_a_paper_older_than_every_pin_gets_the_nearest_release_with_its_python() -> None:
    got = nixpkgs.pin_embedded(dt.date(2016, 2, 10), nixpkgs.stable_channel(dt.date(2016, 2, 10)), "2.7")
    oldest = min((r for r in nixpkgs.embedded_pins() if re.fullmatch(r"nixos-\d\d\.\d\d", r[0])), key=lambda r: r[2])
    assert got.rev == oldest[1]
    assert got.note.startswith("reprokit knows no pin of nixos-15.09 (or an older release) with Python 2.7 at or before 2016-02-10: used")
    assert "PyPI versions are still those of 2016-02-10" in got.note


def test_a_pin_whose_nixpkgs_lacks_the_python_is_passed_over() -> None:
    # nixos-23.11 has no CPython 3.7: the nearest release pin that has it is taken instead.
    got = nixpkgs.pin_embedded(dt.date(2024, 2, 15), "nixos-23.11", "3.7")
    assert nixpkgs.has_python(nixpkgs.release_of_pin(got.channel, got.last_modified), "3.7")
    assert got.channel != "nixos-23.11" and "lacks Python 3.7" in got.note


def test_online_pin_against_a_local_github(tmp_path: Path) -> None:
    tarball = make_tarball(tmp_path)
    asked: dict[str, list[str]] = {}

    def handle(h) -> None:  # type: ignore[no-untyped-def]
        url = urlparse(h.path)
        if url.path == "/repos/NixOS/nixpkgs/commits":
            asked.update(parse_qs(url.query))
            body = [{"sha": REV, "commit": {"committer": {"date": "2024-02-15T06:33:51Z"}}}]
            reply(h, 200, json.dumps(body).encode())
        elif url.path == f"/NixOS/nixpkgs/archive/{REV}.tar.gz":
            reply(h, 200, tarball, "application/gzip")
        else:
            reply(h, 404, b"{}")

    with serve(handle) as (base, log):
        settings = nixpkgs.PinSettings(date=dt.date(2024, 2, 15), github_api=base, github_archive=base, cache_dir=tmp_path / "cache")
        got = nixpkgs.pin(settings)
        again = nixpkgs.pin(settings)  # the tarball comes from the cache the second time
    assert asked["sha"] == ["nixos-23.11"] and asked["until"] == ["2024-02-15T23:59:59Z"]
    assert got.source == "github" and got.rev == REV and got.last_modified == COMMIT_TIME
    assert sum(1 for p in log if p.endswith(".tar.gz")) == 1 and again == got
    cached = tmp_path / "cache" / "nixpkgs" / f"{REV}.tar.gz"
    assert cached.read_bytes() == tarball
    if shutil.which("nix-prefetch-url"):
        out = subprocess.run(["nix-prefetch-url", "--unpack", f"file://{cached}"], capture_output=True, text=True, check=True)
        assert hashes.sri(hashes.nix32_decode(out.stdout.split()[-1])) == got.nar_hash


def test_github_is_asked_through_the_one_retrying_call(tmp_path: Path) -> None:
    # A 503 and a 502 (GitHub under load) are retried, for the API and the tarball alike.
    tarball = make_tarball(tmp_path)
    failures = {"/repos/NixOS/nixpkgs/commits": 1, f"/NixOS/nixpkgs/archive/{REV}.tar.gz": 1}

    def handle(h) -> None:  # type: ignore[no-untyped-def]
        path = urlparse(h.path).path
        if failures.get(path):
            failures[path] -= 1
            reply(h, 503 if "commits" in path else 502, b"{}")
        elif path.endswith("/commits"):
            reply(h, 200, json.dumps([{"sha": REV, "commit": {"committer": {"date": "2024-02-15T06:33:51Z"}}}]).encode())
        else:
            reply(h, 200, tarball, "application/gzip")

    with serve(handle) as (base, log):
        got = nixpkgs.pin(nixpkgs.PinSettings(date=dt.date(2024, 2, 15), github_api=base, github_archive=base,
                                              cache_dir=tmp_path / "cache", backoff=0.01))
    assert got.source == "github" and got.rev == REV and got.note == ""
    assert len(log) == 4 and failures == dict.fromkeys(failures, 0)


def test_online_pin_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def handle(h) -> None:  # type: ignore[no-untyped-def]
        reply(h, 500, b"{}")

    with serve(handle) as (base, log):
        monkeypatch.setenv("REPROKIT_GITHUB_API", base)
        assert main(["pin", "--date", "2024-02-15", "--cache-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: GitHub answered 500") and len(err.strip().splitlines()) == 1
    assert len(log) == 3  # asked again twice before giving up


def test_unreachable_github_falls_back_to_embedded(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPROKIT_GITHUB_API", "http://127.0.0.1:9")  # discard port: connection refused
    assert main(["pin", "--date", "2024-02-15", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "embedded" and out["channel"] == "nixos-23.11" and "unreachable" in out["note"]


def test_interpreter_table_covers_every_release_in_order() -> None:
    table = nixpkgs.interpreter_table()
    releases = [r[0] for r in table]
    assert releases == ["16.03", "16.09", "17.03", "17.09", "18.03", "18.09", "19.03", "19.09", "20.03", "20.09", "21.05", "21.11", "22.05", "22.11",
                        "23.05", "23.11", "24.05", "24.11", "25.05", "25.11", "26.05"]
    assert [r[1] for r in table] == sorted(r[1] for r in table)
    assert all(a.startswith("python") and a[6:].isdigit() for r in table for a in r[2])
    by_release = {r[0]: r[2] for r in table}
    assert "python38" in by_release["20.09"] and "python38" not in by_release["24.05"]
    assert nixpkgs.releases_with("python311")[0] == "22.05"
    # A prerelease interpreter exists in the tree, but no pin is chosen for it.
    assert "python39" in by_release["20.03"] and nixpkgs.has_python("20.03", "3.9") is False and nixpkgs.has_python("20.09", "3.9")
    assert "python36" in by_release["16.09"] and not nixpkgs.has_python("16.09", "3.6") and nixpkgs.has_python("17.03", "3.6")
    assert nixpkgs.has_python("18.09", "3.4") and nixpkgs.has_python("13.10", "3.4") is None


def interpreters_tarball(tmp_path: Path, files: dict[str, str]) -> Path:
    out = tmp_path / "nixpkgs.tar.xz"
    with tarfile.open(out, "w:xz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"nixpkgs-{REV}/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out


def test_interpreters_read_from_a_tarball_of_either_layout(tmp_path: Path) -> None:
    new = interpreters_tarball(tmp_path, {
        "pkgs/development/interpreters/python/default.nix": "in {\n  python27 = callPackage ./cpython/2.7 {\n  python38 = callPackage ./cpython {\n  python3Minimal = (python38.override {\n",
        "pkgs/top-level/all-packages.nix": "  inherit (pythonInterpreters) python27 python38 python39 python3Minimal pypy27;\n  python3 = python38;\n",
    })
    assert nixpkgs.interpreters_in_tarball(new) == {"python27", "python38", "python39"}
    (tmp_path / "old").mkdir()
    old = interpreters_tarball(tmp_path / "old", {"pkgs/top-level/all-packages.nix": "  python36 = callPackage ../development/interpreters/python/cpython/3.6 {\n"})
    assert nixpkgs.interpreters_in_tarball(old) == {"python36"}
    (tmp_path / "bad.tar.gz").write_bytes(b"nope")
    with pytest.raises(PinError):
        nixpkgs.interpreters_in_tarball(tmp_path / "bad.tar.gz")
