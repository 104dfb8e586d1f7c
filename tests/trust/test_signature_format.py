"""The signature format: OpenSSF model signing v1.0 bundles, checked against the standard tool.

No services: these sign and verify directories on disk, with our code and with the
``model_signing`` library/CLI, in both directions.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.signing import bundle, keys
from app.signing.bundle import SignatureError
from app.signing.claims import ServingClaims
from app.signing.signers import FileKeySigner, raw_to_der
from app.signing.tree import digest_tree

MODEL_SIGNING = Path(sys.executable).with_name("model_signing")
CLAIMS = ServingClaims(
    model_name="m", flavor="sklearn", format="skops", version="3", trusted_types=("a.B",), metrics={"r2": 0.5}
)


@pytest.fixture
def keypair(tmp_path: Path) -> tuple[Path, Path]:
    return keys.generate(tmp_path / "keys")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "model.skops").write_bytes(b"\x00weights")
    (root / "sub" / "extra.txt").write_text("extra")
    return root


def _sign(root: Path, private: Path, claims: ServingClaims = CLAIMS) -> bytes:
    signer = FileKeySigner(private)
    return bundle.sign(digest_tree(root), claims, root.name, signer.public_key(), signer.sign)


def _standard_verify(root: Path, signature: Path, public: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    return subprocess.run(
        [
            str(MODEL_SIGNING),
            "verify",
            "key",
            "--signature",
            str(signature),
            "--public_key",
            str(public),
            str(root),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_our_signature_verifies_with_the_model_signing_cli(
    model_dir: Path, keypair: tuple[Path, Path]
) -> None:
    private, public = keypair
    (model_dir / "model.sig").write_bytes(_sign(model_dir, private))
    ok = _standard_verify(model_dir, model_dir / "model.sig", public)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (model_dir / "model.skops").write_bytes(b"\x00tampered")
    tampered = _standard_verify(model_dir, model_dir / "model.sig", public)
    assert tampered.returncode != 0


def test_model_signing_signatures_pass_our_cryptographic_checks(
    model_dir: Path, keypair: tuple[Path, Path]
) -> None:
    """A bundle made by the standard tool verifies here up to our own claims, which it lacks."""
    private, public = keypair
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    done = subprocess.run(
        [
            str(MODEL_SIGNING),
            "sign",
            "key",
            "--private_key",
            str(private),
            "--signature",
            str(model_dir / "model.sig"),
            str(model_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = (model_dir / "model.sig").read_bytes()
    with pytest.raises(SignatureError, match="carries no serving claims"):
        bundle.verify(data, keys.parse_public_keys(str(public)))
    other = keys.generate(model_dir.parent / "other")[1]
    with pytest.raises(SignatureError, match="key that is not configured"):
        bundle.verify(data, keys.parse_public_keys(str(other)))


def test_verified_manifest_lists_files_and_claims(model_dir: Path, keypair: tuple[Path, Path]) -> None:
    private, public = keypair
    public_keys = keys.parse_public_keys(public.read_text())  # PEM text works as well as a path
    manifest = bundle.verify(_sign(model_dir, private), public_keys)
    assert manifest.claims == CLAIMS
    assert set(manifest.files) == {"MLmodel", "model.skops", "sub/extra.txt"}
    assert manifest.key_id == keys.key_hint(public_keys[0])
    manifest.check_file("model.skops", b"\x00weights")
    with pytest.raises(SignatureError, match="does not match its signed sha256"):
        manifest.check_file("model.skops", b"\x00weightz")
    with pytest.raises(SignatureError, match="not among the signed files"):
        manifest.check_file("other.bin", b"")


def _envelope(data: bytes) -> tuple[dict[str, object], dict[str, object]]:
    document = json.loads(data)
    statement = json.loads(base64.b64decode(document["dsseEnvelope"]["payload"]))
    return document, statement


def _with_statement(document: dict[str, object], statement: dict[str, object]) -> bytes:
    envelope = dict(document["dsseEnvelope"])  # type: ignore[arg-type]
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps({**document, "dsseEnvelope": envelope}).encode()


def test_widening_the_signed_claims_breaks_the_signature(model_dir: Path, keypair: tuple[Path, Path]) -> None:
    """The review's F1/F2 move, on the signature itself: add os.system to trusted types."""
    private, public = keypair
    document, statement = _envelope(_sign(model_dir, private))
    statement["predicate"]["serving"]["trusted_types"].append("os.system")  # type: ignore[index]
    with pytest.raises(SignatureError, match="does not verify"):
        bundle.verify(_with_statement(document, statement), keys.parse_public_keys(str(public)))


