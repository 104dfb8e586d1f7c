"""Turning verified model bytes into a Python object, and nothing else.

Trust model: skops files load only when every type they reference is trusted by skops
itself, listed in the model's verified signature, or listed by the operator
(``SKOPS_TRUSTED_TYPES``); a list in a tag, a pointer or MLmodel is never used. Pickle runs
arbitrary code, so it loads only from a signed artifact and when the operator sets
``ALLOW_PICKLE=true``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
from collections.abc import Iterable
from typing import Any

from app.model_loading.types import LoadError

SKOPS = "skops"
PICKLE = "pickle"
CLOUDPICKLE = "cloudpickle"  # MLflow's default for scikit-learn; read with pickle
FORMATS = (SKOPS, PICKLE, CLOUDPICKLE)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_deserializer() -> None:
    """Import skops (which imports all of scikit-learn: about a second of CPU) now.

    Called on the main thread right after a model load has started, so this CPU work
    overlaps the load's registry round trips instead of following them. A failure here is
    only logged: the load meets the same error and reports it, and the app still starts.
    """
    try:
        import skops.io  # noqa: F401
    except Exception:  # a warm-up must never stop the app from starting
        logging.getLogger(__name__).exception("could not import skops ahead of the load")


def untrusted_types(data: bytes) -> list[str]:
    import skops.io

    try:
        return sorted(skops.io.get_untrusted_types(data=data))
    except Exception as exc:  # noqa: BLE001 - a corrupt archive surfaces here
        raise LoadError(f"not a readable skops file: {type(exc).__name__}") from None


def deserialize(data: bytes, fmt: str, *, trusted: Iterable[str], allow_pickle: bool) -> Any:
    """Deserialize bytes whose signature the caller has already checked."""
    if fmt == SKOPS:
        import skops.io

        allowed = set(trusted)
        refused = [t for t in untrusted_types(data) if t not in allowed]
        if refused:
            raise LoadError(
                "the skops file references types nobody trusted: "
                + ", ".join(refused[:5])
                + " (add them at publish time or to SKOPS_TRUSTED_TYPES if you trust them)"
            )
        try:
            return skops.io.loads(data, trusted=sorted(allowed) or None)
        except Exception as exc:  # noqa: BLE001
            raise LoadError(f"skops could not load the model: {type(exc).__name__}") from None
    if fmt in (PICKLE, CLOUDPICKLE):
        if not allow_pickle:
            raise LoadError("the artifact is a pickle and ALLOW_PICKLE is off; refusing to unpickle it")
        try:
            return pickle.load(io.BytesIO(data))  # noqa: S301 - signed, operator opted in
        except Exception as exc:  # noqa: BLE001
            raise LoadError(f"the pickle could not be loaded: {type(exc).__name__}") from None
    raise LoadError(f"unknown serialization format {fmt!r}")


def serialize_skops(model: Any) -> bytes:
    import skops.io

    data: bytes = skops.io.dumps(model)
    return data
