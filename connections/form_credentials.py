"""The connection form's rules for the two credentials with nothing secret stored, Federated (no secret) and
Managed identity (AzureServicePrincipal only): a mixin of ConnectionForm, like form_schemes.SchemeRules."""

import json
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.functional import cached_property
from django.utils.safestring import SafeString

from connections import secretless
from connections.choices import SECRETLESS_CREDENTIALS
from connections.dynamics import inputs
from connections.dynamics.clouds import CLOUDS
from connections.fields import checked
from connections.models import AuthScheme, CredentialType, ManagedIdentityType

_RESOURCE_ID = re.compile(
    r"^/subscriptions/[0-9a-f-]{36}/resourcegroups/[^/\s]{1,90}/providers/microsoft\.managedidentity/"
    r"userassignedidentities/[^/\s]{1,128}$",
    re.IGNORECASE,
)
SECRETLESS_ERROR_MESSAGES = {
    "secretless_scheme": "%(credential)s signs in as the app itself: choose AzureServicePrincipal (for AzureAD choose "
    "a Secret or a Certificate).",
    "issuer_not_configured": "Federated (no secret) needs this site's public https address as its issuer: ask whoever "
    "runs this app to set SITE_URL.",
    "subject_expired": "This form is too old to keep its Subject identifier: reload the page (and register the "
    "Subject identifier it then shows).",
    "subject_taken": "This Subject identifier belongs to another connection: reload the page for a new one.",
    "identity_id_required": "Enter the %(what)s of the user-assigned managed identity.",
    "invalid_resource_id": "Enter the identity's resource ID, like /subscriptions/<subscription ID>/resourceGroups/"
    "<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name> (the identity's Properties page).",
}
IDENTITY_ID_NAMES = {ManagedIdentityType.CLIENT_ID: "client ID", ManagedIdentityType.RESOURCE_ID: "resource ID"}


class SecretlessRules:
    def _secretless_fields(self) -> None:
        """The identity is one of three kinds (no blank "select an option": system-assigned unless chosen)."""
        kind = self.fields["managed_identity_type"]
        kind.choices, kind.required = ManagedIdentityType.choices, False
        kind.initial = self.instance.managed_identity_type or ManagedIdentityType.SYSTEM

    @property
    def credential(self) -> str:
        return str(self["credential_type"].value() or "")

    @property
    def uses_managed_identity(self) -> bool:
        return not self.on_premises and self.credential == CredentialType.MANAGED_IDENTITY

    @cached_property
    def federated_subject(self) -> str:
        """The connection's subject, the one this form was shown with, or a new one (shown before CREATE, so that
        the admin can register it and TEST first)."""
        posted = secretless.subject_from_token(self._posted_subject_token)
        return self.instance.federated_subject or posted or secretless.new_subject()

    @property
    def _posted_subject_token(self) -> str:
        """The signed subject the page was shown with (a hidden input of _federated_values.html)."""
        return str(self.data.get("federated_subject_token", "")) if self.is_bound else ""

    def federated_html(self) -> SafeString:
        values = secretless.federated_values(self.instance, self.federated_subject, resolve=False)
        audiences = {name: cloud.federation_audience for name, cloud in CLOUDS.items()}
        template = secretless.az_command("__CLIENT_ID__", values.name, values.issuer, values.subject, "__AUDIENCE__")
        return render_to_string(
            "connections/_federated_values.html",
            {
                "federated": values,
                "subject_token": secretless.subject_token(self.federated_subject),
                "federated_rows": federated_rows(values),
                "audiences": json.dumps(audiences),
                "command_template": template,
            },
        )

    def _clean_secretless(self, cleaned: dict) -> None:
        credential = cleaned.get("credential_type")
        cleaned["client_secret"], cleaned["certificate"] = "", None
        if self.scheme != AuthScheme.SERVICE_PRINCIPAL:
            label = CredentialType(credential).label
            error = ValidationError(
                self.error_messages["secretless_scheme"], code="secretless_scheme", params={"credential": label}
            )
            self.add_error("credential_type", error)
        elif credential == CredentialType.FEDERATED:
            self._clean_federated()
        else:
            self._clean_identity(cleaned)

    def _clean_federated(self) -> None:
        if not settings.SITE_URL:
            self._credential_error("issuer_not_configured")
            return
        posted = self._posted_subject_token
        # No token posted (a client without the form's page): a new subject, shown once the connection is saved.
        if not self.instance.federated_subject and posted and secretless.subject_from_token(posted) is None:
            self._credential_error("subject_expired")
        elif secretless.subject_taken(self.federated_subject, self.instance):
            self._credential_error("subject_taken")
        else:  # a TEST of the form's values signs for it too (form.instance), and CREATE keeps it
            self.instance.federated_subject = self.federated_subject

    def _clean_identity(self, cleaned: dict) -> None:
        kind = cleaned.get("managed_identity_type") or ManagedIdentityType.SYSTEM
        cleaned["managed_identity_type"] = kind
        value = (cleaned.get("managed_identity_id") or "").strip()
        if kind == ManagedIdentityType.SYSTEM:
            cleaned["managed_identity_id"] = ""
            return
        what = IDENTITY_ID_NAMES[kind]
        if not value:
            error = ValidationError(self.error_messages["identity_id_required"], code="required", params={"what": what})
        elif kind == ManagedIdentityType.CLIENT_ID:
            try:
                cleaned["managed_identity_id"] = checked(inputs.normalize_guid, value, field="identity's client ID")
                return
            except ValidationError as invalid:
                error = invalid
        elif _RESOURCE_ID.match(value):
            cleaned["managed_identity_id"] = value
            return
        else:
            error = ValidationError(self.error_messages["invalid_resource_id"], code="invalid_resource_id")
        self.add_error("managed_identity_id", error)

    def _credential_error(self, code: str) -> None:
        self.add_error("credential_type", ValidationError(self.error_messages[code], code=code))

    @property
    def secretless_posted(self) -> bool:
        return not self.on_premises and self.credential in SECRETLESS_CREDENTIALS


def federated_rows(values: secretless.FederatedValues) -> list[tuple[str, str, str]]:
    return [
        ("Issuer", "federated-issuer", values.issuer),
        ("Subject identifier", "federated-subject", values.subject),
        ("Audience", "federated-audience", values.audience),
    ]
