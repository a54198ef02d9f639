"""The delegated (user) part of the :class:`~.simulator.Simulator` API, as a mixin.

Users sign in on the simulator's /authorize page; the app redeems the code and
refreshes by itself. These knobs shape what Entra and Dataverse then answer.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .state import Directory, environment_key
from .users import DataverseUser, RefreshGrant, RefreshToken, User

_LOOPBACK = ("localhost", "127.0.0.1")


class UserApi:
    directory: Directory

    # --- users and app settings ---------------------------------------------------------

    def add_user(
        self,
        tenant_id,
        upn: str = "maria@contoso.onmicrosoft.com",
        display_name: str = "Maria Garcia",
        object_id: str | None = None,
    ) -> User:
        """A user of the tenant (``.object_id``, ``.upn``, ``.display_name``, ``.tenant_id``).

        The UPN's domain must be one of the tenant's domains.
        """
        tenant = self.directory._tenant(tenant_id)
        domain = upn.rpartition("@")[2].lower()
        if "@" not in upn or domain not in tenant.domains:
            raise ValueError(f"UPN {upn!r} is not in one of the tenant's domains {tenant.domains}")
        return self.directory.delegated.add_user(tenant.tenant_id, upn, display_name, object_id)

    def add_redirect_uri(self, client_id, uri: str) -> None:
        """Register a Web redirect URI (exact match; http only for localhost / 127.0.0.1, any port)."""
        parts = urlsplit(uri)
        secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
        if not secure or not parts.hostname or "*" in uri or parts.fragment:
            raise ValueError(f"Entra would not accept the redirect URI {uri!r}")
        with self.directory._lock:
            app = self.directory._app(client_id)
            if uri not in app.redirect_uris:
                app.redirect_uris.append(uri)

    def require_admin_consent(self, client_id, required: bool = True) -> None:
        """Code redemption and refresh then fail with invalid_grant AADSTS65001."""
        self.directory._app(client_id).admin_consent_required = required

    def add_dataverse_user(self, env_url: str, user_object_id: str, user_id: str | None = None) -> DataverseUser:
        """Make the user a member of the environment; ``.user_id`` is WhoAmI's UserId (systemuserid)."""
        env = self.directory.find_environment(env_url)
        if env is None:
            raise KeyError(f"no environment {env_url!r}")
        user = self.directory.delegated.user(user_object_id)
        return self.directory.delegated.add_dataverse_user(environment_key(env.host), user.object_id, user_id)

    # --- token policy -------------------------------------------------------------------

    def set_access_token_lifetime(self, seconds: int) -> None:
        """``expires_in`` of every access token from now on (default 3599; msal refreshes below 300)."""
        self.directory.delegated.policy.access_token_lifetime = int(seconds)

    def set_refresh_token_lifetime(self, seconds: float) -> None:
        """Inactivity lifetime of refresh tokens (default 90 days): older unused ones get AADSTS700082."""
        self.directory.delegated.policy.refresh_token_inactivity = float(seconds)

    def set_refresh_token_rotation(self, rotate: bool = True, revoke_old: bool = False) -> None:
        """Whether a refresh returns a new refresh token (Entra's default: yes, the old one stays valid).

        ``revoke_old=True``: a refresh token that was exchanged stops working (AADSTS70008).
        ``rotate=False``: no new refresh token; the client keeps using the same one.
        """
        policy = self.directory.delegated.policy
        policy.rotate_refresh_tokens, policy.revoke_rotated = rotate, revoke_old and rotate

    def revoke_refresh_tokens(self, user_object_id: str | None = None) -> None:
        """Like revokeSignInSessions / a password reset: earlier grants fail with AADSTS50173."""
        self.directory.delegated.revoke(user_object_id, self.directory.now())

    def require_interaction(self, user_object_id: str, required: bool = True) -> None:
        """MFA is now required: refreshes of earlier sign-ins fail with AADSTS50076 until the user signs in again."""
        self.directory.delegated.require_interaction(user_object_id, required)

    # --- what was issued ----------------------------------------------------------------

    def issued_refresh_tokens(self, user_object_id: str | None = None) -> list[RefreshToken]:
        """Refresh tokens issued so far, oldest first (``.value``, ``.issued_at``, ``.rotated_out``...)."""
        return self.directory.delegated.issued_refresh_tokens(user_object_id)

    def newest_refresh_token(self, user_object_id: str | None = None) -> str | None:
        tokens = self.issued_refresh_tokens(user_object_id)
        return tokens[-1].value if tokens else None

    def refresh_grants(self, user_object_id: str | None = None) -> list[RefreshGrant]:
        """Every refresh_token grant that named a known token (``.ok``, ``.error_code``, ``.time``)."""
        return self.directory.delegated.grants_of(user_object_id)

    def refresh_count(self, user_object_id: str | None = None) -> int:
        """How many refreshes succeeded (for one user, or all)."""
        return sum(grant.ok for grant in self.refresh_grants(user_object_id))
