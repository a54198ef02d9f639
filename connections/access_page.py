"""The connection page's Check access card: the latest result, in the shape the template reads."""

from connections.access_checks import AccessCheck
from connections.access_forms import AccessCheckForm
from connections.models import Connection, TestStatus
from connections.runs import RunState

# The full list of public tables is long (500+): it is shown folded, readable ones first.
READABLE_FIRST = {True: 0, None: 1, False: 2}


def context(connection: Connection, form: AccessCheckForm | None = None, running: AccessCheck | None = None) -> dict:
    """What _access.html needs: may it start, the form, a running check, and the latest result."""
    latest = AccessCheck.objects.latest_finished(connection)
    if running is None:
        active = AccessCheck.objects.filter(connection=connection, state__in=[RunState.QUEUED, RunState.RUNNING])
        running = active.first()
    return {
        "access_ready": connection.last_test_status == TestStatus.AVAILABLE,
        # The tables named last time are offered again.
        "access_form": form or AccessCheckForm(initial={"tables": ", ".join(latest.named_tables) if latest else ""}),
        "access_running": running,
        "access": summary(latest) if latest else None,
    }


def summary(check: AccessCheck) -> dict:
    result = check.result or {}
    tables = result.get("tables") or []
    return {
        "check": check,
        "result": result,
        "reads": result.get("reads") or [],
        "tables": sorted(tables, key=lambda t: (READABLE_FIRST[t.get("readable")], t.get("logical_name", ""))),
        "readable": sum(1 for table in tables if table.get("readable")),
        "not_readable": sum(1 for table in tables if table.get("readable") is False),
        "listed": len(tables),
    }
