"""One retrying HTTP call for every client reprokit has (package index, GitHub, Zenodo).

Retries connection errors, timeouts, 429 and 5xx with exponential backoff and jitter,
honouring ``Retry-After``; any other answer is returned to the caller to judge.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from reprokit import lazy
from reprokit.errors import RetriesExhausted
from reprokit.redact import hide, redact

if TYPE_CHECKING:
    import requests
else:
    requests = lazy.module("requests")

__all__ = ["credentials", "hide", "redact", "scrub_url", "send"]

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


_SECRET_PARAMS = frozenset({"access_token", "token", "api_key", "apikey", "key", "auth", "password", "sig", "signature",
                            "x-amz-signature", "x-amz-credential", "x-amz-security-token"})


def scrub_url(url: str) -> str:
    """The URL to record (in a lock, a manifest, a log): no ``user:pass@``, no
    credential-bearing query values. Downloads add credentials back from the user's own
    configuration, never from a recorded URL."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(q for q in parts.query.split("&") if q and q.split("=", 1)[0].lower() not in _SECRET_PARAMS)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def credentials(url: str) -> tuple[str, str] | None:
    """The ``user:pass`` of a URL the user gave (an index URL), for requests' ``auth``."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


def send(session: requests.Session, method: str, url: str, *, retries: int = 4, backoff: float = 0.5,
         rewind: Callable[[], object] | None = None, on_try: Callable[[], object] | None = None, **kwargs: Any) -> requests.Response:
    """``session.request`` with retries. ``rewind()`` runs before a retry that re-sends a
    body; ``on_try()`` before every attempt (to count requests)."""
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4))
            if rewind is not None:
                rewind()
        log.debug("%s %s", method, redact(url))
        if on_try is not None:
            on_try()
        try:
            r = session.request(method, url, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = exc.__class__.__name__
            continue
        if r.status_code in RETRY_STATUS and attempt < retries:
            last = f"HTTP {r.status_code}"
            retry_after = r.headers.get("Retry-After", "")
            r.close()
            if retry_after.isdigit():
                time.sleep(min(int(retry_after), 30))
            continue
        return r
    raise RetriesExhausted(f"{method} {redact(url)}: no answer after {retries + 1} tries ({last})", last)
