"""The delegated (user) side of the directory: users, sign-ins, codes, refresh tokens.

A :class:`SignIn` is one interactive sign-in of a user to an app (a browser
session): its authorization code and every refresh token that descends from it
share it. Revocation and "interaction required" are recorded per user as a
sequence number: grants of sign-ins made before it fail, a new sign-in works
(sequence numbers, not times, so a frozen clock cannot blur the order).
Times are POSIX seconds on the simulator clock, passed in by the callers.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import uuid
from dataclasses import dataclass, field

CODE_LIFETIME = 600  # authorization codes live about 10 minutes
DEFAULT_ACCESS_TOKEN_LIFETIME = 3599
DEFAULT_REFRESH_TOKEN_INACTIVITY = 90 * 86400  # Entra: 90 days of inactivity


def _guid() -> str:
    return str(uuid.uuid4())


def _opaque(prefix: str, size: int) -> str:
    """An opaque grant string shaped like Entra's (``0.A...`` or ``1.A...``)."""
    return f"{prefix}.A" + secrets.token_urlsafe(size)


@dataclass
class User:
    tenant_id: str
    upn: str
    display_name: str
    object_id: str = field(default_factory=_guid)
    valid_from_seq: int = 0  # grants of sign-ins before this sequence number are revoked (50173)
    valid_from: float | None = None  # the TokensValidFrom time shown in AADSTS50173
    interaction_from_seq: int = 0  # refreshes of sign-ins before this need interaction (50076)


@dataclass
class DataverseUser:
    """The systemuser row of a user in one environment; ``user_id`` is WhoAmI's UserId."""

    object_id: str
    user_id: str = field(default_factory=_guid)


@dataclass
class SignIn:
    user: User
    client_id: str
    seq: int
    auth_time: float
    scopes: tuple[str, ...]  # as requested at /authorize
    session_id: str = field(default_factory=_guid)

    @property
    def tenant_id(self) -> str:
        return self.user.tenant_id


@dataclass
class AuthorizationCode:
    value: str
    sign_in: SignIn
    redirect_uri: str | None  # as sent to /authorize; None when it was omitted
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float
    redeemed: bool = False


@dataclass
class RefreshToken:
    value: str
    sign_in: SignIn
    issued_at: float
    seq: int  # issue order across the simulator
    parent: str | None = None  # the refresh token it was issued in exchange for
    last_used: float | None = None
    rotated_out: bool = False  # replaced by a newer one under set_refresh_token_rotation(revoke_old=True)

    @property
    def user_object_id(self) -> str:
        return self.sign_in.user.object_id

    @property
    def client_id(self) -> str:
        return self.sign_in.client_id


@dataclass
class RefreshGrant:
    """One ``grant_type=refresh_token`` request that named a known refresh token."""

    user_object_id: str
    client_id: str
    time: float
    error_code: int | None = None  # the AADSTS code of a refusal; None = tokens were issued

    @property
    def ok(self) -> bool:
        return self.error_code is None


@dataclass
class TokenPolicy:
    access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME
    refresh_token_inactivity: float = DEFAULT_REFRESH_TOKEN_INACTIVITY
    rotate_refresh_tokens: bool = True  # Entra returns a new refresh token on every refresh
    revoke_rotated: bool = False  # ... and the old one keeps working, unless this is set


