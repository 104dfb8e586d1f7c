"""Credentials never reach a message: URIs lose their user-info and secret-looking query values.

Used on every text that can carry a tracking URI or an artifact URL (load attempts, /health
reasons, logs, CLI errors), so ``http://user:pw@host/...?token=...`` is shown as
``http://***@host/...?token=***`` (review finding F8).
"""

from __future__ import annotations

import re

# scheme://user[:password]@  (user-info of any URI scheme)
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@?#]+@")
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&;](?:[^=&\s#]*(?:token|secret|password|passwd|pwd|key|sig|signature|code|"
    r"credential|auth)[^=&\s#]*))=(?P<value>[^&\s#]*)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with every URI's credentials replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}***@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m['key']}=***", text)
