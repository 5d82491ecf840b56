"""``reprokit secrets``: credentials that must not be archived or published.

Finds private keys, cloud and forge tokens, Zenodo-looking tokens, literal
``password = "…"`` / ``api_key = "…"`` assignments, and credential files (``.env``,
``.netrc``, ``.pypirc``, cloud credential files), in scripts, text files and notebook
outputs. Each finding has a path, a line and a kind; the value is masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reprokit.scan import tree

MAX_BYTES = 5 * 1024 * 1024

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(r"-----BEGIN (?:RSA |DSA |EC |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----")),
    ("AWS access key id", re.compile(r"\b((?:AKIA|ASIA)[0-9A-Z]{16})\b")),
    ("AWS secret access key", re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*[\"']?([A-Za-z0-9/+=]{40})\b")),
    ("GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
    ("GitLab token", re.compile(r"\b(glpat-[A-Za-z0-9_\-]{20,})\b")),
    ("Slack token", re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})\b")),
    ("Slack webhook", re.compile(r"(https://hooks\.slack\.com/services/[A-Za-z0-9/]+)")),
    ("Google API key", re.compile(r"\b(AIza[0-9A-Za-z_\-]{35})\b")),
    ("Zenodo token", re.compile(r"(?i)zenodo[\w\-]*(?:token|key)\w*[\"']?\s*[=:]\s*[\"']([A-Za-z0-9]{40,80})[\"']")),
    ("access token in URL", re.compile(r"[?&](?:access_token|api_key|token)=([A-Za-z0-9_\-]{16,})")),
    ("password in URL", re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@\"']+:([^/\s@\"']+)@[A-Za-z0-9.\[\]-]")),
    ("password or key assignment", re.compile(
        r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret)\b"
        r"[\"']?\s*[:=]\s*[\"']([^\"'\s]{6,})[\"']")),
)
# Values that are obviously not secrets: placeholders and examples.
PLACEHOLDER = re.compile(r"(?i)^(x+|\*+|\.+|<[^>]*>|\$\{?\w+\}?|%\(?\w+\)?s?|changeme|change_me|password|secret|your[_-].*|example.*|dummy.*|test.*|none|null|redacted)$")
CREDENTIAL_FILES = {
    ".env": "dotenv file", ".netrc": "netrc credentials", "_netrc": "netrc credentials", ".pypirc": "PyPI credentials",
    "credentials": "cloud credentials file", ".git-credentials": "git credentials", "id_rsa": "SSH private key",
    "id_ed25519": "SSH private key", "id_ecdsa": "SSH private key", ".npmrc": "npm credentials",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    path: str
    line: int | None
    kind: str
    masked: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def mask(value: str) -> str:
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 6) + value[-2:]


def scan_text(text: str, path: str, line_offset: int = 0) -> list[Finding]:
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        if len(line) > 10_000:
            line = line[:10_000]
        for kind, pattern in PATTERNS:
            for m in pattern.finditer(line):
                value = m.group(1) if m.groups() else m.group(0)
                if kind == "password or key assignment" and (PLACEHOLDER.match(value) or re.search(r"(getenv|environ|input\(|\{)", line)):
                    continue
                if kind == "password in URL" and PLACEHOLDER.match(value):
                    continue
                found.append(Finding(path=path, line=n + line_offset, kind=kind, masked=mask(value)))
    return _dedupe(found)


def _dedupe(found: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, int | None]] = set()
    out = []
    # The specific kinds are listed first in PATTERNS: keep the first finding per line.
    for f in found:
        if (f.path, f.line) in seen:
            continue
        seen.add((f.path, f.line))
        out.append(f)
    return out


def scan_notebook(text: str, path: str) -> list[Finding]:
    """Sources and outputs of every cell; lines are counted in the notebook's JSON file."""
    try:
        nb = json.loads(text)
    except (ValueError, RecursionError):
        return scan_text(text, path)
    found = scan_text(text, path)  # the raw JSON keeps real line numbers
    if found or not isinstance(nb, dict):
        return found
    # Outputs may hold escaped text (e.g. base64-free JSON strings with \n): decode and look again.
    for i, cell in enumerate(nb.get("cells", []), 1):
        for out in cell.get("outputs", []) if isinstance(cell, dict) else []:
            chunks: list[str] = []
            if isinstance(out, dict):
                for key in ("text", "traceback"):
                    v = out.get(key)
                    chunks.append("".join(v) if isinstance(v, list) else str(v or ""))
                data = out.get("data", {})
                if isinstance(data, dict):
                    for mime, v in data.items():
                        if mime.startswith("text/") or mime == "application/json":
                            chunks.append("".join(v) if isinstance(v, list) else str(v))
            for f in scan_text("\n".join(chunks), path):
                found.append(Finding(path=path, line=None, kind=f"{f.kind} (output of cell {i})", masked=f.masked))
    return _dedupe(found)


def scan_path(root: Path, allow: Iterable[str] = ()) -> list[Finding]:
    """Every finding under ``root`` (a folder or a file), minus the allowed ``PATH:LINE``s."""
    walked = tree.walk(root, suffixes=None)
    allowed = set(allow)
    found: list[Finding] = []
    for rel in walked.files:
        name = rel.rsplit("/", 1)[-1]
        kind = CREDENTIAL_FILES.get(name) or (CREDENTIAL_FILES[".env"] if name.startswith(".env.") and not name.endswith((".example", ".sample", ".template")) else None)
        if kind:
            found.append(Finding(path=rel, line=None, kind=kind, masked="(whole file)"))
        path = walked.root / rel
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            raw = path.read_bytes()
        except OSError:
            continue
        if b"\x00" in raw[:4096]:
            continue
        text = raw.decode("utf-8", errors="replace")
        found.extend(scan_notebook(text, rel) if rel.endswith(".ipynb") else scan_text(text, rel))
    return [f for f in found if f.where not in allowed and f.path not in allowed]

