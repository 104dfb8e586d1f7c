"""Admin-key and webhook-signature checks (constant-time comparisons)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from fastapi import Request

from app.errors import ApiError
from app.services import services_of

ADMIN_HEADER = "x-admin-key"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds; 12 digits reach the year 33658


async def require_admin(request: Request) -> None:
    """FastAPI dependency: the admin key must be configured and presented.

    ``async`` so FastAPI runs it inline rather than in its thread pool: it never blocks."""
    check_admin(request)


def check_admin(request: Request) -> None:
    settings = services_of(request.app).settings
    if settings.admin_api_key is None:
        raise ApiError(
            403, "admin_disabled", "The management API is disabled: no ADMIN_API_KEY is configured."
        )
    presented = request.headers.get(ADMIN_HEADER)
    if not presented:
        raise ApiError(
            401, "unauthorized", f"Send the admin key in the {ADMIN_HEADER} header.", field=ADMIN_HEADER
        )
    expected = settings.admin_api_key.get_secret_value()
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(403, "forbidden", "The admin key is not valid.", field=ADMIN_HEADER)


def is_admin(request: Request) -> bool:
    """True when no admin key is configured (everything is open, e.g. locally) or the
    request presents the right one; never raises."""
    settings = services_of(request.app).settings
    if settings.admin_api_key is None:
        return True
    presented = request.headers.get(ADMIN_HEADER)
    if not presented:
        return False
    expected = settings.admin_api_key.get_secret_value()
    return hmac.compare_digest(presented.encode(), expected.encode())


async def admin_optional(request: Request) -> None:
    """Require the admin key only when one is configured (used by reload).

    An ADMIN_API_KEY that is an unresolved Key Vault reference counts as configured but
    unusable: the route stays closed (403) rather than opening up."""
    settings = services_of(request.app).settings
    if settings.admin_api_key is not None or "ADMIN_API_KEY" in settings.unresolved_settings:
        check_admin(request)


def mlflow_signature(secret: str, delivery_id: str, timestamp: str, payload: bytes) -> str:
    """MLflow webhook signature: ``v1,`` + base64(HMAC-SHA256(delivery_id.timestamp.payload))."""
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_mlflow_signature(
    secret: str, headers: dict[str, str], payload: bytes, *, max_age_seconds: int = 300
) -> None:
    signature = headers.get("x-mlflow-signature")
    delivery_id = headers.get("x-mlflow-delivery-id")
    timestamp = headers.get("x-mlflow-timestamp")
    if not signature or not delivery_id or not timestamp:
        raise ApiError(401, "unsigned_webhook", "The webhook is not signed.", field="x-mlflow-signature")
    # ASCII digits of bounded length before int(): a longer string made int() raise
    # (Python caps int parsing at 4,300 digits) before the signature was even checked.
    if not _TIMESTAMP.fullmatch(timestamp) or abs(time.time() - int(timestamp)) > max_age_seconds:
        raise ApiError(
            401, "stale_webhook", "The webhook timestamp is missing or too old.", field="x-mlflow-timestamp"
        )
    expected = mlflow_signature(secret, delivery_id, timestamp, payload)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise ApiError(
            401, "bad_signature", "The webhook signature does not match.", field="x-mlflow-signature"
        )
