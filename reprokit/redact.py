"""What reprokit shows or logs never holds a credential: URLs' ``user:pass@`` and token
query values, ``Bearer …`` values and secret-named fields a server echoes back, and every
secret this process was given (:func:`hide`), wherever it appears.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from reprokit import lazy

if TYPE_CHECKING:
    from urllib import parse
else:
    parse = lazy.module("urllib.parse")  # for a secret given, not at every start

_SECRET_QUERY = re.compile(r"(?i)([?&](?:access_token|token|api_key|key)=)[^&#\s]+")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
# Credentials as servers echo them back: an Authorization header's scheme and value, a
# JSON or form field named for a secret.
_SCHEME = re.compile(r"(?i)\b(Bearer|Basic|Token(?=(?:\s+|%20|\+)[A-Za-z0-9._~+/=:-]{16}))(?:\s+|%20|\+)[A-Za-z0-9._~+/=:-]+")
_SECRET_FIELD = re.compile(
    r"""(?i)(["']?\b(?:authorization|access_token|api_key|apikey|x-api-key|token|password|secret)\b["']?\s*[:=]\s*["']?)"""
    r"""(?!<hidden>)[^\s"',;&}\]]{8,}"""
)
# Secrets this process was given (a Zenodo token): hidden wherever they appear, whatever
# field or form a server quotes them in.
_HIDDEN: set[str] = set()


def hide(secret: str) -> None:
    """From now on, :func:`redact` hides ``secret`` (and its URL-encoded form) in every text."""
    if len(secret) >= 6:
        _HIDDEN.update({secret, parse.quote(secret, safe="")})


def redact(text: str) -> str:
    """Hide credentials in a text reprokit shows or logs: ``user:pass@`` and
    ``?access_token=…`` in URLs, ``Bearer …`` and fields named for secrets, and every
    secret given to :func:`hide`."""
    for secret in sorted(_HIDDEN, key=len, reverse=True):
        text = text.replace(secret, "<hidden>")
    text = _SECRET_QUERY.sub(r"\1<hidden>", _USERINFO.sub("***@", text))
    return _SECRET_FIELD.sub(r"\1<hidden>", _SCHEME.sub(r"\1 <hidden>", text))


class RedactingFilter(logging.Filter):
    """Log records pass through :func:`redact`, arguments and all."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


