"""Encryption at rest for connection secrets (Fernet keys from FIELD_ENCRYPTION_KEY, newest first)."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as err:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each)."
        ) from err


def fernet() -> MultiFernet:
    keys = tuple(settings.FIELD_ENCRYPTION_KEY)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty.")
    return _fernet(keys)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str, ttl: int | None = None) -> str:
    """Decrypt; with `ttl`, refuse tokens encrypted more than `ttl` seconds ago."""
    try:
        return fernet().decrypt(token.encode(), ttl=ttl).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEY no longer holds the key it was encrypted with."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a token under the newest key (a no-op in meaning if it already is)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("A stored secret cannot be decrypted with any configured key.") from None


def is_current(token: str) -> bool:
    """True when the token decrypts with the newest key alone."""
    newest = Fernet(settings.FIELD_ENCRYPTION_KEY[0].encode())
    try:
        newest.decrypt(token.encode())
    except InvalidToken:
        return False
    return True
