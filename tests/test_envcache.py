"""Environments kept between archives: built once per key, reused, the two most recently
used kept, and never one in use removed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from reprokit import sandbox
from reprokit.archive import envcache
from reprokit.run import Env


def _builder(built: list[str]) -> Callable[[Path], Env]:
    def build(dest: Path) -> Env:
        dest.mkdir(parents=True)
        (dest / "marker").write_text(dest.parent.name)
        built.append(dest.parent.name)
        return Env(python=Path(sandbox.ENV_AT) / "bin" / "python", bindir=Path(sandbox.ENV_AT) / "bin", readonly=(Path("/usr"),),
                   mounts=(sandbox.Mount(source=dest, at=sandbox.ENV_AT),))
    return build


def test_an_environment_is_built_once_and_reused_as_it_was(tmp_path: Path) -> None:
    built: list[str] = []
    with envcache.environment(tmp_path, "k1", _builder(built)) as (env, reused):
        assert not reused
    with envcache.environment(tmp_path, "k1", _builder(built)) as (again, reused):
        assert reused and again == env
    assert built == ["k1"]


def test_the_two_most_recently_used_are_kept_and_one_in_use_is_never_removed(tmp_path: Path) -> None:
    built: list[str] = []
    with envcache.environment(tmp_path, "a", _builder(built)):
        pass
    time.sleep(0.01)
    # "b" and "a" are in use by other archives (held open here) while "c" is made.
    with envcache.environment(tmp_path, "b", _builder(built)), envcache.environment(tmp_path, "a", _builder(built)) as (_, reused):
        assert reused
        with envcache.environment(tmp_path, "c", _builder(built)):
            pass
        assert (tmp_path / "envs" / "a" / "env" / "marker").is_file() and (tmp_path / "envs" / "b" / "env" / "marker").is_file()
    (tmp_path / "envs" / "stopped" / "env").mkdir(parents=True)  # an archive killed while building
    with envcache.environment(tmp_path, "d", _builder(built)):
        pass
    kept = sorted(d.name for d in (tmp_path / "envs").iterdir())
    assert kept == ["c", "d"], kept
    assert built == ["a", "b", "c", "d"]
