"""Who signs: a PEM private key file (local), or an Azure Key Vault key (the private key never
leaves the vault; the caller needs the ``Key Vault Crypto User`` role on that key)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.signing.keys import KeyConfigError, PublicKey, load_private_key, sign_der

if TYPE_CHECKING:
    from app.settings import Settings

# A Key Vault (or Managed HSM) key id: https://<vault host>/keys/<name>[/<version>].
_VAULT_KEY = re.compile(
    r"https://(?P<vault>[A-Za-z0-9.\-]+(?::\d+)?)/keys/(?P<name>[A-Za-z0-9-]+)"
    r"(?:/(?P<version>[0-9a-f]{32}))?/?"
)
_CURVE_ALGORITHMS = {
    "secp256r1": ("ES256", hashlib.sha256),
    "secp384r1": ("ES384", hashlib.sha384),
    "secp521r1": ("ES512", hashlib.sha512),
}


class Signer(Protocol):
    description: str

    def public_key(self) -> PublicKey: ...

    def sign(self, data: bytes) -> bytes:
        """ECDSA signature over ``data`` (DER), hashed with the curve's hash."""
        ...


@dataclass
class FileKeySigner:
    path: Path

    def __post_init__(self) -> None:
        self._key = load_private_key(self.path)
        self.description = f"key file {self.path.name}"

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return sign_der(self._key, data)


class KeyVaultSigner:
    """Signs with ``CryptographyClient.sign`` on a non-exportable Key Vault EC key."""

    def __init__(self, key_id: str, credential: Any, **client_options: Any) -> None:
        """``client_options`` go to the SDK clients (transport settings, e.g. a CA bundle)."""
        from azure.keyvault.keys import KeyClient
        from azure.keyvault.keys.crypto import CryptographyClient

        match = _VAULT_KEY.fullmatch(key_id)
        if match is None:
            raise KeyConfigError(
                "MODEL_SIGNING_KEY is not a Key Vault key URL "
                "(https://<vault>.vault.azure.net/keys/<name>[/<version>])"
            )
        keys = KeyClient(f"https://{match['vault']}", credential, **client_options)
        key = keys.get_key(match["name"], match["version"])
        self._public = _jwk_public_key(key.key)
        self._client = CryptographyClient(key, credential, **client_options)
        self.description = f"Key Vault key {match['name']} in {match['vault']}"

    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        from azure.keyvault.keys.crypto import SignatureAlgorithm

        algorithm, hasher = _CURVE_ALGORITHMS[self._public.curve.name]
        result = self._client.sign(SignatureAlgorithm(algorithm), hasher(data).digest())
        return raw_to_der(result.signature)


def raw_to_der(signature: bytes) -> bytes:
    """Key Vault answers ECDSA signatures as r||s (JWS); X.509 verifiers expect DER."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if not signature or len(signature) % 2:
        raise ValueError("an ECDSA r||s signature has an even, non-zero length")
    half = len(signature) // 2
    return encode_dss_signature(
        int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    )


def _jwk_public_key(jwk: Any) -> PublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    crv = getattr(jwk, "crv", None)
    curve = curves.get(str(getattr(crv, "value", crv)))  # the SDK gives a KeyCurveName enum
    if curve is None or jwk.x is None or jwk.y is None:
        raise KeyConfigError("the Key Vault key is not an EC key on P-256, P-384 or P-521")
    numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"), curve)
    return numbers.public_key()


def signer_from_settings(settings: Settings) -> Signer:
    """The operator's signer from MODEL_SIGNING_KEY: a PEM file path or a Key Vault key URL."""
    value = settings.model_signing_key
    if not value:
        raise KeyConfigError(
            "no signing key: set MODEL_SIGNING_KEY to a PEM private key file or an Azure Key Vault key URL"
        )
    if value.startswith("https://"):
        from app.storage import credential

        return KeyVaultSigner(value, credential(settings))
    return FileKeySigner(Path(value).expanduser())
