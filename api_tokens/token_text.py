"""The personal API token's text: `gathr_<prefix>_<secret>`, and its digest. Plain Python, no Django.

The fixed `gathr_` start lets secret scanners recognise a leaked token; the prefix finds its row with one indexed
query; only the SHA-256 of the whole token is stored. A salted or slow hash adds nothing for 32 random bytes, and a
keyed one (salted_hmac) would stop every token working when SECRET_KEY rotates.
"""

import hashlib
import hmac
import re
import secrets

SCHEME = "gathr"
PREFIX_BYTES = 6  # 12 hex characters: shown in lists, unique among all tokens
SECRET_BYTES = 32
PATTERN = re.compile(rf"^{SCHEME}_([0-9a-f]{{{PREFIX_BYTES * 2}}})_([0-9a-f]{{{SECRET_BYTES * 2}}})$")


def new_prefix() -> str:
    return secrets.token_hex(PREFIX_BYTES)


def new_token(prefix: str) -> str:
    """A fresh token's plaintext for `prefix`: shown once to its user, never stored."""
    return f"{SCHEME}_{prefix}_{secrets.token_hex(SECRET_BYTES)}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def prefix_of(token: str) -> str | None:
    """The prefix of a well-formed token, None for anything else."""
    match = PATTERN.match(token)
    return match.group(1) if match else None


def matches(token: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented token with a stored digest."""
    return hmac.compare_digest(digest(token), stored_digest)