def test_signature_by_an_unknown_key_is_refused(
    model_dir: Path, keypair: tuple[Path, Path], tmp_path: Path
) -> None:
    private, _ = keypair
    _, stranger = keys.generate(tmp_path / "stranger")
    with pytest.raises(SignatureError, match="not configured"):
        bundle.verify(_sign(model_dir, private), keys.parse_public_keys(str(stranger)))


def test_unknown_key_without_a_hint_is_refused(
    model_dir: Path, keypair: tuple[Path, Path], tmp_path: Path
) -> None:
    private, _ = keypair
    _, stranger = keys.generate(tmp_path / "stranger")
    document = json.loads(_sign(model_dir, private))
    document["verificationMaterial"]["publicKey"] = {}
    with pytest.raises(SignatureError, match="does not verify"):
        bundle.verify(json.dumps(document).encode(), keys.parse_public_keys(str(stranger)))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(mediaType="application/json"), "not a model-signing v0.3 bundle"),
        (lambda d: d["dsseEnvelope"].update(payloadType="text/plain"), "not an in-toto statement"),
        (lambda d: d["dsseEnvelope"].update(payload="***"), "not base64"),
        (lambda d: d["dsseEnvelope"].update(signatures=[]), "holds no signature"),
        (lambda d: d.pop("dsseEnvelope"), "dsseEnvelope is not an object"),
    ],
)
def test_malformed_bundles_are_refused(
    model_dir: Path, keypair: tuple[Path, Path], mutate: object, message: str
) -> None:
    private, public = keypair
    document = json.loads(_sign(model_dir, private))
    mutate(document)  # type: ignore[operator]
    with pytest.raises(SignatureError, match=message):
        bundle.verify(json.dumps(document).encode(), keys.parse_public_keys(str(public)))


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b"{}", b"\xff\xfe"])
def test_garbage_is_refused(keypair: tuple[Path, Path], data: bytes) -> None:
    with pytest.raises(SignatureError):
        bundle.verify(data, keys.parse_public_keys(str(keypair[1])))


def test_no_configured_key_refuses_everything(model_dir: Path, keypair: tuple[Path, Path]) -> None:
    with pytest.raises(SignatureError, match="no signing public key is configured"):
        bundle.verify(_sign(model_dir, keypair[0]), ())


def test_key_setting_formats(keypair: tuple[Path, Path], tmp_path: Path) -> None:
    _, public = keypair
    _, second = keys.generate(tmp_path / "second")
    both_paths = keys.parse_public_keys(f"{public}, {second}")
    both_pem = keys.parse_public_keys(public.read_text() + "\n" + second.read_text())
    assert [keys.key_hint(k) for k in both_paths] == [keys.key_hint(k) for k in both_pem]
    with pytest.raises(keys.KeyConfigError, match="neither PEM public keys"):
        keys.parse_public_keys("/no/such/file.pem")
    rsa = tmp_path / "rsa.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-out", str(tmp_path / "r.key")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "r.key"), "-pubout", "-out", str(rsa)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(keys.KeyConfigError, match="not an EC key"):
        keys.parse_public_keys(str(rsa))


def test_key_vault_raw_signature_converts_to_der(keypair: tuple[Path, Path]) -> None:
    """Key Vault answers ES256 signatures as r||s; they must verify once turned into DER."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    private_key = keys.load_private_key(keypair[0])
    data = b"payload"
    r, s = decode_dss_signature(keys.sign_der(private_key, data))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert keys.verify_signature(private_key.public_key(), raw_to_der(raw), data)
    with pytest.raises(ValueError, match="even"):
        raw_to_der(b"\x01\x02\x03")


def test_symlinks_are_never_signed(model_dir: Path) -> None:
    (model_dir / "link").symlink_to("/etc/hostname")
    with pytest.raises(ValueError, match="symbolic link"):
        digest_tree(model_dir)
