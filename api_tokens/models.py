"""Personal API tokens: created by a signed-in user, shown once, stored as a digest, named, expiring, revocable."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from api_tokens import token_text
from audit import trail
from audit.models import Action

DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=365)


class TokenError(ValueError):
    """A token cannot be issued as asked; the message says why, in words for its user."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class ApiTokenQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None):
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # Public: shown in lists and in the token itself, so that a user can tell their tokens apart.
    prefix = models.CharField(max_length=token_text.PREFIX_BYTES * 2, unique=True)
    # SHA-256 of the whole token (api_tokens/token_text.py); the token itself is never stored.
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.shown_prefix})"

    @property
    def shown_prefix(self) -> str:
        return f"{token_text.SCHEME}_{self.prefix}_…"

    def state(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.expires_at > (now or timezone.now()) else "expired"

    @classmethod
    def issue(cls, user, name: str, expires_at: datetime | None = None) -> tuple["ApiToken", str]:
        """A new token for `user`: (its row, its plaintext). The plaintext exists only in the return value."""
        now = timezone.now()
        name = name.strip()
        expires_at = expires_at or now + DEFAULT_LIFETIME
        check_lifetime(expires_at, now)
        with transaction.atomic():
            # Locking the user's row makes two creations of the same name wait for each other.
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            if cls.objects.active(now).filter(user=user, name=name).exists():
                raise TokenError(f"You already have an active token named “{name}”.", code="name_taken")
            row, plaintext = cls._create(user, name, expires_at, now)
            trail.record(user, Action.TOKEN_CREATED, row, detail=f"prefix {row.prefix}")
        return row, plaintext

    @classmethod
    def _create(cls, user, name: str, expires_at: datetime, now: datetime) -> tuple["ApiToken", str]:
        # 48 random bits: two tokens drawing one prefix is unlikely enough that the unique index refusing the second
        # (an error, never a shared prefix) is all the handling it needs.
        prefix = token_text.new_prefix()
        plaintext = token_text.new_token(prefix)
        row = cls.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            digest=token_text.digest(plaintext),
            created_at=now,
            expires_at=expires_at,
        )
        return row, plaintext

    def revoke(self, by) -> bool:
        """Revoke this token (by its user or an administrator); False when it already was."""
        now = timezone.now()
        with transaction.atomic():
            changed = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
            if changed:
                self.revoked_at = now
                trail.record(by, Action.TOKEN_REVOKED, self, detail=f"prefix {self.prefix} of {self.user}")
        return bool(changed)

    def touch(self, now: datetime, every: timedelta) -> None:
        """Note a use, at most once per `every`: the API must not write a row per request."""
        if self.last_used_at is not None and now - self.last_used_at < every:
            return
        stale = models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=now - every)
        ApiToken.objects.filter(stale, pk=self.pk).update(last_used_at=now)
        self.last_used_at = now


def check_lifetime(expires_at: datetime, now: datetime) -> None:
    if expires_at <= now:
        raise TokenError("The expiry must be in the future.", code="expiry_past")
    if expires_at > now + MAX_LIFETIME:
        raise TokenError("A token lives at most one year.", code="expiry_too_far")
