"""OpenSSF model-signing v1.0 bundles with key-based ECDSA signatures, read and written.

The format is exactly what ``model_signing sign key`` writes (a Sigstore bundle v0.3 holding
a DSSE envelope whose payload is an in-toto v1 Statement with predicate type
``https://model_signing/signature/v1.0``), so ``model_signing verify key`` verifies our
signatures and we verify theirs. We add one predicate field, ``serving``: v1.0 verifiers
ignore unknown predicate fields, and the field is inside the signed payload.

Why not the ``model_signing`` library at run time: importing it costs ~430 ms of cold start
(sigstore, protobuf), and it verifies a whole directory on disk, while the server downloads
only the files it reads. The library is used by the tests to prove both directions agree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.signing.claims import ServingClaims
from app.signing.keys import PublicKey, key_hint, verify_signature

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
SIGNATURE_FILE = "model.sig"
# What `model_signing` leaves out of a directory's manifest by default (the signature itself
# and git metadata); recorded in the statement so a standard verifier hashes the same files.
IGNORE_PATHS = [SIGNATURE_FILE, ".gitattributes", ".github", ".git", ".gitignore"]
MAX_BUNDLE_BYTES = 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")


class SignatureError(Exception):
    """The signature is missing, malformed, or does not verify; the message says which."""


@dataclass(frozen=True)
class VerifiedManifest:
    """What a verified signature vouches for: file digests and the serving claims."""

    files: Mapping[str, str]  # relative posix path -> sha256 hex
    claims: ServingClaims
    key_id: str  # the hint (sha256 of the PEM public key) of the key that verified it

    def check_file(self, name: str, data: bytes) -> None:
        """Raise unless ``data`` is the signed content of ``name``."""
        expected = self.files.get(name)
        if expected is None:
            raise SignatureError(f"{name} is not among the signed files")
        if hashlib.sha256(data).hexdigest() != expected:
            raise SignatureError(f"{name} does not match its signed sha256 (tampered or corrupt)")


def root_digest(files: Mapping[str, str]) -> str:
    """sha256 over the raw file digests in name order: the statement's subject digest."""
    hasher = hashlib.sha256()
    for name in sorted(files):
        hasher.update(bytes.fromhex(files[name]))
    return hasher.hexdigest()


def statement(files: Mapping[str, str], claims: ServingClaims, subject: str) -> bytes:
    """The in-toto statement to sign, as bytes."""
    document = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject, "digest": {"sha256": root_digest(files)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "resources": [
                {"name": name, "algorithm": "sha256", "digest": files[name]} for name in sorted(files)
            ],
            "serialization": {
                "ignore_paths": IGNORE_PATHS,
                "hash_type": "sha256",
                "allow_symlinks": False,
                "method": "files",
            },
            "serving": claims.as_dict(),
        },
    }
    return json.dumps(document, indent=2, sort_keys=False).encode()


def pae(payload: bytes) -> bytes:
    """DSSE pre-authentication encoding of an in-toto payload (what is actually signed)."""
    return b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)


def make_bundle(payload: bytes, signature_der: bytes, public_key: PublicKey) -> bytes:
    document = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_hint(public_key)}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature_der).decode(), "keyid": ""}],
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def sign(
    files: Mapping[str, str],
    claims: ServingClaims,
    subject: str,
    public_key: PublicKey,
    sign_der: Callable[[bytes], bytes],
) -> bytes:
    """A bundle over ``files`` and ``claims``; ``sign_der`` signs bytes (ECDSA, DER)."""
    payload = statement(files, claims, subject)
    return make_bundle(payload, sign_der(pae(payload)), public_key)


def verify(bundle: bytes, keys: Iterable[PublicKey]) -> VerifiedManifest:
    """Check ``bundle`` against the operator's keys and return what it vouches for.

    Nothing in the bundle is believed before the signature verifies: the statement is
    parsed only after one of ``keys`` has verified the DSSE envelope."""
    keys = list(keys)
    if not keys:
        raise SignatureError("no signing public key is configured (MODEL_SIGNING_PUBLIC_KEYS)")
    if len(bundle) > MAX_BUNDLE_BYTES:
        raise SignatureError("the signature bundle is larger than 1 MiB")
    document = _object(_json(bundle, "the signature bundle"), "the signature bundle")
    if document.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise SignatureError("the signature is not a model-signing v0.3 bundle")
    envelope = _object(document.get("dsseEnvelope"), "dsseEnvelope")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise SignatureError("the signed payload is not an in-toto statement")
    payload = _b64(envelope.get("payload"), "dsseEnvelope.payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise SignatureError("the bundle holds no signature")
    hint = _object(
        _object(document.get("verificationMaterial"), "verificationMaterial").get("publicKey", {}),
        "verificationMaterial.publicKey",
    ).get("hint")
    candidates = [k for k in keys if key_hint(k) == hint] if hint else keys
    if not candidates:
        raise SignatureError(f"signed by a key that is not configured (unknown key {str(hint)[:12]}...)")
    signed = pae(payload)
    for entry in signatures[:4]:
        sig = _b64(_object(entry, "signature").get("sig"), "signature.sig")
        for key in candidates:
            if verify_signature(key, sig, signed):
                return _manifest(payload, key_hint(key))
    raise SignatureError("the signature does not verify with the configured key(s)")


def _manifest(payload: bytes, key_id: str) -> VerifiedManifest:
    document = _object(_json(payload, "the signed statement"), "the signed statement")
    if document.get("_type") != STATEMENT_TYPE or document.get("predicateType") != PREDICATE_TYPE:
        raise SignatureError("the signed statement is not a model-signing v1.0 statement")
    predicate = _object(document.get("predicate"), "predicate")
    serialization = _object(predicate.get("serialization"), "predicate.serialization")
    if serialization.get("method") != "files" or serialization.get("hash_type") != "sha256":
        raise SignatureError("only per-file sha256 manifests are supported")
    resources = predicate.get("resources")
    if not isinstance(resources, list):
        raise SignatureError("the signed statement lists no files")
    files: dict[str, str] = {}
    for resource in resources:
        item = _object(resource, "resource")
        name, digest = item.get("name"), item.get("digest")
        if (
            item.get("algorithm") != "sha256"
            or not isinstance(digest, str)
            or not _HEX64.fullmatch(digest)
            or not isinstance(name, str)
            or name in files
        ):
            raise SignatureError("the signed file list is malformed")
        files[name] = digest
    subjects = document.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1:
        raise SignatureError("the signed statement must have exactly one subject")
    subject_digest = _object(_object(subjects[0], "subject").get("digest"), "subject.digest")
    if subject_digest.get("sha256") != root_digest(files):
        raise SignatureError("the signed file list does not match its root digest")
    if "serving" not in predicate:
        raise SignatureError("the signature carries no serving claims (sign it with `python -m app sign`)")
    try:
        claims = ServingClaims.from_dict(_object(predicate["serving"], "predicate.serving"))
    except ValueError as exc:
        raise SignatureError(f"the signed serving claims are malformed: {exc}") from None
    return VerifiedManifest(files=files, claims=claims, key_id=key_id)


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError(f"{what} is not JSON") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SignatureError(f"{what} is not an object")
    return value


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise SignatureError(f"{what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not base64") from None
