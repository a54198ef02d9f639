"""The body of a create, an update or an unsaved TEST, for the schema only: the values are checked by
ConnectionForm (api/body.py turns the body into its data), so that every rule and message is the form's own."""

from rest_framework import serializers

from connections.models import AuthScheme, AzureEnvironment, CredentialType, CrmVersion, ManagedIdentityType, Scope


def _text(help_text: str = "", **kwargs):
    return serializers.CharField(required=False, allow_blank=True, help_text=help_text, **kwargs)


def _choice(choices):
    return serializers.ChoiceField(choices=[*choices.values], required=False, allow_blank=True)


class ConnectionInputSerializer(serializers.Serializer):
    name = _text()
    client_id = _text("The app registration's Application (client) ID; a {GUID} in braces is accepted.")
    client_secret = _text("Write-only: stored encrypted, never returned. Blank on an update keeps the stored one.",
                          write_only=True)  # fmt: skip
    secret_expires_on = serializers.DateField(required=False, allow_null=True)
    url = _text()
    crm_version = _choice(CrmVersion)
    azure_tenant = _text()
    auth_scheme = _choice(AuthScheme)
    callback_url = _text("AzureAD only; blank: this site's callback address.")
    windows_user = _text()
    windows_password = _text("Write-only (CRM2011+ NTLM).", write_only=True)
    adfs_url = _text()
    adfs_resource = _text()
    azure_environment = _choice(AzureEnvironment)
    credential_type = _choice(CredentialType)
    certificate = _text("Write-only: the PFX/P12 or PEM file, base64-encoded.", write_only=True)
    certificate_password = _text("Write-only: the PFX's or the PEM key's password.", write_only=True)
    managed_identity_type = _choice(ManagedIdentityType)
    managed_identity_id = _text("A user-assigned identity's client ID or resource ID.")
    scope = _choice(Scope)


class AccessCheckInputSerializer(serializers.Serializer):
    tables = _text("Other tables to read: logical names separated by commas or spaces (e.g. new_project, incident).")
