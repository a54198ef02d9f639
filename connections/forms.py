"""The Dynamics CRM connection form: the product page's fields, in its order, with its labels."""

from crispy_forms.bootstrap import FieldWithButtons, StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import Jinja2
from django.template.loader import render_to_string
from django.utils.functional import cached_property
from django.utils.safestring import SafeString, mark_safe

from connections.callback_url import check_callback_url
from connections.dynamics import certificates, inputs
from connections.fields import checked, write_only_secret
from connections.form_credentials import SECRETLESS_ERROR_MESSAGES, SecretlessRules
from connections.form_schemes import PASSWORD_STORED_HELP, SCHEME_ERROR_MESSAGES, SchemeRules
from connections.form_texts import FIELD_ERRORS, HELP_TEXTS
from connections.models import AuthScheme, Connection, CredentialType, CrmVersion, Scope

# The product page's fields in its order, then ours; the admin shows the same list (plus the owner).
FIELD_ORDER = [
    "name",
    "client_id",
    "client_secret",
    "secret_expires_on",
    "url",
    "crm_version",
    "azure_tenant",
    "auth_scheme",
    "callback_url",
    "windows_user",
    "windows_password",
    "adfs_url",
    "adfs_resource",
    "azure_environment",
    "credential_type",
    "certificate",
    "certificate_password",
    "managed_identity_type",
    "managed_identity_id",
    "scope",
]
# Typed credentials: hidden from error reports (sensitive_post_parameters) by the views and the admin.
SENSITIVE_FIELDS = ("client_secret", "certificate_password", "certificate", "windows_password")
SECRET_STORED_HELP = "A client secret is stored. Leave this box empty to keep it, or type a new secret to replace it."


