"""The simulator's token-signing key, its JWKS, and v1.0 app-only access tokens.

Access tokens look like the ones Entra issues to a daemon for Dataverse
(``https://org.crm.dynamics.com/.default``) or Microsoft Graph
(``https://graph.microsoft.com/.default``, with the granted permissions in ``roles``): RS256, ``kid``/``x5t`` header,
``aud`` = the resource URL without trailing slash, ``iss`` =
``https://sts.windows.net/{tid}/`` (``sts.chinacloudapi.cn`` in China),
``appid``/``azp`` = client id, ``oid``/``sub`` = the app's service-principal id.
"""

from __future__ import annotations

import base64
import functools
import uuid

import jwt
from cryptography.hazmat.primitives import hashes, serialization

from .certs import CertBundle, make_certificate

ACCESS_TOKEN_LIFETIME = 3599

STS_ISSUER_HOST = {"public": "sts.windows.net", "usgov": "sts.windows.net", "china": "sts.chinacloudapi.cn"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@functools.cache
def signing_bundle() -> CertBundle:
    """One signing certificate per process (RSA generation is the slow part of start-up)."""
    return make_certificate("accounts.accesscontrol.windows.net", valid_days=730)


def key_id() -> str:
    """Entra's ``kid``: the base64url SHA-1 thumbprint of the signing certificate."""
    return b64url(signing_bundle().certificate.fingerprint(hashes.SHA1()))


def jwks() -> dict:
    """The ``/discovery/v2.0/keys`` document."""
    cert = signing_bundle().certificate
    numbers = cert.public_key().public_numbers()
    der = cert.public_bytes(serialization.Encoding.DER)
    key = {
        "kty": "RSA",
        "use": "sig",
        "kid": key_id(),
        "x5t": key_id(),
        "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
        "x5c": [base64.b64encode(der).decode()],
    }
    return {"keys": [key]}


def issuer_for(tenant_id: str, cloud: str) -> str:
    return f"https://{STS_ISSUER_HOST[cloud]}/{tenant_id}/"


def sign(claims: dict) -> str:
    """RS256 with the simulator's key, ``kid``/``x5t`` in the header, as Entra signs."""
    headers = {"typ": "JWT", "x5t": key_id(), "kid": key_id()}
    return jwt.encode(claims, signing_bundle().private_key, algorithm="RS256", headers=headers)


def issue_access_token(
    *,
    now: float,
    tenant_id: str,
    cloud: str,
    audience: str,
    client_id: str,
    object_id: str,
    credential_kind: str,
    lifetime: int = ACCESS_TOKEN_LIFETIME,
    roles: tuple[str, ...] | list[str] = (),
) -> str:
    """Sign an app-only access token; ``credential_kind`` is ``secret`` or ``certificate``.

    ``roles`` are the application permissions granted on ``audience`` (Graph's, from ``grant_graph``).
    """
    issued = int(now)
    iss = issuer_for(tenant_id, cloud)
    claims = {
        "aud": audience,
        "iss": iss,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "aio": b64url(uuid.uuid4().bytes),
        "appid": client_id,
        "azp": client_id,
        "appidacr": "1" if credential_kind == "secret" else "2",
        "idp": iss,
        "idtyp": "app",
        "oid": object_id,
        "sub": object_id,
        "rh": "0.simulator.",
        "roles": list(roles),
        "tid": tenant_id,
        "uti": b64url(uuid.uuid4().bytes)[:22],
        "ver": "1.0",
    }
    return sign(claims)


def decode_access_token(token: str) -> dict:
    """Verify the signature (only); claims are checked by the caller against the sim clock.

    Raises ``jwt.InvalidTokenError`` when the token is malformed or not signed by us.
    """
    if jwt.get_unverified_header(token).get("kid") != key_id():
        raise jwt.InvalidSignatureError("unknown kid")
    return jwt.decode(
        token,
        signing_bundle().certificate.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
    )
