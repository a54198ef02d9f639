"""A TEST in the background: queued by a page, run by a worker, read back by the page that started it.

The row is the TEST's whole state. A TEST of unsaved form data carries the typed credential encrypted with the
field encryption key (`payload_encrypted`), deleted the moment the TEST ends; the result holds no secret.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# A worker that dies mid-TEST leaves its row "running": past its deadline and this grace it is reported failed.
STALE_GRACE = timedelta(seconds=10)


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"


class RunSource(models.TextChoices):
    FORM = "form", "Connection form"
    LIST = "list", "Connections list"
    PAGE = "page", "Connection page"
    ADMIN = "admin", "Django admin"
    COMMAND = "command", "Command line"
    SCHEDULE = "schedule", "Schedule"  # connections/schedule.py
    NEW_CREDENTIAL = "new_credential", "New credential"  # a TEST of a credential not yet current (rotation)
    API = "api", "REST API"  # api/: POST /api/v1/connections/{id}/tests/


# TESTs of a credential or of values that are not the connection's own: they never move its Last TEST or state.
NOT_OF_SAVED_SETTINGS = (RunSource.FORM, RunSource.NEW_CREDENTIAL)


class Deadlined:
    """Work for the worker (a TestRun, an AccessCheck): queued, running or finished, within a deadline."""

    state: str
    deadline: "timezone.datetime"

    @property
    def finished(self) -> bool:
        return self.state == RunState.FINISHED

    def is_stale(self, now=None) -> bool:
        """Still queued or running long after its deadline: its worker stopped, or none took it."""
        now = now or timezone.now()
        return not self.finished and now > self.deadline + STALE_GRACE


class TestRunQuerySet(models.QuerySet):
    def started_by(self, user):
        return self.filter(started_by=user)

    def of_saved_settings(self):
        """TESTs of what the connection holds: not the Edit form's TESTs of values typed there (saved or not), nor
        TESTs of a new credential not yet current, but the New connection form's TEST that CREATE adopted (the one
        kind of form TEST with a fingerprint)."""
        return self.exclude(source=RunSource.FORM, fingerprint="").exclude(source=RunSource.NEW_CREDENTIAL)

    def queued_before(self, run: "TestRun") -> int:
        """How many TESTs wait ahead of `run` (any user's: they share the workers)."""
        return self.filter(state=RunState.QUEUED, created_at__lt=run.created_at).count()


class TestRun(Deadlined, models.Model):
    __test__ = False  # not a pytest test class, whatever its name says

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A saved connection's TEST, or the connection being edited; none for the New connection form.
    # Deleting the connection deletes its runs: a queued TEST of it is dropped by the worker.
    connection = models.ForeignKey("connections.Connection", null=True, blank=True, on_delete=models.CASCADE)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE)
    source = models.CharField(max_length=16, choices=RunSource)
    state = models.CharField(max_length=16, choices=RunState, default=RunState.QUEUED)
    # The form's values (JSON) with the typed credential, Fernet ciphertext; blank once the TEST ends.
    payload_encrypted = models.TextField(blank=True, default="", editable=False)
    # The form's values without any secret, to show the form again (no-JS) once the result is there.
    form_values = models.JSONField(default=dict, blank=True)
    # What may not be TESTed twice at once: "connection:<pk>", or "form:<user>" for the New connection form.
    lock_key = models.CharField(max_length=100)
    # A New connection form's TEST: a keyed hash (HMAC) of the values it TESTed, secret included, never the secret
    # itself; CREATE with the same values adopts the TEST as the new connection's first (connections/history.py).
    fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)
    # A scheduled TEST holds one of SCHEDULED_TEST_CONCURRENCY slots while queued or running (the constraint below):
    # the database bounds how many run at once, whichever worker starts them.
    slot = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    crm_version = models.CharField(max_length=16)
    auth_scheme = models.CharField(max_length=32)
    steps = models.JSONField(default=list, blank=True)
    result = models.JSONField(null=True, blank=True)  # ok, step, code, message, hint, details, elapsed
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    deadline = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TestRunQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["state", "created_at"], name="testrun_queue"),
            # The connection page's history: this connection's TESTs, newest first.
            models.Index(fields=["connection", "-created_at"], name="testrun_history"),
        ]
        constraints = [
            # One queued or running TEST per connection (and per user's New connection form), across every worker.
            models.UniqueConstraint(
                fields=["lock_key"],
                condition=models.Q(state__in=[RunState.QUEUED, RunState.RUNNING]),
                name="testrun_one_active_per_target",
            ),
            models.UniqueConstraint(
                fields=["slot"],
                condition=models.Q(state__in=[RunState.QUEUED, RunState.RUNNING], slot__isnull=False),
                name="testrun_one_active_per_schedule_slot",
            ),
        ]

    def __str__(self) -> str:
        return f"TEST {self.pk} ({self.get_state_display()})"
