"""Is an HTTP(S) server there at all? A TCP connect, before paying for `import mlflow`."""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlsplit


def unreachable_reason(uri: str, timeout: float) -> str | None:
    """Why nothing accepts connections at an http(s) ``uri`` (None: reachable, or not checkable).

    Only a direct connection is checked: through a proxy (``HTTP(S)_PROXY``), or for other
    schemes (``azureml://``, ``sqlite:///``, ``databricks``), the answer is None.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(parts.hostname):
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the port is not a number"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or type(exc).__name__
