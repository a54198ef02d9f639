"""When a connection's app credential expires, and how loudly to say so. Pure: the callers pass the clock.

The effective expiry: a certificate's notAfter; a client secret's end as Microsoft Graph said in a TEST, else the
date an admin typed from the portal (Secret expires). Levels grow as the day comes near: 30 days, 7 days,
1 day, expired; the list, the connection page, the admin and the daily digest all use these.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from connections.choices import SECRETLESS_CREDENTIALS, CredentialType, CrmVersion
from connections.dynamics.credential_expiry import WARN_DAYS

FINE, MONTH, WEEK, DAY, EXPIRED = 0, 1, 2, 3, 4
# The level a credential is at when this many days or fewer are left (checked nearest first).
LEVEL_DAYS = ((DAY, 1), (WEEK, 7), (MONTH, WARN_DAYS))
LEVEL_NAMES = {FINE: "fine", MONTH: "30 days", WEEK: "7 days", DAY: "1 day", EXPIRED: "expired"}
CERTIFICATE, GRAPH, TYPED = "certificate", "Microsoft Graph", "typed"
# The columns effective() reads, for a query of plain values (the Connections list).
COLUMNS = (
    "crm_version",
    "credential_type",
    "certificate_not_after",
    "credential_expires_at",
    "credential_expiry_of",
    "secret_expires_on",
)


@dataclass(frozen=True)
class Expiry:
    expires_at: datetime
    source: str  # CERTIFICATE, GRAPH or TYPED

    def level(self, now: datetime) -> int:
        return level(self.expires_at, now)

    def days_left(self, now: datetime) -> int:
        return days_left(self.expires_at, now)

    def badge(self, now: datetime) -> str:
        return badge(self.expires_at, now)


def effective(values: Mapping) -> Expiry | None:
    """The expiry of a CRMOnline connection's app credential, from its row's COLUMNS; None when none is known."""
    if values["crm_version"] != CrmVersion.CRM_ONLINE:
        return None
    if values["credential_type"] == CredentialType.CERTIFICATE:
        ends = values["certificate_not_after"]
        return Expiry(ends, CERTIFICATE) if ends else None
    if values["credential_expires_at"] and values["credential_expiry_of"].startswith("secret:"):
        return Expiry(values["credential_expires_at"], GRAPH)
    typed = values["secret_expires_on"]
    return Expiry(start_of(typed), TYPED) if typed else None


def of_connection(connection) -> Expiry | None:
    """effective() of a Connection instance."""
    return effective({name: getattr(connection, name) for name in COLUMNS})


def start_of(day: date) -> datetime:
    """A typed date: the portal's Expires column shows the day, so the secret counts as expired from its start (UTC)."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def level(expires_at: datetime, now: datetime) -> int:
    """EXPIRED, DAY, WEEK, MONTH or FINE."""
    left = expires_at - now
    if left <= timedelta(0):
        return EXPIRED
    return next((named for named, days in LEVEL_DAYS if left <= timedelta(days=days)), FINE)


def days_left(expires_at: datetime, now: datetime) -> int:
    """Calendar days left in the site's time zone, as an admin counts them from the date shown (ending on the 6th
    seen on the 1st: 5 days; later today: 0); 0 once expired."""
    if expires_at <= now:
        return 0
    return (timezone.localtime(expires_at).date() - timezone.localtime(now).date()).days


def badge(expires_at: datetime, now: datetime) -> str:
    """The warning shown beside the connection: "Expired", "Expires in 5 days"; "" when it is further off."""
    found = level(expires_at, now)
    if found == FINE:
        return ""
    if found == EXPIRED:
        return "Expired"
    return f"Expires {when(expires_at, now)}"


def when(expires_at: datetime, now: datetime) -> str:
    """ "today", "tomorrow" or "in 5 days" (calendar days, as days_left counts them)."""
    left = days_left(expires_at, now)
    return {0: "today", 1: "tomorrow"}.get(left, f"in {left} days")


@dataclass(frozen=True)
class Shown:
    """What the connection page and the admin show: the date, where it comes from, and the warning."""

    expiry: Expiry | None
    level: int
    badge: str
    source: str
    warning: str = ""  # the last TEST's Credential expiry warning (e.g. Graph refused to list the credentials)

    @property
    def expired(self) -> bool:
        return self.level == EXPIRED


def shown(connection, now: datetime) -> Shown | None:
    """The connection's credential expiry as shown beside it; None for a connection without an app credential, or
    with one that never expires (Federated, Managed identity)."""
    if connection.crm_version != CrmVersion.CRM_ONLINE or connection.credential_type in SECRETLESS_CREDENTIALS:
        return None
    found = of_connection(connection)
    steps = connection.last_test_steps or []
    warning = next(
        (step["detail"] for step in steps if step.get("key") == "expiry" and step["status"] == "warning"), ""
    )
    if found is None:
        return Shown(None, FINE, "", "", warning)
    if found.source == GRAPH and connection.credential_expiry_read_at:
        source = f"read from Microsoft Graph on {connection.credential_expiry_read_at:%Y-%m-%d}"
    else:
        source = {CERTIFICATE: "the certificate's own end date", GRAPH: "read from Microsoft Graph"}.get(
            found.source, "typed from the portal (Secret expires)"
        )
    return Shown(found, found.level(now), found.badge(now), source, warning)
