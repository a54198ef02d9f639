"""Client assertion (certificate credential) verification, as Entra does it.

The assertion is a JWT signed RS256 (header ``x5t``: base64url SHA-1 thumbprint) or
PS256 (``x5t#S256``), possibly carrying ``x5c`` (the certificate chain, for
subject-name/issuer auth). Its key is found by thumbprint among the app's
registered certificates, or else, when the app trusts a subject name, taken from
the ``x5c`` leaf if that leaf has the trusted CN and chains to the trusted issuer.
Claims: ``iss`` == ``sub`` == client id, ``aud`` == this host's token endpoint
for the tenant, ``exp``/``nbf`` on the simulator clock with 5 minutes of skew.
An assertion whose ``iss`` and ``sub`` both name someone else is a federated one: see :mod:`.federation`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from . import aadsts
from .aadsts import invalid_client, invalid_request
from .federation import is_federated, verify_federated_assertion
from .oidc_issuers import OidcIssuers
from .state import App, Directory, Tenant

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALLOWED_ALGORITHMS = ("RS256", "PS256")
CLOCK_SKEW = 300
_AUDIENCE_PATHS = ("oauth2/v2.0/token", "oauth2/token", "v2.0")


@dataclass
class AssertionCheck:
    """Everything needed to judge one assertion."""

    assertion: str
    app: App
    tenant: Tenant
    host: str
    now: float
    directory: Directory
    issuers: OidcIssuers | None = None  # where federated assertions' keys come from


def verify_client_assertion(check: AssertionCheck) -> str:
    """Return ``"certificate"`` or ``"federated"`` if the assertion authenticates ``check.app``; raise
    :class:`EntraError` if not."""
    header, claims = _parse(check.assertion)
    if check.issuers is not None and is_federated(claims, check.app.client_id):
        credentials = list(check.app.federated_credentials)
        verify_federated_assertion(check.assertion, header, claims, credentials, check.now, check.issuers)
        return "federated"
    certificate, thumbprint = _find_certificate(header, check)
    _verify_signature(check.assertion, header["alg"], certificate, thumbprint)
    _check_claims(claims, check)
    return "certificate"


def _parse(assertion: str) -> tuple[dict, dict]:
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise invalid_request(50027, aadsts.MALFORMED_JWT) from None
    if header.get("alg") not in ALLOWED_ALGORITHMS or not isinstance(claims.get("exp"), (int, float)):
        raise invalid_request(50027, aadsts.MALFORMED_JWT)
    if not isinstance(claims.get("aud"), str):  # Entra refuses a list of audiences
        raise invalid_request(50027, aadsts.MALFORMED_JWT)
    return header, claims


def _decode_thumbprint(value) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return None


def _find_certificate(header: dict, check: AssertionCheck) -> tuple[x509.Certificate, str]:
    sha256 = _decode_thumbprint(header.get("x5t#S256"))
    sha1 = _decode_thumbprint(header.get("x5t"))
    thumbprint = (sha1 or sha256 or b"").hex().upper()
    for registered in check.app.certificates:
        if sha256 == bytes.fromhex(registered.thumbprint_sha256_hex) or sha1 == bytes.fromhex(
            registered.thumbprint_sha1_hex
        ):
            _check_validity(registered.certificate, thumbprint, check.now)
            return registered.certificate, thumbprint
    leaf = _trusted_x5c_leaf(header.get("x5c"), check.app)
    if leaf is not None:
        _check_validity(leaf, thumbprint, check.now)
        return leaf, thumbprint
    raise invalid_client(
        700027, aadsts.CERT_NOT_REGISTERED.format(thumbprint=thumbprint, client_id=check.app.client_id)
    )


def _check_validity(certificate: x509.Certificate, thumbprint: str, now: float) -> None:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if not start.timestamp() <= now <= end.timestamp():
        raise invalid_client(
            700027,
            aadsts.CERT_EXPIRED.format(
                thumbprint=thumbprint, start=aadsts.format_key_date(start), end=aadsts.format_key_date(end)
            ),
        )


def _trusted_x5c_leaf(x5c, app: App) -> x509.Certificate | None:
    if not x5c or not app.subject_trusts:
        return None
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode("".join(item.split()))) for item in x5c]
    except (TypeError, ValueError, AttributeError, binascii.Error):
        raise invalid_request(50027, aadsts.MALFORMED_JWT) from None
    leaf_cn = [a.value for a in chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    for trust in app.subject_trusts:
        if trust.subject_cn in leaf_cn and _chains_to(chain, trust.issuer):
            return chain[0]
    return None


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chains_to(chain: list[x509.Certificate], anchor: x509.Certificate) -> bool:
    """True if some certificate of the chain (walked from the leaf) is issued by ``anchor``."""
    for certificate, parent in zip(chain, [*chain[1:], None], strict=True):
        if _issued_by(certificate, anchor):
            return True
        if parent is None or not _issued_by(certificate, parent):
            return False
    return False


def _verify_signature(assertion: str, algorithm: str, certificate: x509.Certificate, thumbprint: str) -> None:
    try:
        jwt.decode(
            assertion,
            certificate.public_key(),
            algorithms=[algorithm],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise invalid_client(
            700027,
            aadsts.BAD_SIGNATURE.format(
                thumbprint=thumbprint,
                start=aadsts.format_key_date(certificate.not_valid_before_utc),
                end=aadsts.format_key_date(certificate.not_valid_after_utc),
            ),
        ) from None
    except jwt.InvalidTokenError:
        raise invalid_request(50027, aadsts.MALFORMED_JWT) from None


def _check_claims(claims: dict, check: AssertionCheck) -> None:
    client_id = check.app.client_id
    if str(claims.get("iss", "")).lower() != client_id or str(claims.get("sub", "")).lower() != client_id:
        raise invalid_client(700021, aadsts.ASSERTION_APP_MISMATCH)
    if not _audience_ok(claims["aud"], check):
        raise invalid_client(700023, aadsts.ASSERTION_AUDIENCE)
    exp, nbf = claims["exp"], claims.get("nbf")
    too_early = isinstance(nbf, (int, float)) and check.now + CLOCK_SKEW < nbf
    if check.now > exp + CLOCK_SKEW or too_early:
        raise invalid_client(
            700024,
            aadsts.ASSERTION_TIME.format(
                now=aadsts.format_instant(check.now),
                nbf=aadsts.format_instant(nbf if isinstance(nbf, (int, float)) else 0),
                exp=aadsts.format_instant(exp),
            ),
        )


def _audience_ok(audience: str, check: AssertionCheck) -> bool:
    """``https://{this host}/{tenant id, domain, common}/oauth2/v2.0/token`` (or v1, or the issuer)."""
    parts = urlsplit(audience)
    if parts.scheme != "https" or (parts.hostname or "") != check.host:
        return False
    tenant_segment, _, rest = parts.path.strip("/").partition("/")
    if rest.lower() not in _AUDIENCE_PATHS:
        return False
    if tenant_segment.lower() in ("common", "organizations"):  # a user grant redeemed at /common
        return True
    found = check.directory.find_tenant(tenant_segment, check.host)
    return found is not None and found.tenant_id == check.tenant.tenant_id
