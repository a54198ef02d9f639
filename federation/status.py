"""The signing keys as an administrator needs to see them (manage.py rotate_signing_key --status)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from federation import keyring, rotation
from federation.models import KeySource, KeyState, SigningKey, retirement_grace


@dataclass(frozen=True)
class KeyStatus:
    kid: str
    since: datetime | None  # current: signing since; next: published since; retired: retired since
    published_until: datetime | None = None  # retired keys only
    usable_from: datetime | None = None  # next key only: published long enough (FEDERATION_KEY_PUBLISH_AHEAD)


@dataclass(frozen=True)
class SigningStatus:
    source: str  # KeySource: "generated" (the database) or "settings" (FEDERATION_SIGNING_KEYS)
    current: KeyStatus | None
    next: KeyStatus | None
    retired: list[KeyStatus] = field(default_factory=list)
    next_rotation_due: datetime | None = None  # None: by hand only (FEDERATION_KEY_ROTATION_DAYS=0, or settings)
    also_published: list[str] = field(default_factory=list)  # settings: the files after the first
    note: str = ""

    def lines(self) -> list[str]:
        """Plain text, one fact a line."""
        out = [f"Source: {KeySource(self.source).label}"]
        if self.current:
            out.append(
                f"Current: {self.current.kid}"
                + (f", signing since {_at(self.current.since)}" if self.current.since else "")
            )
        if self.next:
            out.append(
                f"Next: {self.next.kid}, published since {_at(self.next.since)}, "
                f"may sign from {_at(self.next.usable_from)}"
            )
        for key in self.retired:
            until = f", published until {_at(key.published_until)}" if key.published_until else ", published"
            out.append(f"Retired: {key.kid}" + (f" since {_at(key.since)}" if key.since else "") + until)
        out += [f"Also published: {kid}" for kid in self.also_published]
        out.append(
            f"Next automatic rotation: {_at(self.next_rotation_due)}"
            if self.next_rotation_due
            else "Next automatic rotation: none"
        )
        return out + ([self.note] if self.note else [])


def _at(when: datetime | None) -> str:
    return f"{timezone.localtime(when):%Y-%m-%d %H:%M:%S %Z}" if when else "-"


def signing_status(now: datetime | None = None) -> SigningStatus:
    """Current, next and still-published retired keys, where they come from, and when the next rotation is due."""
    if keyring.uses_settings():
        return _settings_status()
    now = now or timezone.now()
    current, upcoming = rotation.key_pair(now)
    retired = SigningKey.objects.filter(state=KeyState.RETIRED, retired_at__gt=now - retirement_grace())
    due = rotation.rotation_due_at(current)
    return SigningStatus(
        source=KeySource.GENERATED,
        current=KeyStatus(current.kid, current.activated_at),
        next=KeyStatus(upcoming.kid, upcoming.created_at, usable_from=rotation.usable_from(upcoming)),
        retired=[KeyStatus(row.kid, row.retired_at, published_until=row.published_until) for row in retired],
        next_rotation_due=max(due, rotation.usable_from(upcoming)) if due else None,
    )


def _settings_status() -> SigningStatus:
    loaded = keyring.settings_keys(tuple(settings.FEDERATION_SIGNING_KEYS))
    return SigningStatus(
        source=KeySource.SETTINGS,
        current=KeyStatus(loaded[0][0].kid, None),
        next=None,
        also_published=[signer.kid for signer, _ in loaded[1:]],
        note=rotation.SETTINGS_ROTATION,
    )
