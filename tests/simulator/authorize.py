"""``/{tenant}/oauth2/v2.0/authorize``: the browser leg of the authorization code flow.

Checks run in Entra's order. Until the redirect URI is known to be registered,
a failure is shown on Entra's own error page (nothing can be sent to an
unregistered URI): unknown tenant (AADSTS90002), unknown app (700016), no
redirect URI registered (500113), an unregistered one (50011). After that,
failures go back to the app as ``error``/``error_description``/``state``.
GET shows the sign-in page; the page POSTs to the same URL (same query):
``action=signin`` with ``loginfmt`` issues a code, ``action=cancel`` answers
``error=access_denied&error_subcode=cancel`` (AADSTS65004).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from . import aadsts, signin_pages
from .aadsts import EntraError, invalid_request
from .messages import Request, Response
from .scopes import parse_scopes
from .state import App, Directory, Tenant
from .user_tokens import client_info

MULTI_TENANT = ("common", "organizations")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
PKCE_METHODS = ("S256", "plain")
RESPONSE_MODES = ("query", "fragment", "form_post")
EMPTY_USERNAME = "Enter a valid email address, phone number, or Skype name."
UNKNOWN_USERNAME = "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin."


class ShowErrorPage(Exception):
    def __init__(self, err: EntraError) -> None:
        super().__init__(str(err))
        self.err = err


@dataclass
class AuthRequest:
    """A validated /authorize request, ready for the sign-in page."""

    request: Request
    tenant: Tenant | None  # None for /common and /organizations
    app: App
    redirect_uri: str  # where answers go (registered; trailing slash added when pathless)
    redirect_param: str | None  # as sent (None = omitted)
    params: dict[str, str]


def redirect_matches(registered: str, requested: str) -> bool:
    """Exact match, except that http(s) loopback URIs match on any port (Entra's localhost exception)."""
    if registered == requested:
        return True
    a, b = urlsplit(registered), urlsplit(requested)
    if a.hostname not in LOOPBACK_HOSTS or a.hostname != b.hostname:
        return False
    return (a.scheme, a.path or "/", a.query) == (b.scheme, b.path or "/", b.query)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class AuthorizeEndpoint:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def handle(self, request: Request, tenant: str) -> Response:
        try:
            auth = self._validate_target(request, tenant)
        except ShowErrorPage as shown:
            return self._error_page(request, shown.err)
        try:
            self._validate_request(auth)
            if request.method == "POST":
                return self._submit(auth)
            return self._page(auth)
        except EntraError as err:
            return self._answer(auth, _error_params(err, request, auth.params, self.directory.now()))

    # --- validation -------------------------------------------------------------------

    def _validate_target(self, request: Request, tenant_name: str) -> AuthRequest:
        params = request.query_params()
        tenant = None
        if tenant_name.lower() not in MULTI_TENANT:
            tenant = self.directory.find_tenant(tenant_name, request.host)
            if tenant is None:
                raise ShowErrorPage(_err(90002, aadsts.TENANT_NOT_FOUND.format(tenant=tenant_name)))
        client_id = params.get("client_id", "").strip()
        if not client_id:
            raise ShowErrorPage(_err(900144, aadsts.MISSING_PARAMETER.format(name="client_id")))
        if tenant is None:
            app = self.directory.find_app_in_cloud(client_id, request.host)
        else:
            app = self.directory.find_app(tenant.tenant_id, client_id)
        if app is None:
            name = tenant.display_name if tenant else tenant_name
            raise ShowErrorPage(_err(700016, aadsts.APP_NOT_FOUND.format(client_id=client_id, tenant_name=name)))
        requested = params.get("redirect_uri")
        if not app.redirect_uris:
            raise ShowErrorPage(_err(500113, aadsts.NO_REPLY_ADDRESS))
        if requested is None:
            target = app.redirect_uris[0]
        elif any(redirect_matches(uri, requested) for uri in app.redirect_uris):
            target = requested
        else:
            raise ShowErrorPage(_err(50011, aadsts.REDIRECT_MISMATCH.format(uri=requested, client_id=app.client_id)))
        if not urlsplit(target).path:
            target += "/"  # pathless redirect URIs come back with a trailing slash
        return AuthRequest(request, tenant, app, target, requested, params)

    def _validate_request(self, auth: AuthRequest) -> None:
        params = auth.params
        mode = params.get("response_mode", "query")
        if mode not in RESPONSE_MODES:
            params["response_mode"] = "query"
            raise EntraError(400, "invalid_request", 70007, aadsts.RESPONSE_MODE_UNSUPPORTED.format(mode=mode))
        response_type = params.get("response_type")
        if not response_type:
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="response_type"))
        other = [t for t in response_type.split() if t != "code"]
        if other or "code" not in response_type.split():
            text = aadsts.RESPONSE_TYPE_NOT_ENABLED.format(response_type=(other or [response_type])[0])
            raise EntraError(400, "unsupported_response_type", 700054, text)
        if not params.get("scope", "").strip():
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="scope"))
        parse_scopes(params["scope"], self.directory, self._scope_tenant(auth))
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
        if method and not challenge:
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="code_challenge"))
        if challenge and (method or "plain") not in PKCE_METHODS:
            raise invalid_request(90100, aadsts.PARAMETER_NOT_VALID.format(name="code_challenge_method"))
        if challenge and not 43 <= len(challenge) <= 128:
            raise invalid_request(501491, aadsts.CHALLENGE_SIZE)
        if params.get("prompt") == "none":  # no browser session is ever remembered
            raise EntraError(400, "login_required", 50058, aadsts.SILENT_NO_USER)

    def _scope_tenant(self, auth: AuthRequest) -> Tenant:
        return auth.tenant or self.directory.get_tenant(auth.app.tenant_id)

    # --- the page and its form --------------------------------------------------------

    def _page(self, auth: AuthRequest, error: str | None = None, error_code: str | None = None) -> Response:
        tenant = self._scope_tenant(auth)
        tenant_ids = {tenant.tenant_id} if auth.tenant else self._cloud_tenant_ids(auth)
        accounts = [(u.upn, u.display_name) for u in self.directory.delegated.users_of(tenant_ids)]
        form = auth.request.form() if auth.request.method == "POST" else {}
        return signin_pages.sign_in_page(
            action=auth.request.path + (f"?{auth.request.query}" if auth.request.query else ""),
            app_name=auth.app.display_name,
            login_hint=form.get("loginfmt", auth.params.get("login_hint", "")),
            accounts=accounts,
            directory_name=tenant.display_name,
            error=error,
            error_code=error_code,
        )

    def _submit(self, auth: AuthRequest) -> Response:
        form = auth.request.form()
        if form.get("action") == "cancel":
            declined = EntraError(400, "access_denied", 65004, aadsts.USER_DECLINED, suberror="cancel")
            return self._answer(auth, _error_params(declined, auth.request, auth.params, self.directory.now()))
        upn = form.get("loginfmt", "").strip()
        if not upn:
            return self._page(auth, EMPTY_USERNAME)
        tenant_ids = {auth.tenant.tenant_id} if auth.tenant else self._cloud_tenant_ids(auth)
        user = self.directory.delegated.find_user(upn, tenant_ids)
        if user is None:
            directory = self._scope_tenant(auth).display_name
            code_line = f"AADSTS50034: {aadsts.USER_NOT_FOUND.format(upn=upn, tenant_name=directory)}"
            return self._page(auth, UNKNOWN_USERNAME, code_line)
        if user.tenant_id != auth.app.tenant_id:  # /common: the user's directory lacks this app
            home = self.directory.get_tenant(user.tenant_id)
            text = aadsts.APP_NOT_FOUND.format(client_id=auth.app.client_id, tenant_name=home.display_name)
            return self._error_page(auth.request, _err(700016, text))
        return self._issue_code(auth, user)

    def _issue_code(self, auth: AuthRequest, user) -> Response:
        params, now = auth.params, self.directory.now()
        store = self.directory.delegated
        sign_in = store.sign_in(user, auth.app.client_id, tuple(params["scope"].split()), now)
        challenge = params.get("code_challenge")
        method = (params.get("code_challenge_method") or "plain") if challenge else None
        code = store.issue_code(sign_in, auth.redirect_param, params.get("nonce"), challenge, method, now)
        answer = [("code", code.value)]
        if params.get("client_info") == "1":
            answer.append(("client_info", client_info(user)))
        if "state" in params:
            answer.append(("state", params["state"]))
        answer.append(("session_state", sign_in.session_id))
        return self._answer(auth, answer)

    # --- answers ------------------------------------------------------------------------

    def _answer(self, auth: AuthRequest, params: list[tuple[str, str]]) -> Response:
        """Send ``params`` to the redirect URI by the requested response_mode."""
        mode = auth.params.get("response_mode", "query")
        if mode == "form_post":
            return signin_pages.form_post_page(auth.redirect_uri, params)
        encoded = urlencode(params)
        if mode == "fragment":
            location = f"{auth.redirect_uri.split('#')[0]}#{encoded}"
        else:
            base = auth.redirect_uri.split("#")[0]
            location = f"{base}{'&' if '?' in base else '?'}{encoded}"
        return Response(302, {"Location": location, **signin_pages.NO_STORE}, b"")

    def _error_page(self, request: Request, err: EntraError) -> Response:
        trace_id, correlation_id = str(uuid.uuid4()), aadsts.correlation_id_for(request.header("client-request-id"))
        return signin_pages.error_page(
            message=f"AADSTS{err.code}: {err.text}",
            trace_id=trace_id,
            correlation_id=correlation_id,
            timestamp=aadsts.format_timestamp(self.directory.now()),
        )

    def _cloud_tenant_ids(self, auth: AuthRequest) -> set[str]:
        cloud = self.directory.get_tenant(auth.app.tenant_id).cloud
        return {t.tenant_id for t in list(self.directory.tenants.values()) if t.cloud == cloud}


def _err(code: int, text: str) -> EntraError:
    return invalid_request(code, text)


def _error_params(err: EntraError, request: Request, params: dict[str, str], now: float) -> list[tuple[str, str]]:
    """``error``, ``error_subcode``, ``error_description`` (with Entra's trace lines), ``error_uri``, ``state``."""
    trace_id, correlation_id = str(uuid.uuid4()), aadsts.correlation_id_for(request.header("client-request-id"))
    timestamp = aadsts.format_timestamp(now)
    description = (
        f"AADSTS{err.code}: {err.text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\n"
        f"Timestamp: {timestamp}"
    )
    answer = [("error", err.error)]
    if err.suberror:
        answer.append(("error_subcode", err.suberror))
    answer += [("error_description", description), ("error_uri", f"https://{request.host}/error?code={err.code}")]
    if "state" in params:
        answer.append(("state", params["state"]))
    return answer
