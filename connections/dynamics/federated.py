"""Federated (no secret): the app signs in to Microsoft Entra ID with an assertion of this site's own OpenID Connect
issuer (workload identity federation), and the errors Entra ID answers when the app registration's federated
credential does not match it, explained by which of Issuer, Subject identifier and Audience differs.

Plain Python: the Django side gives the issuer, the subject, the audience and the function that signs.
"""

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt

from connections.dynamics.errors import CheckError, aadsts_code, entra_error

KEYS_UNREACHABLE = (50166, 501661, 90061)  # "Request to External OIDC endpoint failed."
NO_MATCH, ISSUER_DIFFERS, AUDIENCE_DIFFERS, SUBJECT_DIFFERS = 70021, 700211, 700212, 700213
OUTSIDE_LIFETIME, UNREADABLE = 700024, 50027
SIGNATURE_REFUSED = (700027, 7000272)  # a bad signature; a kid the issuer's JWKS (as Entra ID holds it) lacks
WHERE = "the app registration's Certificates & secrets > Federated credentials"
# The claims of the last assertion signed in this TEST (its context): what an AADSTS700024 is compared with. Not on
# the credential: a cached msal app keeps calling the credential it was built with.
_last_signed: ContextVar[dict | None] = ContextVar("last_signed_assertion", default=None)


@dataclass(frozen=True)
class FederatedCredential:
    issuer: str
    subject: str
    audience: str
    sign: Callable[[], str] = field(repr=False, compare=False)
    # Why Entra ID may not reach the issuer (SITE_URL not https, a private address...): asked only after a refusal.
    issuer_problems: Callable[[], list[str]] = field(default=lambda: [], repr=False, compare=False)

    def msal_credential(self) -> dict:
        """msal calls the function for each token request: every assertion is fresh (at most 10 minutes)."""
        return {"client_assertion": self._assertion}

    def _assertion(self) -> str:
        assertion = self.sign()
        _last_signed.set(jwt.decode(assertion, options={"verify_signature": False}))
        return assertion

    def values(self) -> str:
        return f"Issuer {self.issuer}, Subject identifier {self.subject}, Audience {self.audience}"


def explain(body: dict, credential: FederatedCredential, cloud: str, status: int | None) -> CheckError:
    """Entra ID's refusal of a federated assertion, as advice naming the value that differs."""
    code = aadsts_code(body) or 0
    explained = entra_error(body, cloud, status)  # its details: trace and correlation ids, Entra's own words
    advice = _advice(code, credential, body)
    if advice is None:
        return explained
    outcome, message, hint = advice
    return CheckError(outcome, f"{message} (AADSTS{code}).", hint, explained.details)


def _advice(code: int, credential: FederatedCredential, body: dict) -> tuple[str, str, str] | None:
    c = credential
    add = f"In {WHERE}, add (or edit) a credential of the kind Other issuer with exactly the values shown here"
    if code == ISSUER_DIFFERS:
        return (
            "federated_issuer_mismatch",
            f"The app has no federated credential with the Issuer {c.issuer}",
            f"{add}: Issuer {c.issuer} (character for character: no trailing slash, https).",
        )
    if code == AUDIENCE_DIFFERS:
        return (
            "federated_audience_mismatch",
            f"The app's federated credential for the Issuer {c.issuer} does not have the Audience {c.audience}",
            f"{add}: Audience {c.audience}.",
        )
    if code in (NO_MATCH, SUBJECT_DIFFERS):
        which = "its Subject identifier differs" if code == SUBJECT_DIFFERS else "most often the Subject identifier"
        return (
            "federated_subject_mismatch",
            f"No federated credential of the app matches the values this site presents ({c.values()}): {which}",
            f"{add}: Subject identifier {c.subject}. Each connection has its own subject; one federated credential "
            "serves one connection (an app holds at most 20).",
        )
    if code == OUTSIDE_LIFETIME:
        return "federated_assertion_time", _lifetime(body), "Synchronise this server's clock (NTP) and TEST again."
    if code in KEYS_UNREACHABLE:
        return "federated_keys_unreachable", _unreachable(c), _reach_hint(c)
    if code in (*SIGNATURE_REFUSED, UNREADABLE):
        return (
            "federated_signature_refused",
            f"Microsoft Entra ID could not verify this site's assertion with the keys published at {c.issuer}",
            "Entra ID keeps an issuer's keys for a while: right after a signing key rotation, wait and TEST again. "
            f"Check that {c.issuer}/.well-known/jwks.json, as the internet sees it, is this site's.",
        )
    return None


def _lifetime(body: dict) -> str:
    """Expired or not yet valid, by Entra ID's own clock (its error's timestamp) against the assertion's times."""
    claims = _last_signed.get() or {}
    nbf, exp = claims.get("nbf"), claims.get("exp")
    entra_now = _timestamp(str(body.get("timestamp", "")))
    if not (nbf and exp):
        return "Microsoft Entra ID found this site's assertion outside its valid time range"
    valid = f"valid from {_utc(nbf)} to {_utc(exp)} by this server's clock"
    if entra_now is None:
        return f"Microsoft Entra ID found this site's assertion ({valid}) outside its valid time range"
    state = "expired" if entra_now > exp else "not yet valid" if entra_now < nbf else "outside its valid time range"
    return f"Microsoft Entra ID found this site's assertion {state} at {_utc(entra_now)} ({valid})"


def _unreachable(credential: FederatedCredential) -> str:
    return (
        "Microsoft Entra ID could not fetch this site's OpenID Connect keys from "
        f"{credential.issuer}/.well-known/openid-configuration"
    )


def _reach_hint(credential: FederatedCredential) -> str:
    problems = " ".join(credential.issuer_problems())
    base = (
        "Entra ID reads the issuer's discovery document and its JWKS over https from the internet: SITE_URL must be "
        "this site's public https address, reachable without signing in."
    )
    return f"{problems} {base}".strip()


def _timestamp(text: str) -> float | None:
    try:
        return datetime.strptime(text.strip().rstrip("Z"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
