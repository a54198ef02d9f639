"""The audit trail: who did what to which connection or connector, and with what outcome. Append-only."""

from django.conf import settings
from django.db import models


class Action(models.TextChoices):
    CONNECTION_CREATED = "connection.created", "Created a connection"
    CONNECTION_EDITED = "connection.edited", "Edited a connection"
    CONNECTION_TESTED = "connection.tested", "Tested a connection"
    CONNECTION_DELETED = "connection.deleted", "Deleted a connection"
    CREDENTIAL_ADDED = "credential.added", "Added a new credential"
    CREDENTIAL_TESTED = "credential.tested", "Tested a new credential"
    CREDENTIAL_PROMOTED = "credential.promoted", "Promoted a new credential"
    CREDENTIAL_DISCARDED = "credential.discarded", "Discarded a credential"
    ACCESS_CHECKED = "connection.access_checked", "Checked a connection's access"
    DATA_PREVIEWED = "connection.previewed", "Previewed a table's rows"
    MICROSOFT_SIGNED_IN = "microsoft.signed_in", "Signed in to Microsoft"
    MICROSOFT_SIGNED_OUT = "microsoft.signed_out", "Signed out of Microsoft"
    SIGNING_KEY_CREATED = "signing_key.created", "Created an issuer signing key"
    SIGNING_KEY_ROTATED = "signing_key.rotated", "Rotated the issuer signing keys"
    TOKEN_CREATED = "token.created", "Created an API token"
    TOKEN_REVOKED = "token.revoked", "Revoked an API token"
    TRIAL_STARTED = "connector.trial_started", "Started a trial"
    SUBSCRIBED = "connector.subscribed", "Subscribed"
    UNSUBSCRIBED = "connector.unsubscribed", "Unsubscribed"


class AppendOnlyError(Exception):
    """Audit events are never changed or deleted."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The actor's name is kept as text too: the trail outlives the user account.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=40, choices=Action, db_index=True)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_name = models.CharField(max_length=200, blank=True, default="")
    outcome = models.CharField(max_length=40, blank=True, default="")
    detail = models.CharField(max_length=500, blank=True, default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        permissions = [("view_audit_trail", "Can see the audit trail")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.get_action_display()} {self.target_name}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")
