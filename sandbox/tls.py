"""Key material of the sandbox, kept under `{home}/sandbox/tls/` and reused across runs:

- a private CA and a server certificate for 127.0.0.1/localhost (the https login endpoint; MSAL
  only talks to https authorities, so the product verifies it with `ca.pem` as its CA bundle);
- the RSA key that signs the sandbox's access tokens.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class KeyMaterial:
    ca_pem: Path
    server_cert: Path
    server_key: Path
    signing_key: Path

    def server_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.server_cert), str(self.server_key))
        return ctx

    def signing_key_pem(self) -> bytes:
        return self.signing_key.read_bytes()


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o600)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# Key generation costs ~0.3 s; a process that starts many sandboxes (the test suite) makes it once and
# copies it into each new home.
_MADE_IN_THIS_PROCESS: dict[str, bytes] = {}


def ensure_key_material(home: Path) -> KeyMaterial:
    """Create the CA, the server certificate and the signing key once; reuse them if present."""
    folder = home / "sandbox" / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    km = KeyMaterial(ca_pem=folder / "ca.pem", server_cert=folder / "server.pem", server_key=folder / "server-key.pem",
                     signing_key=folder / "token-signing-key.pem")
    files = (km.ca_pem, km.server_cert, km.server_key, km.signing_key)
    if _MADE_IN_THIS_PROCESS and not any(p.exists() for p in files):
        for path in files:
            _write_private(path, _MADE_IN_THIS_PROCESS[path.name])
    if not all(p.is_file() for p in (km.ca_pem, km.server_cert, km.server_key)) or _expiring(km.server_cert):
        _make_tls(km)
    if not km.signing_key.is_file():
        _write_private(km.signing_key, _key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    if not _MADE_IN_THIS_PROCESS:
        _MADE_IN_THIS_PROCESS.update({p.name: p.read_bytes() for p in files})
    return km


def _expiring(cert_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return True
    return cert.not_valid_after_utc < datetime.now(UTC) + timedelta(days=7)


def _make_tls(km: KeyMaterial) -> None:
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Contain sandbox CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=397))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    km.ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    km.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(km.server_key, _key_pem(key))
