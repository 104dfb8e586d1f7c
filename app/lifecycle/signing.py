"""Sign a registry version (or a run artifact) with the operator's key, and export a signed copy.

Signing never deserializes anything. It downloads the model directory, hashes every file,
reads MLmodel for the flavor and serialization format, and lists the types a skops file
needs without loading it (``skops.io.get_untrusted_types``). Types skops does not trust by
default must be confirmed by the operator (``--trust``) — or come from this very process
(``train`` signs the object it just built). The signature goes into the version's tag
``serving.signature`` (a run artifact's: the run tag ``serving.signature.<path>``), where
the server reads it; its authenticity comes from the key, not from where it is stored.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.model_loading import fetch_mlflow, flavors, mlmodel, trust
from app.model_loading.fetch_rest import SIGNATURE_TAG
from app.model_loading.paths import confined
from app.model_loading.types import LoadError, Resolved
from app.settings import Settings
from app.signing import bundle
from app.signing.claims import ServingClaims
from app.signing.signers import Signer, signer_from_settings
from app.signing.tree import digest_tree

log = logging.getLogger(__name__)
PICKLE_FORMATS = flavors.PICKLE_FORMATS


class SigningRefused(ValueError):
    """The artifact cannot be signed as asked; the message says what to confirm or fix."""


@dataclass(frozen=True)
class SignResult:
    model_name: str
    version: str | None
    run_id: str | None
    files: dict[str, str]
    claims: ServingClaims
    key_id: str
    signer: str
    needs_confirmed_types: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "run_id": self.run_id,
            "flavor": self.claims.flavor,
            "format": self.claims.format,
            "trusted_types": sorted(self.claims.trusted_types),
            "files": dict(sorted(self.files.items())),
            "key_id": self.key_id,
            "signer": self.signer,
        }


def version_location(settings: Settings, name: str, version: str) -> str:
    return str(fetch_mlflow.client(settings).get_model_version_download_uri(name, version))


def download(settings: Settings, location: str, target: Path) -> Path:
    import mlflow.artifacts

    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=location, dst_path=str(target), tracking_uri=settings.mlflow_tracking_uri
        )
    )


def sign_version(
    settings: Settings,
    name: str,
    version: str,
    *,
    trust_types: Iterable[str] = (),
    allow_pickle_format: bool = False,
    signer: Signer | None = None,
) -> SignResult:
    """Sign version ``version`` of ``name`` and store the bundle in its version tag."""
    version = str(version)
    mlflow_client = fetch_mlflow.client(settings)
    mv = mlflow_client.get_model_version(name, version)
    with tempfile.TemporaryDirectory(prefix="sign-") as tmp:
        local = download(settings, version_location(settings, name, version), Path(tmp))
        result = _sign_directory(
            settings,
            local,
            name=name,
            version=version,
            run_id=mv.run_id,
            artifact_path=None,
            trust_types=trust_types,
            allow_pickle_format=allow_pickle_format,
            signer=signer,
        )
    mlflow_client.set_model_version_tag(name, version, SIGNATURE_TAG, result[1].decode())
    log.info(
        "signed version %s of %s (%d files) with %s", version, name, len(result[0].files), result[0].signer
    )
    return result[0]


def sign_run(
    settings: Settings,
    run_id: str,
    artifact_path: str = "model",
    *,
    trust_types: Iterable[str] = (),
    allow_pickle_format: bool = False,
    signer: Signer | None = None,
) -> SignResult:
    """Sign the run artifact ``runs:/<run_id>/<artifact_path>`` (served by MODEL_RUN_ID)."""
    artifact_path = confined(artifact_path.strip("/"), what="artifact path")
    with tempfile.TemporaryDirectory(prefix="sign-") as tmp:
        local = download(settings, f"runs:/{run_id}/{artifact_path}", Path(tmp))
        result, signed = _sign_directory(
            settings,
            local,
            name=settings.model_name,
            version=None,
            run_id=run_id,
            artifact_path=artifact_path,
            trust_types=trust_types,
            allow_pickle_format=allow_pickle_format,
            signer=signer,
        )
    if len(signed) > 8000:
        raise SigningRefused(
            "the signature is larger than a run tag can hold (8000 chars); "
            "register the model and sign the version instead"
        )
    fetch_mlflow.client(settings).set_tag(
        run_id, fetch_mlflow.run_signature_tag(artifact_path), signed.decode()
    )
    return result


def _sign_directory(
    settings: Settings,
    local: Path,
    *,
    name: str,
    version: str | None,
    run_id: str | None,
    artifact_path: str | None,
    trust_types: Iterable[str],
    allow_pickle_format: bool,
    signer: Signer | None,
) -> tuple[SignResult, bytes]:
    signer = signer or signer_from_settings(settings)
    files = digest_tree(local)
    if "MLmodel" not in files:
        raise SigningRefused(f"{local.name} has no MLmodel file: not an MLflow model")
    meta = mlmodel.parse((local / "MLmodel").read_bytes())
    spec = _flavor(meta)
    flavor, fmt, model_file = spec.flavor, spec.format, spec.model_file
    if fmt in PICKLE_FORMATS and not allow_pickle_format:
        raise SigningRefused(
            f"the model is a {fmt} ({flavor}): signing it vouches that unpickling it is safe. "
            "Confirm with --pickle if you trust how it was built (it still loads only where "
            "ALLOW_PICKLE=true)"
        )
    confirmed = set(trust_types) | set(settings.skops_trusted_types) | set(spec.vouched_types)
    needed: list[str] = []
    if fmt == "skops" and model_file is not None:
        from app.model_loading import artifacts

        assert model_file is not None
        needed = artifacts.untrusted_types((local / model_file).read_bytes())
        unconfirmed = [t for t in needed if t not in confirmed]
        if unconfirmed:
            raise SigningRefused(
                "the skops file needs types that skops does not trust by "
                "default; confirm each with --trust TYPE if you trust it: " + ", ".join(unconfirmed)
            )
    metrics: dict[str, float] = {}
    if run_id:
        try:
            metrics = fetch_mlflow.run_metrics(settings, run_id)
        except Exception:  # noqa: BLE001 - metrics are informative; the signature is not
            metrics = {}
    claims = ServingClaims(
        model_name=name,
        flavor=flavor,
        format=fmt,
        version=version,
        run_id=run_id,
        artifact_path=artifact_path,
        trusted_types=tuple(sorted(needed)),
        metrics=metrics,
        signed_at=datetime.now(UTC).isoformat(),
    )
    public_key = signer.public_key()
    signed = bundle.sign(files, claims, name, public_key, signer.sign)
    from app.signing.keys import key_hint

    result = SignResult(name, version, run_id, files, claims, key_hint(public_key), signer.description)
    return result, signed


def _flavor(meta: mlmodel.MLmodel) -> flavors.Spec:
    """The flavor the server will use, its serialization format and main model file: the
    same choice the server makes (``flavors.describe``), refused here when it cannot load."""
    try:
        return flavors.describe(meta)
    except LoadError as exc:
        raise SigningRefused(str(exc)) from None


def verify_version(settings: Settings, name: str, version: str, out: Path | None = None) -> dict[str, Any]:
    """Check version ``version``'s signature and every file of its directory; with ``out``,
    leave ``out/model/`` (the files and ``model.sig``) and ``out/public.pem`` (the configured
    key that verified it) for a standard verifier."""
    mv = fetch_mlflow.client(settings).get_model_version(name, str(version))
    signature = (mv.tags or {}).get(SIGNATURE_TAG)
    resolved = Resolved(
        name=name,
        version=str(mv.version),
        run_id=mv.run_id,
        uri=f"models:/{name}/{mv.version}",
        signature=signature.encode() if signature else None,
    )
    manifest = trust.verify(settings.model_copy(update={"require_signed_models": True}), resolved)
    assert manifest is not None
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        local = download(settings, version_location(settings, name, str(version)), Path(tmp))
        actual = digest_tree(local)
        if actual != dict(manifest.files):
            changed = sorted(
                set(actual) ^ set(manifest.files) | {k for k in actual if manifest.files.get(k) != actual[k]}
            )
            raise LoadError("the downloaded files differ from the signed ones: " + ", ".join(changed[:10]))
        assert signature is not None
        if out is not None:
            if out.exists() and any(out.iterdir()):
                raise SigningRefused(f"{out} is not empty")
            import shutil

            from app.signing.keys import key_hint, pem

            shutil.copytree(local, out / "model")
            (out / "model" / bundle.SIGNATURE_FILE).write_text(signature)
            key = next(k for k in trust.public_keys(settings) if key_hint(k) == manifest.key_id)
            (out / "public.pem").write_bytes(pem(key))
    return {
        "model_name": name,
        "version": str(version),
        "verified": True,
        "key_id": manifest.key_id,
        "claims": manifest.claims.as_dict(),
        "files": sorted(manifest.files),
        "exported_to": str(out) if out is not None else None,
    }
