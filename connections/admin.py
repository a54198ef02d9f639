"""Django admin for connections: the same columns as the list; secrets are write-only."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from connections import background, expiry, history, secretless, throttle
from connections.credential_slots import CredentialSlot, SlotRole
from connections.forms import FIELD_ORDER, SENSITIVE_FIELDS, ConnectionForm
from connections.models import Connection
from connections.runs import RunSource
from marketplace import gate


class ConnectionAdminForm(ConnectionForm):
    """The connection form's rules, fields and normalisation, plus the owner an administrator may change."""

    default_renderer = None  # the admin's widgets have Django templates only

    class Meta(ConnectionForm.Meta):
        fields = [*ConnectionForm.Meta.fields, "owner"]


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionAdminForm
    list_display = [
        "name",
        "crm_version",
        "url_host",
        "azure_tenant",
        "owner",
        "health",
        "credential_expiry",
        "last_test_status",
        "last_tested_at",
    ]
    list_filter = ["crm_version", "azure_environment", "credential_type", "health", "last_test_status"]
    search_fields = ["name", "url", "azure_tenant", "client_id", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = [
        "secret_state",
        "federated_values",
        "rotation_state",
        "certificate_subject",
        "certificate_sha1",
        "certificate_sha256",
        "certificate_not_after",
        "credential_expiry",
        "last_test_status",
        "last_tested_at",
        "last_test_message",
        "health",
        "failures_in_a_row",
        "created_at",
        "updated_at",
    ]
    actions = ["test_selected"]
    fieldsets = [
        (
            None,
            {"fields": [*FIELD_ORDER, "owner"]},
        ),
        (
            "Stored credential",
            {
                "fields": [
                    "secret_state",
                    "federated_values",
                    "rotation_state",
                    "certificate_subject",
                    "certificate_sha1",
                    "certificate_sha256",
                    "certificate_not_after",
                    "credential_expiry",
                ]
            },
        ),
        (
            "Last TEST",
            {"fields": ["health", "failures_in_a_row", "last_test_status", "last_tested_at", "last_test_message"]},
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="URL host")
    def url_host(self, obj: Connection) -> str:
        return obj.url_host

    @admin.display(description="Credential expires")
    def credential_expiry(self, obj: Connection) -> str:
        """The date, the warning and where the date comes from (connections/expiry.py), as on the connection page."""
        found = expiry.shown(obj, timezone.now())
        if found is None:
            return "-"
        if found.expiry is None:
            return "Unknown"
        badge = f" ({found.badge})" if found.badge else ""
        return f"{found.expiry.expires_at:%Y-%m-%d}{badge}, {found.source}"

    @admin.display(description="Stored secret")
    def secret_state(self, obj: Connection) -> str:
        if obj.is_secretless:
            return f"Nothing secret is stored: {obj.get_credential_type_display()}."
        return "A client secret is stored (encrypted)." if obj.has_client_secret else "No client secret stored."

    @admin.display(description="Federated credential")
    def federated_values(self, obj: Connection) -> str:
        """What the app registration's federated credential must hold (Other issuer), as the connection page shows."""
        if not (obj.uses_federated and obj.federated_subject):
            return "-"
        values = secretless.federated_values(obj, obj.federated_subject)
        return f"Issuer {values.issuer}; Subject identifier {values.subject}; Audience {values.audience}"

    @admin.display(description="Rotation")
    def rotation_state(self, obj: Connection) -> str:
        """The new and previous credentials beside the current one (facts only): the connection page adds, TESTs,
        promotes and discards them (connections/rotation.py), where each step is audited."""
        slots = CredentialSlot.objects.filter(connection=obj).select_related("test_run").order_by("role")
        facts = [_slot_facts(slot) for slot in slots] if obj.pk else []
        return "; ".join(facts) or "No new or previous credential."

    @method_decorator(sensitive_post_parameters(*SENSITIVE_FIELDS))
    def changeform_view(self, request, *args, **kwargs):
        return super().changeform_view(request, *args, **kwargs)

    def get_changeform_initial_data(self, request):
        return {"owner": request.user.pk}

    @admin.action(description="TEST selected connections")
    def test_selected(self, request, queryset):
        """Queue a TEST of each selected connection; each result shows in the list once its TEST ends."""
        queued = []
        for connection in queryset:
            try:
                run = background.start_saved(connection, request.user, RunSource.ADMIN)
            except gate.ConnectorUnavailableError as unavailable:
                self.message_user(request, unavailable.refusal.html, messages.ERROR)
                return
            except (throttle.TestRefusedError, background.QueueUnavailableError) as refused:
                self.message_user(request, f"{connection.name}: {refused}", messages.WARNING)
                continue
            result = history.result_of(run)
            if result is None:
                queued.append(connection.name)
            else:
                level = messages.SUCCESS if result.ok else messages.ERROR
                self.message_user(request, f"{connection.name}: {result.summary}", level)
        if queued:
            names = ", ".join(queued)
            self.message_user(request, f"TEST queued for {names}: the Last TEST column shows each result when it ends.")


def _slot_facts(slot: CredentialSlot) -> str:
    what = f"{slot.get_role_display()} {slot.label}"
    if slot.is_certificate:
        what += f" {slot.certificate_subject} ({slot.certificate_sha1})"
    if slot.role == SlotRole.PREVIOUS:
        return f"{what}, replaced {slot.replaced_at:%Y-%m-%d %H:%M}"
    tested = "passed" if slot.passed else ("failed" if slot.last_test else "none yet")
    return f"{what}, added {slot.added_at:%Y-%m-%d %H:%M}, last TEST: {tested}"
