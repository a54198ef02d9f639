"""What the connection form shows and asks for by CRM Version and Auth Scheme: Microsoft Entra ID's fields for
CRMOnline, a Windows account (NTLM) or an AD FS server application (ADFS) for a CRM2011+ (on-premises) server.

A mixin of ConnectionForm: the fields that do not apply are neither required nor validated, and are saved blank
(the page's script hides them; without it they stay visible and are ignored).
"""

from django.core.exceptions import ValidationError

from connections.dynamics import inputs
from connections.fields import checked
from connections.models import (
    ON_PREMISES_SCHEMES,
    ONLINE_SCHEMES,
    AuthScheme,
    AzureEnvironment,
    CredentialType,
    CrmVersion,
)

PASSWORD_STORED_HELP = "A password is stored. Leave this box empty to keep it, or type a new password to replace it."
# Shown next to the URL when a CRM2011+ URL starts with http:// (a notice, not an error).
HTTP_WARNINGS = {
    AuthScheme.NTLM: "This URL uses http://: NTLM never sends the password itself, but everything else, the data "
    "included, crosses the network unencrypted. Use https:// if the server offers it.",
    AuthScheme.ADFS: "This URL uses http://: the AD FS token, which opens Dynamics CRM to whoever holds it, and the "
    "data cross the network unencrypted. Use https://.",
}

SCHEME_ERROR_MESSAGES = {
    "online_scheme": "%(scheme)s signs in with Microsoft Entra ID, which only CRMOnline uses: for CRM2011+ "
    "(on-premises) choose NTLM or ADFS.",
    "on_premises_scheme": "%(scheme)s is for CRM2011+ (on-premises) servers: for CRMOnline choose "
    "AzureServicePrincipal or AzureAD.",
    "password_required": "Enter the Password of the Windows account.",
    "adfs_secret_required": "Enter the Client Secret of the AD FS server application.",
}


class SchemeRules:
    """The rules of ConnectionForm that depend on the CRM Version and the Auth Scheme."""

    @property
    def on_premises(self) -> bool:
        """CRM2011+ as posted (or saved); anything else follows CRMOnline's rules."""
        return self["crm_version"].value() == CrmVersion.CRM_2011

    @property
    def scheme(self) -> str:
        """The Auth Scheme as posted (or saved), or the CRM Version's default when none was posted."""
        value = self["auth_scheme"].value()
        if value in AuthScheme.values:
            return value
        return AuthScheme.NTLM if self.on_premises else AuthScheme.SERVICE_PRINCIPAL

    def _require_by_scheme(self) -> None:
        """Fields the chosen version and scheme need are required (their labels carry the asterisk)."""
        # A managed identity is the deployment's own: it needs neither the app's Client ID nor its tenant.
        self.fields["azure_tenant"].required = not self.on_premises and not self.uses_managed_identity
        self.fields["azure_environment"].required = not self.on_premises
        self.fields["credential_type"].required = not self.on_premises
        self.fields["client_id"].required = self.scheme != AuthScheme.NTLM and not self.uses_managed_identity
        self.fields["windows_user"].required = self.scheme == AuthScheme.NTLM
        self.fields["adfs_url"].required = self.scheme == AuthScheme.ADFS

    @property
    def url_warning(self) -> str:
        """A notice (not an error) for a CRM2011+ URL that starts with http://."""
        url = str(self["url"].value() or "").strip().lower()
        if not self.on_premises or not url.startswith("http://"):
            return ""
        return HTTP_WARNINGS.get(self.scheme, HTTP_WARNINGS[AuthScheme.ADFS])

    @property
    def http_warnings(self) -> dict:
        return {str(scheme): text for scheme, text in HTTP_WARNINGS.items()}

    def clean_client_id(self) -> str:
        if self.scheme == AuthScheme.NTLM or self.uses_managed_identity:  # no OAuth client: the box is dropped
            return ""
        return checked(inputs.normalize_guid, self.cleaned_data["client_id"], field="Client ID")

    def clean_azure_tenant(self) -> str:
        if self.on_premises or self.uses_managed_identity:  # no tenant to name: the identity knows its own
            return ""
        return checked(inputs.normalize_tenant, self.cleaned_data["azure_tenant"])

    def clean_azure_environment(self) -> str:
        return self.cleaned_data.get("azure_environment") or AzureEnvironment.GLOBAL

    def clean_windows_user(self) -> str:
        if self.scheme != AuthScheme.NTLM:
            return ""
        return checked(inputs.normalize_windows_user, self.cleaned_data["windows_user"])

    def clean_adfs_url(self) -> str:
        if self.scheme != AuthScheme.ADFS:
            return ""
        return checked(inputs.normalize_adfs_url, self.cleaned_data["adfs_url"])

    def clean_adfs_resource(self) -> str:
        if self.scheme != AuthScheme.ADFS:
            return ""
        return checked(inputs.check_adfs_resource, self.cleaned_data["adfs_resource"])

    def clean_auth_scheme(self) -> str:
        scheme = self.cleaned_data.get("auth_scheme") or self.scheme
        if self.on_premises and scheme in ONLINE_SCHEMES:
            code = "online_scheme"
        elif not self.on_premises and scheme in ON_PREMISES_SCHEMES:
            code = "on_premises_scheme"
        else:
            return scheme
        raise ValidationError(self.error_messages[code], code=code, params={"scheme": scheme})

    def _clean_on_premises(self, cleaned: dict) -> None:
        """NTLM needs the Windows password, ADFS the server application's secret; neither uses certificates."""
        cleaned["credential_type"] = CredentialType.CLIENT_SECRET
        cleaned["certificate"] = None
        if self.scheme == AuthScheme.NTLM:
            cleaned["client_secret"] = ""
            if not cleaned.get("windows_password") and not self.instance.has_windows_password:
                self.add_error(
                    "windows_password", ValidationError(self.error_messages["password_required"], code="required")
                )
            return
        cleaned["windows_password"] = ""
        if not cleaned.get("client_secret") and not self.instance.has_client_secret:
            self.add_error(
                "client_secret", ValidationError(self.error_messages["adfs_secret_required"], code="required")
            )
