"""This application as an OpenID Connect issuer at SITE_URL: the assertions a connection's TEST sends to Microsoft
Entra ID as `client_assertion` (workload identity federation), signed with keys Entra ID fetches from our JWKS."""

import time
import uuid

import jwt
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from connections import crypto
from federation import keyring, keys
from federation.reachability import issuer_problems
from federation.status import signing_status

__all__ = [
    "IssuerError",
    "IssuerNotConfiguredError",
    "SigningKeyUnavailableError",
    "issuer_problems",
    "issuer_url",
    "jwks_url",
    "sign_assertion",
    "signing_status",
]

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"


class IssuerError(Exception):
    """An assertion cannot be signed; the message says what the operator should change."""


class IssuerNotConfiguredError(IssuerError):
    """SITE_URL is not set: this site has no issuer address for Microsoft Entra ID to fetch keys from."""


class SigningKeyUnavailableError(IssuerError):
    """The current signing key's private key cannot be decrypted with FIELD_ENCRYPTION_KEY."""


def issuer_url() -> str:
    """SITE_URL without a trailing slash ("" when unset): the `iss` of every assertion, exactly."""
    return settings.SITE_URL.rstrip("/")


def jwks_url() -> str:
    return issuer_url() + JWKS_PATH if issuer_url() else ""


@sensitive_variables("signer")
def sign_assertion(subject: str, audience: str) -> str:
    """A JWT for `client_assertion`: RS256 with the current key (header kid, typ JWT); iss, sub, aud, iat, nbf,
    exp (FEDERATED_ASSERTION_LIFETIME seconds on) and a fresh jti."""
    issuer = issuer_url()
    if not issuer:
        raise IssuerNotConfiguredError(
            "SITE_URL is not set: set it to this site's public https address, where Microsoft Entra ID fetches "
            "the issuer's keys."
        )
    if not subject or not audience:
        raise ValueError("An assertion needs a subject and an audience.")
    try:
        signer = keyring.signer()
    except crypto.SecretDecryptionError as err:
        raise SigningKeyUnavailableError(
            "The current signing key cannot be decrypted: FIELD_ENCRYPTION_KEY no longer holds the key it was "
            "encrypted with (restore it, or rotate the signing keys with --force)."
        ) from err
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + settings.FEDERATED_ASSERTION_LIFETIME,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, signer.private_key, algorithm=keys.ALGORITHM, headers={"kid": signer.kid, "typ": "JWT"})


def discovery_document(issuer: str) -> dict:
    """What /.well-known/openid-configuration answers: enough for a verifier to find and use our keys."""
    return {
        "issuer": issuer,
        "jwks_uri": issuer + JWKS_PATH,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"],
    }
