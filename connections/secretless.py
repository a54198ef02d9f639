"""Credentials with nothing secret stored, for AzureServicePrincipal: Federated (no secret), where this site is the
OpenID Connect issuer whose assertions the app registration trusts, and the deployment's managed identity.

A connection's federated subject is made here once (a random UUID), carried to the form's POST signed, and kept in a
unique column: no two connections ever present the same subject, and none reuses another's.
"""

import json
import shlex
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.core import signing

from connections.dynamics.clouds import CLOUDS
from connections.dynamics.federated import FederatedCredential
from connections.models import Connection

SUBJECT_PREFIX = "dynamics-crm-connection:"
SUBJECT_SALT = "connections.secretless.federated-subject"
# How long a New connection form's subject stays good: long enough to register it on the app and come back.
SUBJECT_FORM_MAX_AGE = timedelta(days=7)


@dataclass(frozen=True)
class FederatedValues:
    """What the admin enters on the app registration (Federated credentials > Add credential > Other issuer)."""

    issuer: str
    subject: str
    audience: str
    name: str
    az_command: str
    problems: tuple[str, ...]


def new_subject() -> str:
    return SUBJECT_PREFIX + str(uuid.uuid4())


def subject_token(subject: str) -> str:
    """The subject as the form carries it: signed, so that a POST cannot choose another connection's subject."""
    return signing.dumps(subject, salt=SUBJECT_SALT)


def subject_from_token(token: str) -> str | None:
    try:
        subject = signing.loads(token, salt=SUBJECT_SALT, max_age=SUBJECT_FORM_MAX_AGE)
    except signing.BadSignature:
        return None
    return subject if isinstance(subject, str) and subject.startswith(SUBJECT_PREFIX) else None


def subject_taken(subject: str, connection: Connection) -> bool:
    return Connection.objects.filter(federated_subject=subject).exclude(pk=connection.pk).exists()


def audience(azure_environment: str) -> str:
    cloud = CLOUDS.get(azure_environment) or CLOUDS["GLOBAL"]
    return cloud.federation_audience


def federated_values(connection: Connection, subject: str, resolve: bool = True) -> FederatedValues:
    """The values for the page; `resolve=False` checks SITE_URL without asking DNS (the form, drawn often)."""
    from federation import issuer

    issuer_url = issuer.issuer_url()
    name = "gathr-" + subject.removeprefix(SUBJECT_PREFIX)[:8]
    values = (issuer_url or "<SITE_URL is not set>", subject, audience(connection.azure_environment))
    return FederatedValues(
        *values, name, az_command(connection.client_id, name, *values), tuple(issuer.issuer_problems(resolve))
    )


def az_command(client_id: str, name: str, issuer_url: str, subject: str, audience_value: str) -> str:
    """The Azure CLI's equivalent of adding the credential in the portal."""
    parameters = {
        "name": name,
        "issuer": issuer_url,
        "subject": subject,
        "audiences": [audience_value],
        "description": "Gathr Dynamics CRM connector (Federated, no secret)",
    }
    app = shlex.quote(client_id) if client_id else "<Client ID>"
    return f"az ad app federated-credential create --id {app} --parameters {shlex.quote(json.dumps(parameters))}"


def federated_credential(connection: Connection) -> FederatedCredential:
    """The TEST's credential: assertions signed for the connection's subject and its cloud's audience."""
    from federation import issuer

    subject, audience_value = connection.federated_subject or "", audience(connection.azure_environment)
    return FederatedCredential(
        issuer=issuer.issuer_url(),
        subject=subject,
        audience=audience_value,
        sign=partial(issuer.sign_assertion, subject, audience_value),
        issuer_problems=issuer.issuer_problems,
    )


def managed_identity(connection: Connection):
    """The deployment's identity the TEST asks for a token: system-assigned, or user-assigned by client/resource ID."""
    from connections.dynamics.managed_identity import ManagedIdentity

    return ManagedIdentity(connection.managed_identity_type or "system", connection.managed_identity_id)
