"""The daily email of credentials that expire soon: to each owner their connections, to each administrator all.

It goes out on a day when at least one connection has crossed into a nearer level (30, 7, 1 days, expired:
connections/expiry.py) since it was last warned. Each connection's last warned level is claimed with an atomic
UPDATE under the rows' locks, so two workers running the task at once never both send it.
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from connections import expiry
from connections.dynamics.credential_expiry import RENEW_HINT
from connections.models import Connection, CrmVersion
from marketplace import notify

logger = logging.getLogger(__name__)
SUBJECT = "Connection credentials that expire soon"


@dataclass(frozen=True)
class Entry:
    connection: Connection
    expires_at: datetime
    level: int
    days_left: int
    url: str
    when: str = ""  # "today", "tomorrow", "in 5 days"

    @property
    def expired(self) -> bool:
        return self.level == expiry.EXPIRED


def send_digest(now: datetime | None = None) -> int:
    """Send the digest if a connection crossed into a new level since its last warning; the emails sent."""
    now = now or timezone.now()
    entries = warned_of(now)
    claimed = claim(entries)
    if not claimed:
        return 0
    sent = _send(entries)
    if not sent:  # the mail server refused: tomorrow's run tries again
        for pk, (before, level) in claimed.items():
            Connection.objects.filter(pk=pk, expiry_warned_level=level).update(expiry_warned_level=before)
    return sent


def warned_of(now: datetime) -> list[Entry]:
    """The CRMOnline connections whose credential expires within 30 days or has expired, soonest first."""
    soon = now + timedelta(days=expiry.WARN_DAYS)
    near = (
        Q(certificate_not_after__lte=soon) | Q(credential_expires_at__lte=soon) | Q(secret_expires_on__lte=soon.date())
    )
    candidates = Connection.objects.with_owner().filter(near | Q(expiry_warned_level__gt=expiry.FINE))
    entries, root = [], notify.site_root()
    for connection in candidates.filter(crm_version=CrmVersion.CRM_ONLINE).order_by("pk"):
        found = expiry.of_connection(connection)
        level = found.level(now) if found else expiry.FINE
        if level < connection.expiry_warned_level:  # renewed, or a later date typed: warn again as it nears
            Connection.objects.filter(pk=connection.pk).update(expiry_warned_level=level)
            connection.expiry_warned_level = level
        if found and level != expiry.FINE:
            url = root + connection.get_absolute_url()
            entries.append(
                Entry(
                    connection, found.expires_at, level, found.days_left(now), url, expiry.when(found.expires_at, now)
                )
            )
    return sorted(entries, key=lambda entry: (entry.expires_at, entry.connection.pk))


def claim(entries: list[Entry]) -> dict[int, tuple[int, int]]:
    """Move each connection that crossed into a nearer level up to it; those this call moved, with their level
    before and after (none when another worker claimed them first)."""
    crossed = {e.connection.pk: (e.connection.expiry_warned_level, e.level) for e in entries}
    crossed = {pk: levels for pk, levels in crossed.items() if levels[1] > levels[0]}
    claimed = {}
    if not crossed:
        return claimed
    with transaction.atomic():
        # Locked in one order first (SQLite: the IMMEDIATE transaction holds the write lock): a second worker waits,
        # then finds the levels claimed and sends nothing.
        list(Connection.objects.select_for_update().filter(pk__in=crossed).order_by("pk").values_list("pk"))
        for pk, (before, level) in crossed.items():
            if Connection.objects.filter(pk=pk, expiry_warned_level__lt=level).update(expiry_warned_level=level):
                claimed[pk] = (before, level)
    return claimed


def _send(entries: list[Entry]) -> int:
    messages = []
    administrators = list(notify.administrators())
    for user in administrators:
        messages.append(_message(user, entries))
    admin_pks = {user.pk for user in administrators}
    owners = {entry.connection.owner for entry in entries if entry.connection.owner.is_active}
    for owner in sorted(owners, key=lambda user: user.pk):
        if owner.pk not in admin_pks:
            messages.append(_message(owner, [e for e in entries if e.connection.owner_id == owner.pk]))
    messages = [message for message in messages if message.to]
    try:
        return mailers.default.send_messages(messages) or 0
    except (smtplib.SMTPException, OSError):
        logger.exception("Could not send %d credential expiry digest(s)", len(messages))
        return 0


def _message(user, entries: list[Entry]) -> EmailMultiAlternatives:
    context = {"recipient": user, "entries": entries, "renew": RENEW_HINT}
    text = render_to_string("connections/email/expiry_digest.txt", context)
    message = EmailMultiAlternatives(SUBJECT, text, None, [user.email] if user.email else [])
    message.attach_alternative(render_to_string("connections/email/expiry_digest.html", context), "text/html")
    return message
