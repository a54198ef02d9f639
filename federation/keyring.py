"""Which keys sign and which are published: the database's (created when first needed, race-safe) or, when
FEDERATION_SIGNING_KEYS is set, the PEM files it names (the first signs, every one is published)."""

import functools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from audit import trail
from audit.models import Action
from connections import crypto
from federation import keys
from federation.models import KeySource, KeyState, SigningKey, retirement_grace

# A process reuses its loaded signing key this long: a rotation elsewhere is seen within it, which is safe because
# a retired key stays published for the assertion lifetime plus CLOCK_SKEW (5 minutes) after its retirement.
SIGNER_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Signer:
    kid: str
    private_key: RSAPrivateKey = field(repr=False)


_cache_lock = threading.Lock()
_cached: dict[tuple, tuple[float, Signer]] = {}


def uses_settings() -> bool:
    return bool(settings.FEDERATION_SIGNING_KEYS)


@functools.lru_cache(maxsize=8)
def settings_keys(paths: tuple[str, ...]) -> tuple[tuple[Signer, dict], ...]:
    """The files' keys, in the setting's order (read once per process; checked at start by the settings)."""
    loaded = []
    for path in paths:
        private_key = keys.load_file(path)
        jwk = keys.public_jwk(private_key)
        loaded.append((Signer(jwk["kid"], private_key), jwk))
    return tuple(loaded)


def signer() -> Signer:
    """The key that signs now, reused for SIGNER_CACHE_SECONDS by this process."""
    source = tuple(settings.FEDERATION_SIGNING_KEYS)
    with _cache_lock:
        cached = _cached.get(source)
        if cached and cached[0] > time.monotonic():
            return cached[1]
    found = settings_keys(source)[0][0] if source else _database_signer()
    with _cache_lock:
        _cached[source] = (time.monotonic() + SIGNER_CACHE_SECONDS, found)
    return found


def forget_signer() -> None:
    """After a rotation in this process: its next assertion is signed by the new current key at once."""
    with _cache_lock:
        _cached.clear()


def _database_signer() -> Signer:
    ensure_keys()
    row = SigningKey.objects.get(state=KeyState.CURRENT)
    pem = crypto.decrypt(row.private_key_encrypted)  # SecretDecryptionError: FIELD_ENCRYPTION_KEY lost its key
    return Signer(row.kid, keys.from_pem(pem))


def published_jwks(now: datetime | None = None) -> list[dict]:
    """Every public key a verifier may meet: current, next, and retired ones until their last assertion expired."""
    if uses_settings():
        return [jwk for _, jwk in settings_keys(tuple(settings.FEDERATION_SIGNING_KEYS))]
    now = now or timezone.now()
    ensure_keys(now)
    order = Case(
        When(state=KeyState.CURRENT, then=Value(0)),
        When(state=KeyState.NEXT, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    published = Q(state__in=[KeyState.CURRENT, KeyState.NEXT]) | Q(retired_at__gt=now - retirement_grace())
    rows = SigningKey.objects.filter(published).order_by(order, "-retired_at")
    return [row.public_jwk for row in rows.only("public_jwk")]


def ensure_keys(now: datetime | None = None) -> None:
    """Create the current and the next key when missing. Several processes may do it at once: the database's
    unique constraints keep one of each, and the others' inserts are dropped."""
    present = set(
        SigningKey.objects.filter(state__in=[KeyState.CURRENT, KeyState.NEXT]).values_list("state", flat=True)
    )
    for state in (KeyState.CURRENT, KeyState.NEXT):
        if state not in present:
            create(state, now or timezone.now())


def new_key(state: KeyState, now: datetime) -> SigningKey:
    """An unsaved row with a freshly generated key (the slow part, done before any transaction)."""
    private_key = keys.generate()
    jwk = keys.public_jwk(private_key)
    return SigningKey(
        kid=jwk["kid"],
        private_key_encrypted=crypto.encrypt(keys.to_pem(private_key)),
        public_jwk=jwk,
        state=state,
        source=KeySource.GENERATED,
        created_at=now,
        activated_at=now if state == KeyState.CURRENT else None,
    )


def create(state: KeyState, now: datetime) -> SigningKey | None:
    """Generate and store a key in `state`; None when another process stored one in that state first."""
    row = new_key(state, now)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            record_created(row)
    except IntegrityError:
        return None
    return row


def record_created(row: SigningKey) -> None:
    trail.record(None, Action.SIGNING_KEY_CREATED, row, outcome=row.state, detail=f"RSA {keys.KEY_SIZE}, RS256")
