"""Take credentials out of URLs before they reach a message, a log line or telemetry."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:sig|code|token|access_token|key|api[-_]?key|secret|password|pwd)=)[^&\s#'\"]+")


def redact_urls(text: str) -> str:
    """``text`` with the user-info of every URL and secret-looking query values replaced by ``***``."""
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub("***@", text))
