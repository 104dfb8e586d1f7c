"""Process-wide logging configuration (idempotent)."""

from __future__ import annotations

import logging

_configured = False


def configure_logging(level: str) -> None:
    global _configured
    root = logging.getLogger()
    if not _configured and not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    _configured = True
    logging.getLogger("app").setLevel(level.upper())
    for noisy in ("azure.core.pipeline.policies.http_logging_policy", "azure.identity"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
