"""Tell a connection's owner and the organization administrators that it is Up or Down (connections/health.py).

Called once per change of state, after the TEST's transaction commits: an in-app notification and one email each,
through marketplace.notify. The texts name the connection, the step that failed and the TEST's hint; the result
holds no secret, and nothing else of the connection is put in them.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.text import Truncator

from connections.health import DOWN, UNKNOWN
from marketplace import notify

TEXT_LENGTH = 500  # marketplace.models.Notification.text


def health_changed(connection, change, result) -> notify.Delivery:
    """Announce `change` (a connections.health.Change) that `result` (a CheckResult) made to `connection`."""
    link = connection.get_absolute_url()
    headline = _headline(connection.name, change, result)
    return notify.send(
        recipients(connection),
        text=Truncator(headline).chars(TEXT_LENGTH),
        link=link,
        subject=f"Connection {connection.name} is {'down' if change.health == DOWN else 'up'}",
        email_template="connections/email/health_changed.txt",
        context={
            "connection": connection,
            "headline": headline,
            "down": change.health == DOWN,
            "message": result.message,
            "url": notify.site_root() + link,
        },
    )


def recipients(connection):
    """The connection's owner, if active, and the organization administrators, each once."""
    owner = Q(pk=connection.owner_id, is_active=True)
    return get_user_model().objects.filter(owner | Q(pk__in=notify.administrators().values("pk"))).order_by("pk")


def failing_step(result) -> str:
    """The label of the step that failed (its key if the steps do not name it)."""
    return next((step.label for step in result.steps if step.key == result.step), result.step)


def _headline(name: str, change, result) -> str:
    if change.health != DOWN:
        return f"{name} is up{'' if change.before == UNKNOWN else ' again'}: its TEST passed."
    failures = change.failures_in_a_row
    times = "its TEST failed" if failures == 1 else f"{failures} TESTs in a row failed"
    return f"{name} is down: {times} at “{failing_step(result)}”. What to fix: {result.hint or 'see its last TEST.'}"
