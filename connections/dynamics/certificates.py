"""Certificate credentials (the product page's OAuthJWTCert): parse an uploaded PFX or PEM."""

import json
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

MAX_CERTIFICATE_BYTES = 64 * 1024


class CertificateError(ValueError):
    """The uploaded file is not a usable certificate credential; the message says why."""


@dataclass(frozen=True)
class CertificateCredential:
    private_key_pem: str = field(repr=False)
    chain_pem: str  # leaf first, then any intermediates
    subject: str
    sha1: str
    sha256: str
    not_after: datetime

    def to_storage(self) -> str:
        return json.dumps({"key": self.private_key_pem, "chain": self.chain_pem})

    @classmethod
    def from_storage(cls, stored: str) -> "CertificateCredential":
        data = json.loads(stored)
        return from_key_and_chain(
            serialization.load_pem_private_key(data["key"].encode(), password=None),
            x509.load_pem_x509_certificates(data["chain"].encode()),
        )

    def msal_credential(self) -> dict:
        """msal's client_credential: PS256 with x5t#S256, and x5c for subject-name/issuer auth."""
        return {
            "private_key": self.private_key_pem,
            "thumbprint": self.sha1,
            "public_certificate": self.chain_pem,
        }


def parse_upload(data: bytes, password: str) -> CertificateCredential:
    """Read a PFX/P12 (with its password) or a PEM holding the private key and certificate."""
    if not data:
        raise CertificateError("The certificate file is empty.")
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise CertificateError("The certificate file is larger than 64 KB; upload one PFX or PEM.")
    if b"-----BEGIN" in data:
        return _parse_pem(data, password)
    return _parse_pfx(data, password)


def _parse_pfx(data: bytes, password: str) -> CertificateCredential:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError:
        raise CertificateError(
            "This PFX file cannot be opened: the Certificate Password is wrong, "
            "or the file is not a PFX/P12 or PEM certificate."
        ) from None
    if key is None or cert is None:
        raise CertificateError("The PFX file must contain the private key and its certificate.")
    return from_key_and_chain(key, [cert, *extra])


def _parse_pem(data: bytes, password: str) -> CertificateCredential:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertificateError("The PEM file has no certificate (BEGIN CERTIFICATE).") from None
    try:
        key = serialization.load_pem_private_key(data, password.encode() or None)
    except TypeError:
        raise CertificateError("The private key is encrypted: enter its Certificate Password.") from None
    except ValueError:
        raise CertificateError(
            "The PEM file needs the private key (BEGIN PRIVATE KEY) besides the certificate, "
            "and the Certificate Password if the key is encrypted."
        ) from None
    return from_key_and_chain(key, certificates)


def from_key_and_chain(key, certificates: list[x509.Certificate]) -> CertificateCredential:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CertificateError("Microsoft Entra ID needs an RSA key; this certificate's key is not RSA.")
    public_numbers = key.public_key().public_numbers()
    leaf = next(
        (c for c in certificates if c.public_key().public_numbers() == public_numbers),
        None,
    )
    if leaf is None:
        raise CertificateError("The private key does not belong to the certificate in the file.")
    chain = [leaf, *(c for c in certificates if c is not leaf)]
    return CertificateCredential(
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        chain_pem="".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain),
        subject=leaf.subject.rfc4514_string(),
        sha1=leaf.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - the x5t thumbprint Entra shows
        sha256=leaf.fingerprint(hashes.SHA256()).hex().upper(),
        not_after=leaf.not_valid_after_utc,
    )