class Delegated:
    """Users and their grants; every method is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self.policy = TokenPolicy()
        self.users: dict[str, User] = {}  # by object id
        self.dataverse_users: dict[tuple[str, str], DataverseUser] = {}  # (environment key, object id)
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}  # insertion = issue order
        self.refresh_grants: list[RefreshGrant] = []

    # --- users ----------------------------------------------------------------------

    def add_user(self, tenant_id: str, upn: str, display_name: str, object_id: str | None) -> User:
        user = User(tenant_id, upn.strip(), display_name, str(object_id or _guid()).lower())
        with self._lock:
            if any(u.upn.lower() == user.upn.lower() for u in self.users.values()):
                raise ValueError(f"a user {upn!r} already exists")
            self.users[user.object_id] = user
        return user

    def user(self, object_id: str) -> User:
        with self._lock:
            found = self.users.get(str(object_id).lower())
        if found is None:
            raise KeyError(f"no user {object_id!r}; add_user() first")
        return found

    def find_user(self, upn: str, tenant_ids: set[str]) -> User | None:
        """The user signing in as ``upn`` (case-insensitive) in one of these tenants."""
        with self._lock:
            return next(
                (u for u in self.users.values() if u.upn.lower() == upn.lower() and u.tenant_id in tenant_ids),
                None,
            )

    def users_of(self, tenant_ids: set[str]) -> list[User]:
        with self._lock:
            return [u for u in self.users.values() if u.tenant_id in tenant_ids]

    def add_dataverse_user(self, env_key: str, object_id: str, user_id: str | None) -> DataverseUser:
        member = DataverseUser(object_id, str(user_id or _guid()))
        with self._lock:
            member = self.dataverse_users.setdefault((env_key, object_id), member)
        return member

    def find_dataverse_user(self, env_key: str, object_id: str) -> DataverseUser | None:
        with self._lock:
            return self.dataverse_users.get((env_key, str(object_id).lower()))

    def revoke(self, object_id: str | None, now: float) -> None:
        """Revoke every grant of sign-ins made so far (one user, or everyone)."""
        with self._lock:
            seq = next(self._seq)
            for user in self.users.values() if object_id is None else [self.user(object_id)]:
                user.valid_from_seq, user.valid_from = seq, now

    def require_interaction(self, object_id: str, required: bool) -> None:
        with self._lock:
            self.user(object_id).interaction_from_seq = next(self._seq) if required else 0

    # --- grants ---------------------------------------------------------------------

    def sign_in(self, user: User, client_id: str, scopes: tuple[str, ...], now: float) -> SignIn:
        with self._lock:
            return SignIn(user, client_id, next(self._seq), now, scopes)

    def issue_code(self, sign_in: SignIn, redirect_uri, nonce, challenge, method, now) -> AuthorizationCode:
        code = AuthorizationCode(_opaque("1", 96), sign_in, redirect_uri, nonce, challenge, method, now)
        with self._lock:
            self.codes[code.value] = code
        return code

    def find_code(self, value: str) -> AuthorizationCode | None:
        with self._lock:
            return self.codes.get(value)

    def redeem(self, code: AuthorizationCode) -> bool:
        """Mark the code used; False if it already was (a concurrent or repeated redemption)."""
        with self._lock:
            if code.redeemed:
                return False
            code.redeemed = True
            return True

    def issue_refresh_token(self, sign_in: SignIn, now: float, parent: RefreshToken | None = None) -> RefreshToken:
        with self._lock:
            token = RefreshToken(_opaque("0", 160), sign_in, now, next(self._seq), parent.value if parent else None)
            self.refresh_tokens[token.value] = token
            if parent is not None and self.policy.revoke_rotated:
                parent.rotated_out = True
        return token

    def find_refresh_token(self, value: str) -> RefreshToken | None:
        with self._lock:
            return self.refresh_tokens.get(value)

    def record_refresh(self, token: RefreshToken, now: float, error_code: int | None) -> None:
        with self._lock:
            if error_code is None:
                token.last_used = now
            self.refresh_grants.append(RefreshGrant(token.user_object_id, token.client_id, now, error_code))

    def issued_refresh_tokens(self, object_id: str | None = None) -> list[RefreshToken]:
        with self._lock:
            tokens = list(self.refresh_tokens.values())
        return [t for t in tokens if object_id is None or t.user_object_id == str(object_id).lower()]

    def grants_of(self, object_id: str | None = None) -> list[RefreshGrant]:
        with self._lock:
            grants = list(self.refresh_grants)
        return [g for g in grants if object_id is None or g.user_object_id == str(object_id).lower()]
