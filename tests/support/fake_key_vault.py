"""A local HTTPS stand-in for the two Key Vault operations signing uses (get key, sign).

The real ``azure-keyvault-keys`` clients talk to it over TLS with their real challenge
authentication; it holds an EC private key and answers like the service: the public key
as a JWK, ES256 signatures as base64url r||s. Not a mock of the SDK: the SDK runs unchanged.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
)
from cryptography.x509.oid import NameOID

VERSION = "0123456789abcdef0123456789abcdef"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class FakeVault:
    url: str
    ca_file: Path
    key: ec.EllipticCurvePrivateKey
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # method, path, authorized

    @property
    def key_id(self) -> str:
        return f"{self.url}/keys/model-signing"


class StaticToken:
    """An azure-core TokenCredential that hands out a fixed token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("fake-token", int(time.time()) + 3600)


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "vault.crt", directory / "vault.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@contextmanager
def fake_key_vault(directory: Path) -> Iterator[FakeVault]:
    signing_key = ec.generate_private_key(ec.SECP256R1())
    cert_file, key_file = _certificate(directory)
    vault = FakeVault(url="", ca_file=cert_file, key=signing_key)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(
            self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            ok = self.headers.get("Authorization") == "Bearer fake-token"
            vault.requests.append((self.command, self.path.split("?")[0], ok))
            if not ok:
                self._reply(
                    401,
                    headers={
                        "WWW-Authenticate": (
                            'Bearer authorization="https://login.microsoftonline.com/'
                            '00000000-0000-0000-0000-000000000001", resource="https://vault.azure.net"'
                        )
                    },
                )
            return ok

        def do_GET(self) -> None:
            if not self._authorized():
                return
            numbers = signing_key.public_key().public_numbers()
            self._reply(
                200,
                {
                    "key": {
                        "kid": f"{vault.key_id}/{VERSION}",
                        "kty": "EC",
                        "crv": "P-256",
                        "x": _b64url(numbers.x.to_bytes(32, "big")),
                        "y": _b64url(numbers.y.to_bytes(32, "big")),
                        "key_ops": ["sign", "verify"],
                    },
                    "attributes": {"enabled": True},
                },
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self._authorized():
                return
            if not self.path.split("?")[0].endswith("/sign") or body.get("alg") != "ES256":
                self._reply(400, {"error": {"code": "BadParameter"}})
                return
            der = signing_key.sign(_unb64url(body["value"]), ec.ECDSA(Prehashed(hashes.SHA256())))
            r, s = decode_dss_signature(der)
            self._reply(
                200,
                {
                    "kid": f"{vault.key_id}/{VERSION}",
                    "value": _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
                },
            )

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    vault.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield vault
    finally:
        server.shutdown()
