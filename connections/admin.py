"""Django admin for connections: the same columns as the list; secrets are write-only."""

from django import forms
from django.contrib import admin, messages
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from audit import trail
from audit.models import Action
from connections import services
from connections.dynamics import inputs
from connections.fields import write_only_secret
from connections.models import ONLINE_SCHEMES, AuthScheme, Connection, CrmVersion
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM


class ConnectionAdminForm(forms.ModelForm):
    client_secret = write_only_secret(
        "Client Secret",
        "Write-only. Leave empty to keep the stored secret; type a new one to replace it.",
        strip=True,
    )
    windows_password = write_only_secret(
        "Password", "NTLM only. Write-only: leave empty to keep the stored password.", strip=False
    )

    class Meta:
        model = Connection
        fields = [
            "name",
            "client_id",
            "url",
            "crm_version",
            "azure_tenant",
            "auth_scheme",
            "azure_environment",
            "credential_type",
            "windows_user",
            "adfs_url",
            "adfs_resource",
            "scope",
            "owner",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Posts that leave them out keep what the connection has (or the defaults), as the main form does.
        self.fields["auth_scheme"].required = False
        self.fields["scope"].required = False

    def clean_auth_scheme(self):
        return self.cleaned_data.get("auth_scheme") or self.instance.auth_scheme or AuthScheme.SERVICE_PRINCIPAL

    def clean_scope(self):
        return self.cleaned_data.get("scope") or self.instance.scope

    def clean_client_id(self):
        value = self.cleaned_data.get("client_id", "")
        return inputs.normalize_guid(value, field="Client ID") if value else ""

    def clean_azure_tenant(self):
        value = self.cleaned_data.get("azure_tenant", "")
        return inputs.normalize_tenant(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        online = cleaned.get("crm_version") == CrmVersion.CRM_ONLINE
        if cleaned.get("url") and cleaned.get("crm_version"):
            try:
                cleaned["url"] = inputs.normalize_url(cleaned["url"], cleaned["crm_version"])
            except forms.ValidationError as error:
                self.add_error("url", error)
        scheme = cleaned.get("auth_scheme")
        if scheme and (scheme in ONLINE_SCHEMES) != online:
            self.add_error("auth_scheme", f"{scheme} does not apply to CRM Version {cleaned.get('crm_version')}.")
        if online:
            for field, label in (("client_id", "Client ID"), ("azure_tenant", "AzureTenant")):
                if not cleaned.get(field) and field not in self.errors:
                    self.add_error(field, f"Enter the {label}: CRMOnline connections need it.")
        needs_secret = online or scheme == AuthScheme.ADFS
        if (
            needs_secret
            and cleaned.get("credential_type") == "secret"
            and not cleaned.get("client_secret")
            and not self.instance.has_client_secret
        ):
            self.add_error("client_secret", "Enter the Client Secret (the secret's Value, not its Secret ID).")
        return cleaned

    def save(self, commit=True):
        connection = super().save(commit=False)
        if self.cleaned_data.get("client_secret"):
            connection.set_client_secret(self.cleaned_data["client_secret"])
        if self.cleaned_data.get("windows_password"):
            connection.set_windows_password(self.cleaned_data["windows_password"])
        if commit:
            connection.save()
        return connection


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionAdminForm
    list_display = ["name", "crm_version", "url_host", "azure_tenant", "owner", "last_test_status", "last_tested_at"]
    list_filter = ["crm_version", "azure_environment", "credential_type", "last_test_status"]
    search_fields = ["name", "url", "azure_tenant", "client_id", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = [
        "secret_state",
        "certificate_subject",
        "certificate_sha1",
        "certificate_sha256",
        "certificate_not_after",
        "last_test_status",
        "last_tested_at",
        "last_test_message",
        "created_at",
        "updated_at",
    ]
    actions = ["test_selected"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "client_id",
                    "client_secret",
                    "url",
                    "crm_version",
                    "azure_tenant",
                    "auth_scheme",
                    "azure_environment",
                    "credential_type",
                    "windows_user",
                    "windows_password",
                    "adfs_url",
                    "adfs_resource",
                    "scope",
                    "owner",
                ]
            },
        ),
        (
            "Stored credential",
            {
                "fields": [
                    "secret_state",
                    "certificate_subject",
                    "certificate_sha1",
                    "certificate_sha256",
                    "certificate_not_after",
                ]
            },
        ),
        ("Last TEST", {"fields": ["last_test_status", "last_tested_at", "last_test_message"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="URL host")
    def url_host(self, obj: Connection) -> str:
        return obj.url_host

    @admin.display(description="Stored secret")
    def secret_state(self, obj: Connection) -> str:
        return "A client secret is stored (encrypted)." if obj.has_client_secret else "No client secret stored."

    @method_decorator(sensitive_post_parameters("client_secret", "windows_password"))
    def changeform_view(self, request, *args, **kwargs):
        return super().changeform_view(request, *args, **kwargs)

    def get_changeform_initial_data(self, request):
        return {"owner": request.user.pk}

    @admin.action(description="TEST selected connections")
    def test_selected(self, request, queryset):
        refusal = gate.check(DYNAMICS_CRM)
        if refusal is not None:
            self.message_user(request, refusal.html, messages.ERROR)
            return
        for connection in queryset:
            result = services.test_saved(connection)
            trail.record(request.user, Action.CONNECTION_TESTED, connection, outcome=result.code or "available")
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{connection.name}: {result.summary}", level)
