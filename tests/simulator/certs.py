"""Test X.509 certificates for client-assertion (certificate credential) tests.

``make_certificate("gathr-connector")`` gives a self-signed RSA certificate like
the ones admins upload to an Entra app registration; ``make_certificate(
"gathr-connector", issuer=ca_bundle)`` gives one issued by another bundle, for
subject-name/issuer authentication (``Simulator.trust_subject_name``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertBundle:
    """A certificate with its private key, in the forms a connector is given."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...] = ()  # issuers above the certificate, nearest first

    @property
    def cert_pem(self) -> str:
        """The certificate alone, PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        """The private key, unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def thumbprint_sha1_hex(self) -> str:
        """SHA-1 thumbprint, lowercase hex (what msal's ``thumbprint`` takes)."""
        return self.certificate.fingerprint(hashes.SHA1()).hex()

    @property
    def thumbprint_sha256_hex(self) -> str:
        """SHA-256 thumbprint, lowercase hex."""
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def not_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    def pfx_bytes(self, password: str | bytes | None = None) -> bytes:
        """The key, certificate and chain as a PKCS#12 (.pfx) blob."""
        if isinstance(password, str):
            password = password.encode()
        encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        return pkcs12.serialize_key_and_certificates(
            b"gathr-connector",
            self.private_key,
            self.certificate,
            list(self.chain) or None,
            encryption,
        )


def make_certificate(
    common_name: str,
    issuer: CertBundle | None = None,
    *,
    ca: bool = False,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    valid_days: int = 365,
    key_size: int = 2048,
) -> CertBundle:
    """Make an RSA certificate for ``CN=common_name``.

    Self-signed when ``issuer`` is None, else signed by ``issuer``'s key (the
    bundle's ``chain`` then holds the issuer and its own chain). ``ca=True``
    marks it as a CA (for use as an issuer). Validity defaults to an hour ago
    until ``valid_days`` later; pass ``not_after`` in the past for an expired one.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    now = dt.datetime.now(dt.UTC)
    start = not_before or now - dt.timedelta(hours=1)
    end = not_after or start + dt.timedelta(days=valid_days)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name = issuer.certificate.subject if issuer else subject
    signing_key = issuer.private_key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = builder.sign(signing_key, hashes.SHA256())
    chain = (issuer.certificate, *issuer.chain) if issuer else ()
    return CertBundle(certificate=cert, private_key=key, chain=chain)
