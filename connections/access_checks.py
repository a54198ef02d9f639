"""Check access in the background: one row per check, kept with the connection (its latest result is shown on its
page). The row holds the outcome and the tables found, never a row of data nor a token."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from connections.runs import Deadlined, RunState


class AccessCheckQuerySet(models.QuerySet):
    def latest_finished(self, connection):
        return self.filter(connection=connection, state=RunState.FINISHED).order_by("-finished_at").first()


class AccessCheck(Deadlined, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="access_checks")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    state = models.CharField(max_length=16, choices=RunState, default=RunState.QUEUED)
    # "access:<connection pk>": one queued or running check per connection (the constraint below).
    lock_key = models.CharField(max_length=100)
    named_tables = models.JSONField(default=list, blank=True)  # the extra tables the admin named
    steps = models.JSONField(default=list, blank=True)
    result = models.JSONField(null=True, blank=True)  # AccessResult.as_data(): outcome, principal, tables
    created_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = AccessCheckQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["connection", "-finished_at"], name="accesscheck_latest")]
        constraints = [
            models.UniqueConstraint(
                fields=["lock_key"],
                condition=models.Q(state__in=[RunState.QUEUED, RunState.RUNNING]),
                name="accesscheck_one_active_per_connection",
            ),
        ]

    def __str__(self) -> str:
        return f"Check access {self.pk} ({self.get_state_display()})"

    @classmethod
    def new(cls, connection, actor, named: list[str], steps) -> "AccessCheck":
        now = timezone.now()
        return cls(
            connection=connection,
            started_by=actor,
            lock_key=f"access:{connection.pk}",
            named_tables=named,
            steps=[
                {"key": key, "label": label, "status": "skipped", "elapsed": 0.0, "detail": ""} for key, label in steps
            ],
            created_at=now,
            deadline=now + timedelta(seconds=settings.TEST_TOTAL_TIMEOUT),
        )
