"""A TEST's outcome, recorded on its saved connection in one locked UPDATE: Last TEST, the health state, Dataverse's
budget (and the schedule it puts back), and the app credential's expiry as Microsoft Graph gave it.

`Connection.record_test` is the one entry point. The row's own state is read under its lock (SQLite: the
IMMEDIATE transaction holds the write lock), so two TESTs that end at once move it one after the other and only one
of them sees a change of state, which is announced once the transaction commits.
"""

from django.conf import settings
from django.db import transaction

from connections import alerts, service_protection
from connections.choices import TestStatus
from connections.health import Change, after_test

# A TEST's reading of the credential's expiry is stored only if the credential it TESTed is still the saved one.
CREDENTIAL_COLUMNS = ("client_secret_encrypted", "certificate_sha1")


def record(connection, result) -> Change | None:
    """Write `result` (a connections.dynamics.check.CheckResult) to `connection`'s row and to the object; None when
    the row was deleted meanwhile."""
    with transaction.atomic():
        rows = type(connection).objects.select_for_update().filter(pk=connection.pk)
        before = rows.values_list("health", "failures_in_a_row", "next_test_at", *CREDENTIAL_COLUMNS).first()
        if before is None:
            return None  # deleted meanwhile
        change = after_test(*before[:2], ok=result.ok, down_after=settings.HEALTH_DOWN_AFTER)
        written = _last_test(result) | {"health": change.health, "failures_in_a_row": change.failures_in_a_row}
        written |= _schedule_after(result, scheduled=before[2])
        if result.credential_expiry and before[3:] == tuple(getattr(connection, name) for name in CREDENTIAL_COLUMNS):
            written |= _expiry_reading(result.credential_expiry)  # of the credential that is still saved
        rows.update(**written)
    for name, value in written.items():
        setattr(connection, name, value)
    if hasattr(connection, "_loaded_values"):  # a later save() of this object writes only what changes after this
        connection._loaded_values.update(written)
    if change.changed:
        transaction.on_commit(lambda: alerts.health_changed(connection, change, result))
    return change


def _last_test(result) -> dict:
    """The Last TEST columns after `result`."""
    return {
        "last_test_status": TestStatus.AVAILABLE if result.ok else TestStatus.UNAVAILABLE,
        "last_tested_at": result.finished_at,
        "last_test_message": result.summary,
        "last_test_steps": result.steps_as_data(),
    }


def _schedule_after(result, scheduled) -> dict:
    """The budget the TEST saw, kept for the page, and the next scheduled TEST put back if Dataverse asks."""
    if not result.service_protection:
        return {}  # it never reached Dataverse's Web API: the last reading stands
    seen = result.service_protection | {"seen_at": result.finished_at.isoformat()}
    written = {"service_protection": seen}
    wait = service_protection.wait_until(seen, result.finished_at, settings.SERVICE_PROTECTION_RESERVE)
    if wait is not None and (scheduled is None or scheduled < wait):
        written["next_test_at"] = wait
    return written


def _expiry_reading(reading) -> dict:
    """The columns of a connections.dynamics.credential_expiry.ExpiryReading. Graph's refusal is kept as a reading
    without a date: credentials.known_expiry remembers it for an hour (the typed date, if any, shows meanwhile)."""
    return {
        "credential_expires_at": reading.expires_at,
        "credential_expiry_read_at": reading.read_at,
        "credential_expiry_of": reading.credential[:64],
    }
