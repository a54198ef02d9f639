"""The token endpoint's user grants: ``authorization_code`` and ``refresh_token``.

Both resolve the grant first (so ``/common`` and ``/organizations`` work: the
grant names its tenant), then authenticate the client as for client
credentials (secret, Basic or assertion), then check the grant. Refusals, all
``invalid_grant`` unless noted:

* unknown code / refresh token: AADSTS9002313; another client's: 70000;
  a code redeemed at another tenant: 700005;
* code already redeemed: 54005; older than 10 minutes: 70008;
  ``redirect_uri`` differs from the one sent to /authorize: 500112;
  ``code_verifier`` does not match the challenge (S256 or plain): 501481;
* refresh token replaced under ``revoke_old`` rotation: 70008; user's tokens
  revoked since the sign-in: 50173; unused for longer than the inactivity
  lifetime: 700082; MFA required since the sign-in: 50076 (suberror basic_action);
* admin consent required for the app: 65001 (suberror consent_required).

A code is used up only by a successful redemption.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from . import aadsts
from .aadsts import EntraError, invalid_grant, invalid_request
from .authorize import s256
from .messages import Response
from .scopes import OIDC_SCOPES, ScopeRequest, parse_scopes
from .state import AUTHORITY_CLOUDS, App
from .user_tokens import client_info, issue_id_token, issue_user_access_token
from .users import CODE_LIFETIME, Delegated, RefreshToken, SignIn

if TYPE_CHECKING:
    from .entra import ClientAuthentication, EntraService, TokenContext

USER_GRANTS = ("authorization_code", "refresh_token")


class UserGrants:
    def __init__(self, service: EntraService) -> None:
        self.service = service
        self.directory = service.directory

    @property
    def store(self) -> Delegated:  # Directory.reset() replaces it
        return self.directory.delegated

    # --- authorization_code -----------------------------------------------------------

    def authorization_code(self, ctx: TokenContext) -> Response:
        value = ctx.form.get("code")
        if not value:
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="code"))
        code = self.store.find_code(value)
        if code is None:
            raise invalid_grant(9002313, aadsts.MALFORMED_REQUEST)
        self._bind_tenant(ctx, code.sign_in, aadsts.CODE_OTHER_TENANT, 700005)
        client = self.service.authenticate_client(ctx)
        if client.app.client_id != code.sign_in.client_id:
            raise invalid_grant(70000, aadsts.GRANT_INVALID)
        if code.redeemed:
            raise invalid_grant(54005, aadsts.CODE_REDEEMED)
        if ctx.now > code.issued_at + CODE_LIFETIME:
            raise invalid_grant(70008, aadsts.GRANT_EXPIRED)
        self._check_redirect_uri(ctx.form.get("redirect_uri"), code.redirect_uri, client.app)
        self._check_verifier(ctx.form.get("code_verifier"), code.code_challenge, code.code_challenge_method)
        self._check_revoked(code.sign_in)
        self._check_consent(client)
        requested = parse_scopes(ctx.form.get("scope") or " ".join(code.sign_in.scopes), self.directory, ctx.tenant)
        if len(requested.resources) > 1:
            scope = ctx.form.get("scope", "")
            raise EntraError(400, "invalid_scope", 28000, aadsts.MULTIPLE_RESOURCES.format(scope=scope))
        if not self.store.redeem(code):
            raise invalid_grant(54005, aadsts.CODE_REDEEMED)
        refresh = None
        if "offline_access" in _oidc(code.sign_in.scopes):
            refresh = self.store.issue_refresh_token(code.sign_in, ctx.now)
        return self._tokens(ctx, client, code.sign_in, requested, refresh, nonce=code.nonce)

    @staticmethod
    def _check_redirect_uri(given: str | None, expected: str | None, app: App) -> None:
        """Must equal the one sent to /authorize (or, if that had none, be a registered one)."""
        if expected is None and not given:
            return
        if not given:
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="redirect_uri"))
        if given != (expected if expected is not None else next((u for u in app.redirect_uris if u == given), None)):
            shown = expected if expected is not None else (app.redirect_uris or [""])[0]
            raise invalid_grant(500112, aadsts.REPLY_ADDRESS_CHANGED.format(given=given, expected=shown))

    @staticmethod
    def _check_verifier(verifier: str | None, challenge: str | None, method: str | None) -> None:
        if challenge is None:
            return
        computed = (s256(verifier) if method == "S256" else verifier) if verifier else ""
        if not hmac.compare_digest(computed.encode(), challenge.encode()):
            raise invalid_grant(501481, aadsts.VERIFIER_MISMATCH)

    # --- refresh_token ------------------------------------------------------------------

    def refresh_token(self, ctx: TokenContext) -> Response:
        value = ctx.form.get("refresh_token")
        if not value:
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="refresh_token"))
        token = self.store.find_refresh_token(value)
        if token is None:
            raise invalid_grant(9002313, aadsts.MALFORMED_REQUEST)
        try:
            self._bind_tenant(ctx, token.sign_in, aadsts.GRANT_INVALID, 70000)
            client = self.service.authenticate_client(ctx)
            response = self._refresh(ctx, client, token)
        except EntraError as err:
            self.store.record_refresh(token, ctx.now, err.code)
            raise
        self.store.record_refresh(token, ctx.now, None)
        return response

    def _refresh(self, ctx: TokenContext, client: ClientAuthentication, token: RefreshToken) -> Response:
        sign_in, policy = token.sign_in, self.store.policy
        if client.app.client_id != token.client_id:
            raise invalid_grant(70000, aadsts.GRANT_INVALID)
        if token.rotated_out:
            raise invalid_grant(70008, aadsts.GRANT_EXPIRED)
        self._check_revoked(sign_in)
        idle_since = token.last_used if token.last_used is not None else token.issued_at
        if ctx.now - idle_since > policy.refresh_token_inactivity:
            issued, span = aadsts.format_instant(token.issued_at), aadsts.format_span(policy.refresh_token_inactivity)
            raise invalid_grant(700082, aadsts.REFRESH_INACTIVE.format(issued=issued, span=span))
        self._check_consent(client)
        requested = parse_scopes(ctx.form.get("scope") or " ".join(sign_in.scopes), self.directory, ctx.tenant)
        if sign_in.seq < sign_in.user.interaction_from_seq:
            resource_app_id = requested.resources[0].resource.app_id
            text = aadsts.MFA_REQUIRED.format(resource_app_id=resource_app_id)
            raise invalid_grant(50076, text, suberror="basic_action")
        new_token = self.store.issue_refresh_token(sign_in, ctx.now, token) if policy.rotate_refresh_tokens else None
        return self._tokens(ctx, client, sign_in, requested, new_token, nonce=None)

    # --- shared -------------------------------------------------------------------------

    def _bind_tenant(self, ctx: TokenContext, sign_in: SignIn, other_tenant_text: str, other_tenant_code: int) -> None:
        """Take the tenant from the grant on /common; refuse a grant of another tenant or cloud."""
        tenant = self.directory.get_tenant(sign_in.tenant_id)
        if tenant is None or tenant.cloud != AUTHORITY_CLOUDS[ctx.request.host]:
            raise invalid_grant(9002313, aadsts.MALFORMED_REQUEST)
        if ctx.tenant is None:
            ctx.tenant = tenant
        elif ctx.tenant.tenant_id != tenant.tenant_id:
            raise invalid_grant(other_tenant_code, other_tenant_text)

    def _check_revoked(self, sign_in: SignIn) -> None:
        user = sign_in.user
        if sign_in.seq < user.valid_from_seq:
            raise invalid_grant(
                50173,
                aadsts.GRANT_REVOKED.format(
                    auth_time=aadsts.format_instant(sign_in.auth_time),
                    valid_from=aadsts.format_instant(user.valid_from or sign_in.auth_time),
                ),
            )

    @staticmethod
    def _check_consent(client: ClientAuthentication) -> None:
        app = client.app
        if app.admin_consent_required:
            text = aadsts.NOT_CONSENTED.format(client_id=app.client_id, app_name=app.display_name)
            raise invalid_grant(65001, text, suberror="consent_required")

    def _tokens(
        self,
        ctx: TokenContext,
        client: ClientAuthentication,
        sign_in: SignIn,
        requested: ScopeRequest,
        refresh: RefreshToken | None,
        nonce: str | None,
    ) -> Response:
        """The v2.0 success body for the first resource of ``requested``."""
        granted = requested.resources[0]
        oidc = [s for s in requested.oidc if s in _oidc(sign_in.scopes)] or _oidc(sign_in.scopes)
        lifetime = self.store.policy.access_token_lifetime
        payload = {
            "token_type": "Bearer",
            "scope": requested.response_scope(granted, oidc),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": issue_user_access_token(
                now=ctx.now,
                lifetime=lifetime,
                cloud=ctx.tenant.cloud,
                sign_in=sign_in,
                audience=granted.resource.audience,
                scp=" ".join(granted.permissions),
                credential_kind=client.kind,
            ),
        }
        if refresh is not None:
            payload["refresh_token"] = refresh.value
        if "openid" in oidc:
            payload["id_token"] = issue_id_token(now=ctx.now, host=ctx.request.host, sign_in=sign_in, nonce=nonce)
        if ctx.form.get("client_info") == "1":
            payload["client_info"] = client_info(sign_in.user)
        return self.service.token_response(ctx, payload)


def _oidc(scopes) -> list[str]:
    lowered = {s.lower() for s in scopes}
    return [s for s in OIDC_SCOPES if s in lowered]
