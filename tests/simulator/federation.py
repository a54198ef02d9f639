"""Federated identity credentials (workload identity federation) and the check of a federated client assertion.

An app registration trusts up to 20 external issuers' tokens (Graph's federatedIdentityCredentials: name,
issuer, subject, audiences, by default ``api://AzureADTokenExchange``). A client assertion whose ``iss`` is not
the app's client id is a federated one, and Entra judges it in this order:

1. the records: none with this exact issuer string -> AADSTS700211; none of those with the assertion's ``aud``
   -> AADSTS700212; none of those with its ``sub`` (exact, case-sensitive) -> AADSTS70021 naming the three
   presented values (Entra's answer for a subject mismatch; 700213 is reachable through ``set_aadsts``);
2. the lifetime: ``exp``, ``nbf`` and ``iat`` on the simulator clock with 5 minutes of skew -> AADSTS700024;
3. the keys: the issuer's discovery document and JWKS (:mod:`.oidc_issuers`), any failure -> AADSTS50166;
4. the signature: RS256 only, the key found by the header's ``kid`` (none -> AADSTS7000272), a signature that
   does not verify -> AADSTS700027.

``alg: none`` and HS* were already refused as malformed (AADSTS50027), as were a list ``aud`` and no ``exp``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import jwt

from . import aadsts
from . import federation_messages as texts
from .aadsts import invalid_client, invalid_request
from .oidc_issuers import IssuerFetchError, OidcIssuers

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
MAX_FEDERATED_CREDENTIALS = 20  # per application, as Graph documents


@dataclass
class FederatedCredential:
    """One of Graph's federatedIdentityCredential resources."""

    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...] = (TOKEN_EXCHANGE_AUDIENCE,)
    description: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_graph(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "issuer": self.issuer,
            "subject": self.subject,
            "description": self.description or None,
            "audiences": list(self.audiences),
        }


def is_federated(claims: dict, client_id: str) -> bool:
    """An assertion naming someone other than the app as issuer; one whose ``sub`` is the app stays a
    certificate assertion with a wrong issuer (AADSTS700021)."""
    return str(claims.get("iss", "")).lower() != client_id and str(claims.get("sub", "")).lower() != client_id


def verify_federated_assertion(
    assertion: str,
    header: dict,
    claims: dict,
    credentials: list[FederatedCredential],
    now: float,
    issuers: OidcIssuers,
) -> None:
    """Return if a credential of the app matches and the issuer signed it; raise :class:`EntraError` if not."""
    issuer, subject, audience = str(claims.get("iss", "")), str(claims.get("sub", "")), claims["aud"]
    match_record(issuer, subject, audience, credentials)
    check_lifetime(claims, now)
    try:
        jwks = issuers.keys(issuer, now)
    except IssuerFetchError:
        raise invalid_request(50166, texts.OIDC_ENDPOINT_FAILED) from None
    key_id = header.get("kid")
    key = _signing_key(jwks, key_id)
    if key is None:
        raise invalid_client(7000272, texts.KEY_NOT_IN_METADATA.format(key_id=key_id or "", issuer=issuer))
    try:
        jwt.decode(assertion, key, algorithms=["RS256"], options={"verify_signature": True, **_NO_CLAIM_CHECKS})
    except jwt.InvalidSignatureError:
        raise invalid_client(700027, texts.FEDERATED_BAD_SIGNATURE.format(key_id=key_id)) from None
    except jwt.InvalidTokenError:  # e.g. PS256: Entra's federation takes RS256
        raise invalid_request(50027, aadsts.MALFORMED_JWT) from None


_NO_CLAIM_CHECKS = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}


def match_record(issuer: str, subject: str, audience: str, credentials: list[FederatedCredential]) -> None:
    same_issuer = [c for c in credentials if c.issuer == issuer]
    if not same_issuer:
        raise invalid_client(700211, texts.NO_RECORD_FOR_ISSUER.format(issuer=issuer))
    same_audience = [c for c in same_issuer if audience in c.audiences]
    if not same_audience:
        raise invalid_client(700212, texts.NO_RECORD_FOR_AUDIENCE.format(audience=audience))
    if not any(c.subject == subject for c in same_audience):
        raise invalid_client(70021, texts.NO_MATCHING_RECORD.format(issuer=issuer, subject=subject, audience=audience))


def check_lifetime(claims: dict, now: float, skew: float = 300) -> None:
    """``exp`` passed, or ``nbf`` / ``iat`` still ahead, by more than ``skew`` -> AADSTS700024."""
    exp = claims["exp"]
    starts = [claims[name] for name in ("nbf", "iat") if isinstance(claims.get(name), (int, float))]
    if now > exp + skew or any(now + skew < start for start in starts):
        raise invalid_client(
            700024,
            aadsts.ASSERTION_TIME.format(
                now=aadsts.format_instant(now),
                nbf=aadsts.format_instant(max(starts, default=0)),
                exp=aadsts.format_instant(exp),
            ),
        )


def _signing_key(jwks: dict, key_id):
    """The public key of the JWKS entry whose ``kid`` is ``key_id`` (None if none, or if it is unusable)."""
    if not isinstance(key_id, str):
        return None
    for entry in jwks.get("keys", []):
        if isinstance(entry, dict) and entry.get("kid") == key_id and entry.get("use", "sig") == "sig":
            try:
                return jwt.PyJWK(entry, algorithm="RS256").key
            except jwt.PyJWTError:
                return None
    return None
