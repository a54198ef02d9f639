"""The Dynamics CRM connection form: the product page's fields, in its order, with its labels."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout
from django import forms
from django.core.exceptions import ValidationError

from connections import certificates
from connections.dynamics import inputs
from connections.models import Connection, CredentialType, CrmVersion

SECRET_STORED_HELP = "A client secret is stored. Leave this box empty to keep it, or type a new secret to replace it."


class ConnectionForm(forms.ModelForm):
    error_messages = {
        "name_taken": "A connection named “%(name)s” already exists. Choose another name.",
        "secret_required": "Enter the Client Secret (the secret's Value, not its Secret ID).",
        "certificate_required": "Upload the certificate (PFX with its password, or PEM with the private key).",
        "control_characters": "The name cannot contain line breaks or control characters.",
    }

    client_secret = forms.CharField(
        label="Client Secret",
        required=False,
        # Secret values never hold spaces; stripping saves admins from a pasted newline.
        strip=True,
        max_length=1024,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "Certificates & secrets > Client secrets on the app registration: copy the secret's "
            "<strong>Value</strong> (shown only once), not its Secret ID."
        ),
    )
    certificate = forms.FileField(
        label="Certificate file",
        required=False,
        help_text="A PFX/P12 file with its password, or a PEM file with the private key and the "
        "certificate. Upload the same certificate (.cer) under Certificates & secrets on the app registration.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pfx,.p12,.pem,.crt,.key"}),
    )
    certificate_password = forms.CharField(
        label="Certificate Password",
        required=False,
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The PFX password, or the PEM private key's password if it is encrypted.",
    )
    creation_token = forms.UUIDField(widget=forms.HiddenInput, required=False)
    # Wider than the stored 36 characters: a pasted {GUID} with braces is accepted and normalised.
    client_id = forms.CharField(
        label="Client ID",
        max_length=40,
        error_messages={"required": "Enter the Client ID (the app registration's Application (client) ID)."},
        help_text="The Application (client) ID on the app registration's Overview page "
        "(Microsoft Entra admin center > App registrations).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    class Meta:
        model = Connection
        fields = [
            "name",
            "client_id",
            "url",
            "crm_version",
            "azure_tenant",
            "azure_environment",
            "credential_type",
        ]
        help_texts = {
            "name": "The name shown in the list of available connections.",
            "client_id": "The Application (client) ID on the app registration's Overview page "
            "(Microsoft Entra admin center > App registrations).",
            "url": "The root URL of the organization. CRMOnline: https://contoso.crm.dynamics.com/ "
            "(Power Platform admin center > Environments > Environment URL). "
            "CRM2011+: http://MySite/MyOrganization.",
            "crm_version": "CRMOnline for Dynamics 365 / Dataverse (Office 365 STS); "
            "CRM2011+ for an on-premises server.",
            "azure_tenant": "The Directory (tenant) ID on the app registration's Overview page, "
            "or a domain of the tenant such as contoso.onmicrosoft.com.",
            "azure_environment": "The Azure cloud of the tenant: GLOBAL for commercial and GCC "
            "(crm9), USGOVT for GCC High, USGOVTDOD for DoD, CHINA for 21Vianet.",
            "credential_type": "Authenticate the app with its client secret, or with a certificate "
            "uploaded to the app registration (OAuthJWTCert).",
        }
        error_messages = {
            "name": {"required": "Enter a Connection Name."},
            "client_id": {"required": "Enter the Client ID (the app registration's Application (client) ID)."},
            "url": {"required": "Enter the URL of the organization, like https://contoso.crm.dynamics.com/."},
            "azure_tenant": {"required": "Enter the AzureTenant (the Directory (tenant) ID)."},
        }
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
            "client_id": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "url": forms.URLInput(attrs={"placeholder": "https://contoso.crm.dynamics.com/"}),
            "azure_tenant": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "crm_version": forms.Select,
            "credential_type": forms.RadioSelect,
        }

    field_order = [
        "name",
        "client_id",
        "client_secret",
        "url",
        "crm_version",
        "azure_tenant",
        "azure_environment",
        "credential_type",
        "certificate",
        "certificate_password",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.certificate_credential = None
        self.fields["url"].max_length = 2048
        if self.instance.has_client_secret:
            self.fields["client_secret"].help_text = SECRET_STORED_HELP
            self.fields["client_secret"].widget.attrs["placeholder"] = "•••••• stored"
        if self.instance.has_certificate:
            self.fields[
                "certificate"
            ].help_text = "A certificate is stored. Leave empty to keep it, or upload a new one to replace it."
        self.helper = self._helper()

    def _helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        helper.layout = Layout(
            "name",
            "client_id",
            Div(Field("client_secret"), css_id="secret-fields"),
            "url",
            "crm_version",
            "azure_tenant",
            "azure_environment",
            "credential_type",
            Div("certificate", "certificate_password", css_id="certificate-fields"),
            "creation_token",
        )
        return helper

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise ValidationError(self.error_messages["control_characters"], code="control_characters")
        clash = Connection.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(self.error_messages["name_taken"], code="name_taken", params={"name": name})
        return name

    def clean_client_id(self) -> str:
        return inputs.normalize_guid(self.cleaned_data["client_id"], field="Client ID")

    def clean_azure_tenant(self) -> str:
        return inputs.normalize_tenant(self.cleaned_data["azure_tenant"])

    def clean(self):
        cleaned = super().clean()
        self._clean_url(cleaned)
        if cleaned.get("credential_type") == CredentialType.CERTIFICATE:
            self._clean_certificate(cleaned)
        elif not cleaned.get("client_secret") and not self.instance.has_client_secret:
            self.add_error("client_secret", ValidationError(self.error_messages["secret_required"], code="required"))
        return cleaned

    def _clean_url(self, cleaned: dict) -> None:
        if not cleaned.get("url") or not cleaned.get("crm_version"):
            return
        try:
            cleaned["url"] = inputs.normalize_url(cleaned["url"], cleaned["crm_version"])
            if cleaned["crm_version"] == CrmVersion.CRM_ONLINE and cleaned.get("azure_environment"):
                inputs.check_online_host(cleaned["url"], cleaned["azure_environment"])
        except ValidationError as error:
            self.add_error("url", error)

    def _clean_certificate(self, cleaned: dict) -> None:
        upload = cleaned.get("certificate")
        if not upload:
            if not self.instance.has_certificate:
                self.add_error(
                    "certificate", ValidationError(self.error_messages["certificate_required"], code="required")
                )
            return
        try:
            data = upload.read(certificates.MAX_CERTIFICATE_BYTES + 1)
            self.certificate_credential = certificates.parse_upload(data, cleaned.get("certificate_password", ""))
        except certificates.CertificateError as error:
            self.add_error("certificate", ValidationError(str(error), code="invalid_certificate"))

    def save(self, commit: bool = True) -> Connection:
        connection = super().save(commit=False)
        if self.cleaned_data.get("client_secret"):
            connection.set_client_secret(self.cleaned_data["client_secret"])
        if self.certificate_credential is not None:
            connection.set_certificate(self.certificate_credential)
        if commit:
            connection.save()
        return connection
