"""Rotating the database's signing keys: the next key (published FEDERATION_KEY_PUBLISH_AHEAD seconds at least)
becomes current, the current one retires (still published until its last assertion has expired), a new next key
is published. Safe when several workers or commands rotate at once: conditional UPDATEs, one transaction."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import trail
from audit.models import Action
from federation import keyring
from federation.models import KeyState, SigningKey, retirement_grace

logger = logging.getLogger(__name__)
SETTINGS_ROTATION = (
    "The signing keys come from FEDERATION_SIGNING_KEYS: rotate them by changing that setting (add the new file "
    "second and restart; once it has been published for FEDERATION_KEY_PUBLISH_AHEAD seconds, put it first; remove "
    "the old file once its last assertion has expired)."
)


class RotationRefusedError(Exception):
    """This rotation would sign with a key verifiers may not have fetched yet, or keys come from the settings."""


@dataclass(frozen=True)
class Rotation:
    current: SigningKey
    retired: SigningKey
    next: SigningKey


def publish_ahead() -> timedelta:
    return timedelta(seconds=settings.FEDERATION_KEY_PUBLISH_AHEAD)


def usable_from(upcoming: SigningKey) -> datetime:
    """When a next key has been published long enough for verifiers that cache our keys to know it."""
    return upcoming.created_at + publish_ahead()


def rotation_due_at(current: SigningKey) -> datetime | None:
    """When automatic rotation replaces the current key (None: FEDERATION_KEY_ROTATION_DAYS is 0, off)."""
    if not settings.FEDERATION_KEY_ROTATION_DAYS:
        return None
    return (current.activated_at or current.created_at) + timedelta(days=settings.FEDERATION_KEY_ROTATION_DAYS)


def key_pair(now: datetime) -> tuple[SigningKey, SigningKey]:
    keyring.ensure_keys(now)
    found = {row.state: row for row in SigningKey.objects.filter(state__in=[KeyState.CURRENT, KeyState.NEXT])}
    return found[KeyState.CURRENT], found[KeyState.NEXT]


def rotate(*, force: bool = False, now: datetime | None = None, how: str = "manage.py rotate_signing_key") -> Rotation:
    """Rotate once. RotationRefusedError when the next key is too new (unless `force`), or when another process
    rotated these very keys meanwhile."""
    if keyring.uses_settings():
        raise RotationRefusedError(SETTINGS_ROTATION)
    now = now or timezone.now()
    current, upcoming = key_pair(now)
    if not force and now < usable_from(upcoming):
        raise RotationRefusedError(
            f"The next key {upcoming.kid} has been published since {upcoming.created_at:%Y-%m-%d %H:%M:%S %Z}; it may "
            f"sign from {usable_from(upcoming):%Y-%m-%d %H:%M:%S %Z} (FEDERATION_KEY_PUBLISH_AHEAD: Microsoft Entra "
            "ID caches an issuer's keys). Use --force to rotate now (for a compromised key)."
        )
    fresh = keyring.new_key(KeyState.NEXT, now)
    with transaction.atomic():
        # Only the process whose UPDATE still finds these keys in these states rotates; the others change nothing.
        retired = SigningKey.objects.filter(pk=current.pk, state=KeyState.CURRENT).update(
            state=KeyState.RETIRED, retired_at=now
        )
        promoted = retired and SigningKey.objects.filter(pk=upcoming.pk, state=KeyState.NEXT).update(
            state=KeyState.CURRENT, activated_at=now
        )
        if not promoted:
            transaction.set_rollback(True)
            raise RotationRefusedError("Another process rotated the signing keys at the same moment: nothing changed.")
        fresh.save(force_insert=True)
        _record(current, upcoming, fresh, how)
    keyring.forget_signer()
    current.refresh_from_db()
    upcoming.refresh_from_db()
    return Rotation(current=upcoming, retired=current, next=fresh)


def _record(old: SigningKey, new: SigningKey, fresh: SigningKey, how: str) -> None:
    detail = f"{new.kid} signs, {old.kid} retired, {fresh.kid} published as next ({how})"
    trail.record(None, Action.SIGNING_KEY_ROTATED, new, outcome="rotated", detail=detail)
    keyring.record_created(fresh)


def rotate_if_due(now: datetime | None = None) -> Rotation | None:
    """Automatic rotation: when the current key is older than FEDERATION_KEY_ROTATION_DAYS and the next one has
    been published FEDERATION_KEY_PUBLISH_AHEAD seconds; once, however many workers call it together."""
    if keyring.uses_settings() or not settings.FEDERATION_KEY_ROTATION_DAYS:
        return None
    now = now or timezone.now()
    current, upcoming = key_pair(now)
    if now < rotation_due_at(current) or now < usable_from(upcoming):
        return None
    try:
        return rotate(now=now, how="automatic rotation")
    except RotationRefusedError:
        return None  # another worker rotated first


def prune(now: datetime | None = None) -> int:
    """Delete retired keys once no assertion they signed can still be valid (they have left the JWKS already)."""
    cutoff = (now or timezone.now()) - retirement_grace()
    deleted, _ = SigningKey.objects.filter(state=KeyState.RETIRED, retired_at__lte=cutoff).delete()
    return deleted


def maintain(now: datetime | None = None) -> None:
    """The worker's hourly pass: keys exist (so the next one is published long before it signs), a due rotation
    happens, retired keys past their time are deleted."""
    if keyring.uses_settings():
        return
    now = now or timezone.now()
    keyring.ensure_keys(now)
    rotation = rotate_if_due(now)
    if rotation:
        logger.info("Rotated the signing keys: %s signs now, %s retired.", rotation.current.kid, rotation.retired.kid)
    pruned = prune(now)
    if pruned:
        logger.info("Deleted %d retired signing key(s) past their publication.", pruned)
