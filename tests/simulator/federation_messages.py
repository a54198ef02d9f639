"""What Entra answers to a federated (workload identity) client assertion it refuses, in its own words.

The texts are Entra's as seen in real answers (Azure/azure-workload-identity issues #340, #616, #642, #1130,
#1200, #1232; Azure/login #283; 2022-2025). They live apart from :mod:`.aadsts` so that module can list them in
``DOCUMENTED`` without importing the federation code.
"""

from __future__ import annotations

import jwt

WORKLOAD_IDENTITY_DOCS = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
_CHECK_YOUR_RECORD = (
    "Check your federated identity credential Subject, Audience and Issuer against the presented assertion. "
    + WORKLOAD_IDENTITY_DOCS
)
# AADSTS700211 / 700212 / 700213 (invalid_client, 401), the 2025 wording.
NO_RECORD_FOR_ISSUER = "No matching federated identity record found for presented assertion issuer '{issuer}'. " + (
    _CHECK_YOUR_RECORD
)
NO_RECORD_FOR_AUDIENCE = (
    "No matching federated identity record found for presented assertion audience '{audience}'. " + _CHECK_YOUR_RECORD
)
NO_RECORD_FOR_SUBJECT = (
    "No matching federated identity record found for presented assertion subject '{subject}'. " + _CHECK_YOUR_RECORD
)
# AADSTS70021 (invalid_client, 401 since 2023; 400 invalid_request before): what Entra answers for a subject that
# no credential of the matching issuer and audience has.
NO_MATCHING_RECORD = (
    "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. "
    "Assertion Subject: '{subject}'. Assertion Audience: '{audience}'. "
    "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
)
# AADSTS50166 (invalid_request, 400) and its older kin AADSTS90061: the issuer's discovery document or keys
# could not be fetched, whatever the reason (Entra says no more).
OIDC_ENDPOINT_FAILED = "Request to External OIDC endpoint failed."
# AADSTS7000272 (invalid_client, 401), seen for a kid the issuer's JWKS does not list (issue #1232); the
# simulator puts the assertion's kid where Entra shows the key's hex thumbprint.
KEY_NOT_IN_METADATA = (
    "The certificate with identifier {key_id} used to sign the federated credential could not be found in the "
    "metadata of identity provider {issuer}. Please validate that your Identity Provider's metadata exposes the "
    "key used to sign the incoming token."
)
# AADSTS700027 (invalid_client, 401): the key was found but the signature does not verify. The closest text Entra
# documents is the certificate assertion's "failed signature validation"; a JWKS key has no validity dates, so the
# simulator leaves out its "Found key 'Start=..., End=...'" part.
FEDERATED_BAD_SIGNATURE = (
    "Client assertion failed signature validation. [Reason - The provided signature value did not match the "
    "expected signature value., Thumbprint of key used by client: '{key_id}']"
)


def presented_values(form: dict[str, str]) -> dict[str, str]:
    """The issuer, subject, audience and kid of the form's client assertion (unverified), for error texts."""
    assertion = form.get("client_assertion", "")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        return {}
    values = {"issuer": claims.get("iss"), "subject": claims.get("sub"), "audience": claims.get("aud")}
    values["key_id"] = header.get("kid")
    return {name: str(value) for name, value in values.items() if isinstance(value, str)}
