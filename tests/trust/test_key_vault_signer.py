"""Signing with a Key Vault key: the real azure-keyvault-keys clients against a local HTTPS
stand-in of the service (tests/support/fake_key_vault.py). The private key never leaves it."""

from __future__ import annotations

from pathlib import Path

from app.signing import bundle, keys
from app.signing.claims import ServingClaims
from app.signing.signers import KeyVaultSigner
from tests.support.fake_key_vault import StaticToken, fake_key_vault


def test_key_vault_signature_verifies_with_the_vault_public_key(tmp_path: Path) -> None:
    with fake_key_vault(tmp_path) as vault:
        signer = KeyVaultSigner(
            vault.key_id, StaticToken(), connection_verify=str(vault.ca_file), verify_challenge_resource=False
        )
        files = {"MLmodel": "0" * 64, "model.skops": "1" * 64}
        claims = ServingClaims(model_name="m", flavor="sklearn", format="skops", version="1")
        signed = bundle.sign(files, claims, "m", signer.public_key(), signer.sign)
        manifest = bundle.verify(signed, (vault.key.public_key(),))
        assert manifest.claims == claims
        assert manifest.key_id == keys.key_hint(vault.key.public_key())
        assert ("POST", "/keys/model-signing/0123456789abcdef0123456789abcdef/sign", True) in vault.requests
        assert any(not authorized for _, _, authorized in vault.requests)  # the challenge ran
