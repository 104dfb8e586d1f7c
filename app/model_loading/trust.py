"""The one place a model's bytes become trusted: the signature, then every file read.

Order is the point: the signature bundle is verified against the operator's public keys,
its claims are matched to what was asked for, and only then are files read, each checked
against its signed sha256 before anything (even the MLmodel YAML) parses it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from app.model_loading.paths import confined
from app.model_loading.types import LoadError, Resolved
from app.settings import Settings
from app.signing import bundle
from app.signing.bundle import SignatureError, VerifiedManifest
from app.signing.keys import KeyConfigError, PublicKey, parse_public_keys

log = logging.getLogger(__name__)


class Reader(Protocol):
    """Reads one file of a resolved model directory (raises LoadError / UnreachableError)."""

    def read(self, relative: str, limit: int) -> bytes: ...


def public_keys(settings: Settings) -> tuple[PublicKey, ...]:
    """The operator's verification keys; the signing key's own public key when the CLI has
    a PEM signing key and no public keys are configured."""
    try:
        if settings.model_signing_public_keys:
            return parse_public_keys(settings.model_signing_public_keys)
        if settings.model_signing_key and not settings.model_signing_key.startswith("https://"):
            from pathlib import Path

            from app.signing.keys import load_private_key

            return (load_private_key(Path(settings.model_signing_key).expanduser()).public_key(),)
    except KeyConfigError as exc:
        raise LoadError(str(exc)) from None
    return ()


def verify(settings: Settings, resolved: Resolved) -> VerifiedManifest | None:
    """The verified manifest of ``resolved``; None only for an unsigned model in migration
    mode (REQUIRE_SIGNED_MODELS=false). A bad signature is refused in every mode."""
    if resolved.signature is None:
        if settings.require_signed_models:
            raise LoadError(
                f"{resolved.uri} is not signed; refusing to load it "
                f"(sign it with `python -m app sign{_sign_hint(resolved)}`)"
            )
        log.warning(
            "loading UNSIGNED model %s: REQUIRE_SIGNED_MODELS is off (migration only); "
            "only skops files with default or SKOPS_TRUSTED_TYPES types load",
            resolved.uri,
        )
        return None
    try:
        manifest = bundle.verify(resolved.signature, public_keys(settings))
    except SignatureError as exc:
        raise LoadError(f"signature check failed for {resolved.uri}: {exc}") from None
    _match_claims(manifest, resolved)
    return manifest


def _match_claims(manifest: VerifiedManifest, resolved: Resolved) -> None:
    claims = manifest.claims
    if resolved.version is not None:
        if (claims.model_name, claims.version) != (resolved.name, resolved.version):
            raise LoadError(
                f"the signature of {resolved.uri} was made for another model or version; refusing it"
            )
    elif (
        claims.run_id is None
        or claims.run_id != resolved.run_id
        or claims.artifact_path != resolved.artifact_path
    ):
        raise LoadError(f"the signature of {resolved.uri} was made for another run artifact; refusing it")


def _sign_hint(resolved: Resolved) -> str:
    if resolved.version is not None:
        return f" --model-name {resolved.name} --version {resolved.version}"
    if resolved.run_id is not None:
        return f" --run-id {resolved.run_id}"
    return ""


class ArtifactFiles:
    """The files of one model directory, each read through the signed manifest."""

    def __init__(self, reader: Reader, manifest: VerifiedManifest | None) -> None:
        self._reader = reader
        self.manifest = manifest

    @property
    def names(self) -> list[str]:
        return sorted(self.manifest.files) if self.manifest else []

    def read(self, name: str, limit: int) -> bytes:
        name = confined(name)
        if self.manifest is not None and name not in self.manifest.files:
            raise LoadError(f"{name} is not among the signed files; refusing to read it")
        data = self._reader.read(name, limit)
        if self.manifest is not None:
            try:
                self.manifest.check_file(name, data)
            except SignatureError as exc:
                raise LoadError(str(exc)) from None
        return data
