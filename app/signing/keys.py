"""Signing keys: EC public keys the operator trusts, and their ids (hints).

Keys are ECDSA on P-256, P-384 or P-521, as the OpenSSF model-signing format allows; the hash
follows the curve (SHA-256/384/512). A key's id is the sha256 of its PEM (SubjectPublicKeyInfo),
which is what ``model_signing`` records as the bundle's ``publicKey.hint``.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import (
        EllipticCurvePrivateKey,
        EllipticCurvePublicKey,
    )

    PublicKey = EllipticCurvePublicKey
else:
    PublicKey = object

_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+?-----END PUBLIC KEY-----")
_CURVES = {"secp256r1": "SHA256", "secp384r1": "SHA384", "secp521r1": "SHA512"}


class KeyConfigError(ValueError):
    """A configured key cannot be used; the message says which and why (never the key)."""


def warm_up() -> None:
    """Import what verifying a signature needs, ahead of the first load (cold start)."""
    from cryptography.exceptions import InvalidSignature  # noqa: F401
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: F401
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: F401


def _hash_for(key: PublicKey) -> object:
    from cryptography.hazmat.primitives import hashes

    name = _CURVES.get(key.curve.name)
    if name is None:
        raise KeyConfigError(f"unsupported curve {key.curve.name}: use P-256, P-384 or P-521")
    return getattr(hashes, name)()


def pem(key: PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_hint(key: PublicKey) -> str:
    return hashlib.sha256(pem(key)).hexdigest()


def verify_signature(key: PublicKey, signature_der: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(signature_der, data, ec.ECDSA(_hash_for(key)))  # type: ignore[arg-type]
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_der(private_key: EllipticCurvePrivateKey, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    return private_key.sign(data, ec.ECDSA(_hash_for(private_key.public_key())))  # type: ignore[arg-type]


def parse_public_keys(value: str) -> tuple[PublicKey, ...]:
    """Keys from a setting: PEM blocks in the value itself, or comma-separated PEM file paths."""
    return _parse(value.strip())


@lru_cache(maxsize=8)
def _parse(value: str) -> tuple[PublicKey, ...]:
    if not value:
        return ()
    raw = value.encode()
    blocks = _PEM_BLOCK.findall(raw)
    if not blocks:
        blocks = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                text = Path(item).expanduser().read_bytes()
            except OSError:
                raise KeyConfigError(
                    "MODEL_SIGNING_PUBLIC_KEYS holds neither PEM public keys nor readable PEM file paths"
                ) from None
            found = _PEM_BLOCK.findall(text)
            if not found:
                raise KeyConfigError(f"{Path(item).name} holds no PEM public key")
            blocks.extend(found)
    return tuple(_load(block) for block in blocks)


def _load(block: bytes) -> PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(block)
    except ValueError:
        raise KeyConfigError("a configured public key is not valid PEM") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeyConfigError("a configured public key is not an EC key (P-256/P-384/P-521)")
    _hash_for(key)
    return key


def load_private_key(path: Path, password: bytes | None = None) -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyConfigError(f"cannot read the signing key {path.name}: {type(exc).__name__}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyConfigError(f"{path.name} is not an EC private key")
    _hash_for(key.public_key())
    return key


def generate(directory: Path) -> tuple[Path, Path]:
    """A new P-256 key pair: ``private.pem`` (mode 0600) and ``public.pem`` in ``directory``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / "private.pem", directory / "public.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    private.touch(mode=0o600, exist_ok=False)
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public.write_bytes(pem(key.public_key()))
    return private, public
