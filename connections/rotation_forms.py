"""The connection page's "Add a new secret" and "Add a new certificate" box: the connection form's rules for them."""

from django import forms
from django.core.exceptions import ValidationError

from connections.dynamics import certificates
from connections.fields import write_only_secret
from connections.forms import ConnectionForm
from connections.models import Connection

# Typed credentials: hidden from error reports by the view (sensitive_post_parameters).
SENSITIVE_FIELDS = ("client_secret", "certificate", "certificate_password")


class NewCredentialForm(forms.Form):
    error_messages = {
        "secret_required": "Enter the new Client Secret (the secret's Value, not its Secret ID).",
        "certificate_required": ConnectionForm.error_messages["certificate_required"],
    }

    client_secret = write_only_secret(
        "New Client Secret",
        "Add a new secret under Certificates & secrets > Client secrets on the app registration, then paste its "
        "Value here (not its Secret ID). The current secret keeps working until you promote this one.",
        strip=True,
    )
    certificate = forms.FileField(
        label="New certificate file",
        required=False,
        help_text="A PFX/P12 file with its password, or a PEM file with the private key and the certificate. "
        "Upload its .cer under Certificates & secrets on the app registration first.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pfx,.p12,.pem,.crt,.key"}),
    )
    certificate_password = write_only_secret(
        "Certificate Password",
        "The PFX password, or the PEM private key's password if it is encrypted.",
        strip=False,
        autocomplete="off",
    )

    def __init__(self, *args, connection: Connection, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection = connection
        self.credential = None  # the typed secret, or the parsed CertificateCredential, once valid
        unused = ("client_secret",) if connection.uses_certificate else ("certificate", "certificate_password")
        for name in unused:
            del self.fields[name]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control form-control-sm"

    def clean(self):
        cleaned = super().clean()
        if self.connection.uses_certificate:
            self._clean_certificate(cleaned)
        elif cleaned.get("client_secret"):
            self.credential = cleaned["client_secret"]
        elif "client_secret" not in self.errors:
            self.add_error("client_secret", ValidationError(self.error_messages["secret_required"], code="required"))
        return cleaned

    def _clean_certificate(self, cleaned: dict) -> None:
        upload = cleaned.get("certificate")
        if not upload:
            error = ValidationError(self.error_messages["certificate_required"], code="required")
            self.add_error("certificate", error)
            return
        try:
            data = upload.read(certificates.MAX_CERTIFICATE_BYTES + 1)
            self.credential = certificates.parse_upload(data, cleaned.get("certificate_password", ""))
        except certificates.CertificateError as error:
            self.add_error("certificate", ValidationError(str(error), code="invalid_certificate"))