class ConnectionForm(SecretlessRules, SchemeRules, forms.ModelForm):
    # Its widgets render with Django's own Jinja2 templates of them: the same HTML, several times faster.
    default_renderer = Jinja2()
    error_messages = {
        "name_taken": "A connection named “%(name)s” already exists. Choose another name.",
        "secret_required": "Enter the Client Secret (the secret's Value, not its Secret ID).",
        "certificate_required": "Upload the certificate (PFX with its password, or PEM with the private key).",
        "control_characters": "The name cannot contain line breaks or control characters.",
        **SCHEME_ERROR_MESSAGES,
        **SECRETLESS_ERROR_MESSAGES,
    }

    # Secret values never hold spaces; stripping saves admins from a pasted newline.
    client_secret = write_only_secret(
        "Client Secret",
        "Certificates & secrets > Client secrets on the app registration: copy the secret's "
        "<strong>Value</strong> (shown only once), not its Secret ID.",
        strip=True,
    )
    certificate = forms.FileField(
        label="Certificate file",
        required=False,
        help_text="A PFX/P12 file with its password, or a PEM file with the private key and the "
        "certificate. Upload the same certificate (.cer) under Certificates & secrets on the app registration.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pfx,.p12,.pem,.crt,.key"}),
    )
    certificate_password = write_only_secret(
        "Certificate Password",
        "The PFX password, or the PEM private key's password if it is encrypted.",
        strip=False,
        autocomplete="off",
    )
    windows_password = write_only_secret(
        "Password",
        "The Windows account's password. It is stored encrypted and never shown again.",
        strip=False,
    )
    creation_token = forms.UUIDField(widget=forms.HiddenInput, required=False)
    # Wider than the stored 36 characters: a pasted {GUID} with braces is accepted and normalised.
    client_id = forms.CharField(
        label="Client ID",
        max_length=40,
        error_messages={"required": "Enter the Client ID (the app registration's Application (client) ID)."},
        help_text="The Application (client) ID on the app registration's Overview page "
        "(Microsoft Entra admin center > App registrations). ADFS: the Client Identifier of the AD FS server "
        "application.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    class Meta:
        model = Connection
        fields = [name for name in FIELD_ORDER if name not in SENSITIVE_FIELDS]
        help_texts = HELP_TEXTS
        error_messages = FIELD_ERRORS
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
            "client_id": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "url": forms.URLInput(attrs={"placeholder": "https://contoso.crm.dynamics.com/"}),
            "azure_tenant": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "crm_version": forms.Select,
            "credential_type": forms.RadioSelect,
            "auth_scheme": forms.RadioSelect,
            "scope": forms.RadioSelect,
            "managed_identity_type": forms.RadioSelect,
            "managed_identity_id": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "callback_url": forms.URLInput(attrs={"spellcheck": "false"}),
            "windows_user": forms.TextInput(
                attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "CONTOSO\\maria"}
            ),
            "adfs_url": forms.TextInput(
                attrs={"spellcheck": "false", "placeholder": "https://adfs.contoso.com/adfs", "inputmode": "url"}
            ),
            "adfs_resource": forms.TextInput(attrs={"spellcheck": "false"}),
            "secret_expires_on": forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        }

    field_order = FIELD_ORDER

    def __init__(self, *args, default_callback_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.certificate_credential = None
        self.default_callback_url = default_callback_url
        self.fields["url"].max_length = 2048
        # Forms posted before the Auth Scheme existed (and API clients) mean the version's default.
        self.fields["auth_scheme"].required = False
        self.fields["scope"].required = False
        self._require_by_scheme()
        self._secretless_fields()
        callback = self.fields["callback_url"]
        callback.max_length = 2048
        callback.initial = self.instance.callback_url or default_callback_url
        callback.widget.attrs["placeholder"] = default_callback_url
        callback.help_text = (
            "Register this exact address on the app registration: Authentication > Add a platform > Web > "
            "Redirect URIs. Leave it as shown unless this site is reached through another address."
        )
        if self.instance.has_client_secret:
            self.fields["client_secret"].help_text = SECRET_STORED_HELP
            self.fields["client_secret"].widget.attrs["placeholder"] = "•••••• stored"
        if self.instance.has_certificate:
            self.fields[
                "certificate"
            ].help_text = "A certificate is stored. Leave empty to keep it, or upload a new one to replace it."
        if self.instance.has_windows_password:
            self.fields["windows_password"].help_text = PASSWORD_STORED_HELP
            self.fields["windows_password"].widget.attrs["placeholder"] = "•••••• stored"

    @property
    def shows_callback_url(self) -> bool:
        return self["auth_scheme"].value() == AuthScheme.AZURE_AD

    def fields_html(self) -> SafeString:
        """The fields as the page shows them: jinja2/connections/connection_fields.html draws `helper`'s layout
        with crispy-bootstrap5's markup in a fraction of crispy-forms' time (docs/decisions/0002)."""
        return mark_safe(render_to_string("connections/connection_fields.html", {"form": self}, using="jinja2"))  # noqa: S308

    @cached_property
    def helper(self) -> FormHelper:
        """The layout, as crispy-forms would draw it: the reference connection_fields.html is checked against
        (built when asked for: the pages draw the fields with connection_fields.html)."""
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        # The script shows what the chosen CRM Version and Auth Scheme use (connection_form.js); the page
        # without it shows every field and the server ignores those that do not apply.
        helper.layout = Layout(
            "name",
            "client_id",
            Div("client_secret", "secret_expires_on", css_id="secret-fields"),
            "url",
            HTML(
                '<div id="url-warning" class="alert alert-warning small py-2" role="status" '
                'data-ntlm="{{ form.http_warnings.NTLM }}" data-adfs="{{ form.http_warnings.ADFS }}"'
                "{% if not form.url_warning %} hidden{% endif %}>{{ form.url_warning }}</div>"
            ),
            "crm_version",
            "azure_tenant",
            "auth_scheme",
            *self._callback_layout(),
            Div("windows_user", "windows_password", css_id="ntlm-fields"),
            Div("adfs_url", "adfs_resource", css_id="adfs-fields"),
            "azure_environment",
            "credential_type",
            Div("certificate", "certificate_password", css_id="certificate-fields"),
            HTML("{{ form.federated_html }}"),
            Div("managed_identity_type", "managed_identity_id", css_id="managed-identity-fields"),
            "scope",
            "creation_token",
        )
        return helper

    def _callback_layout(self) -> list:
        """The Callback URL, in the page only for AzureAD: kept in a <template> until the scheme is chosen,
        so that the form's labels stay unambiguous (“URL” is one field, not three)."""
        field = Div(
            FieldWithButtons(
                "callback_url",
                StrictButton("Copy", css_class="btn-outline-secondary", data_copy_target="#id_callback_url"),
            ),
            css_id="callback-fields",
        )
        if self.shows_callback_url:
            return [field]
        return [HTML('<template id="callback-template">'), field, HTML('</template><div id="callback-slot"></div>')]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise ValidationError(self.error_messages["control_characters"], code="control_characters")
        clash = Connection.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(self.error_messages["name_taken"], code="name_taken", params={"name": name})
        return name

    def clean_scope(self) -> str:
        return self.cleaned_data.get("scope") or self.instance.scope or Scope.PRIVATE

    def clean_callback_url(self) -> str:
        value = self.cleaned_data.get("callback_url", "").strip()
        if not value:
            return self.default_callback_url
        check_callback_url(value, self.default_callback_url)
        return value

    def clean(self):
        cleaned = super().clean()
        self._clean_url(cleaned)
        if cleaned.get("auth_scheme") != AuthScheme.AZURE_AD:
            cleaned["callback_url"] = ""
        if self.on_premises:
            self._clean_on_premises(cleaned)
        elif cleaned.get("credential_type") == CredentialType.CERTIFICATE:
            self._clean_certificate(cleaned)
        elif self.secretless_posted:
            self._clean_secretless(cleaned)
        elif not cleaned.get("client_secret") and not self.instance.has_client_secret:
            self.add_error("client_secret", ValidationError(self.error_messages["secret_required"], code="required"))
        return cleaned

    def _clean_url(self, cleaned: dict) -> None:
        if not cleaned.get("url") or not cleaned.get("crm_version"):
            return
        try:
            cleaned["url"] = checked(inputs.normalize_url, cleaned["url"], cleaned["crm_version"])
            if cleaned["crm_version"] == CrmVersion.CRM_ONLINE and cleaned.get("azure_environment"):
                checked(inputs.check_online_host, cleaned["url"], cleaned["azure_environment"])
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
            if "secret_expires_on" not in self.changed_data:  # the date typed for the secret it replaces
                connection.secret_expires_on = None
        if self.certificate_credential is not None:
            connection.set_certificate(self.certificate_credential)
        if self.cleaned_data.get("windows_password"):
            connection.set_windows_password(self.cleaned_data["windows_password"])
        connection.drop_unused_settings()
        if commit:
            connection.save()
        return connection
