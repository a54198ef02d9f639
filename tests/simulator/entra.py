"""Microsoft Entra ID: discovery, keys, the v2.0 authorize and token endpoints.

Grants are looked up in :attr:`EntraService.grants` (``grant_type`` -> method
taking a :class:`TokenContext`): ``client_credentials`` here (for an environment, or
for the cloud's Graph host with the app's ``grant_graph`` permissions in ``roles``), the user grants
``authorization_code`` and ``refresh_token`` in :mod:`.user_grants`. Client
authentication (:meth:`EntraService.authenticate_client`) and error handling
are shared. The browser leg (``/authorize``) is :mod:`.authorize`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import uuid
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlsplit

from . import aadsts, tokens
from .aadsts import EntraError, invalid_client, invalid_request
from .assertion import JWT_BEARER, AssertionCheck, verify_client_assertion
from .authorize import AuthorizeEndpoint
from .discovery import instance_discovery_document, openid_document
from .messages import Request, Response
from .oidc_issuers import OidcIssuers
from .state import AUTHORITY_CLOUDS, GRAPH_CLOUDS, App, Directory, Tenant
from .user_grants import USER_GRANTS, UserGrants

MULTI_TENANT_NAMES = ("common", "organizations", "consumers")


@dataclass
class TokenContext:
    """One token request, after the tenant is resolved."""

    request: Request
    tenant: Tenant | None  # None on /common or /organizations until a user grant names it
    form: dict[str, str]
    now: float


@dataclass
class ClientAuthentication:
    app: App
    kind: str  # "secret", "certificate" or "federated"


class EntraService:
    """Routes requests for the authority hosts (login.microsoftonline.com, ...)."""

    def __init__(self, directory: Directory, issuers: OidcIssuers | None = None) -> None:
        self.directory = directory
        self.issuers = issuers  # external OIDC issuers, for federated client assertions
        user_grants = UserGrants(self)
        self.grants = {
            "client_credentials": self.client_credentials,
            "authorization_code": user_grants.authorization_code,
            "refresh_token": user_grants.refresh_token,
        }
        self.authorize = AuthorizeEndpoint(directory)
        self.routes = [
            (re.compile(r"/(?P<tenant>[^/]+)/oauth2/v2\.0/authorize"), self.authorize.handle),
            (re.compile(r"/common/discovery/instance"), self.instance_discovery),
            (re.compile(r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration"), self.openid_configuration),
            (re.compile(r"/(?P<tenant>[^/]+)/discovery(?:/v2\.0)?/keys"), self.keys),
            (re.compile(r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token"), self.token),
        ]

    def handle(self, request: Request) -> Response:
        """Answer one request; AADSTS errors become Entra's JSON error bodies."""
        for pattern, endpoint in self.routes:
            match = pattern.fullmatch(request.path)
            if match:
                try:
                    return endpoint(request, **match.groupdict())
                except EntraError as err:
                    return self.error(request, err)
        return Response.empty(404)

    def error(self, request: Request, err: EntraError, headers: dict[str, str] | None = None) -> Response:
        return aadsts.error_response(
            err,
            host=request.host,
            now=self.directory.now(),
            client_request_id=request.header("client-request-id"),
            extra_headers=headers,
        )

    # --- discovery ----------------------------------------------------------------

    def instance_discovery(self, request: Request) -> Response:
        authorize = request.query_params().get("authorization_endpoint", "")
        return Response.json(200, instance_discovery_document(authorize, request.host))

    def openid_configuration(self, request: Request, tenant: str) -> Response:
        if tenant.lower() in MULTI_TENANT_NAMES:
            tid, path_tenant, cloud = "{tenantid}", tenant.lower(), AUTHORITY_CLOUDS[request.host]
        else:
            found = self.directory.find_tenant(tenant, request.host)
            if found is None:
                raise EntraError(400, "invalid_tenant", 90002, aadsts.TENANT_NOT_FOUND.format(tenant=tenant))
            tid, path_tenant, cloud = found.tenant_id, found.tenant_id, found.cloud
        return Response.json(200, openid_document(request.host, tid, path_tenant, cloud))

    def keys(self, request: Request, tenant: str) -> Response:
        return Response.json(200, tokens.jwks())

    # --- token endpoint -----------------------------------------------------------

    def token(self, request: Request, tenant: str) -> Response:
        if request.method != "POST":
            raise invalid_request(900561, aadsts.POST_ONLY.format(method=request.method))
        form = request.form()
        found = None
        if tenant.lower() in MULTI_TENANT_NAMES:  # only a user grant can name its tenant
            if tenant.lower() == "consumers" or form.get("grant_type") not in USER_GRANTS:
                raise invalid_request(50059, aadsts.NO_TENANT_INFO)
        else:
            found = self.directory.find_tenant(tenant, request.host)
            if found is None:  # the token endpoint says invalid_request where discovery says invalid_tenant
                raise invalid_request(90002, aadsts.TENANT_NOT_FOUND.format(tenant=tenant))
        grant_type = form.get("grant_type")
        if not grant_type:
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="grant_type"))
        grant = self.grants.get(grant_type)
        if grant is None:
            raise EntraError(
                400, "unsupported_grant_type", 70003, aadsts.UNSUPPORTED_GRANT.format(grant_type=grant_type)
            )
        return grant(TokenContext(request, found, form, self.directory.now()))

    def client_credentials(self, ctx: TokenContext) -> Response:
        """``grant_type=client_credentials``: an app-only token for one resource."""
        client = self.authenticate_client(ctx)
        audience = self.resource_for_client_credentials(ctx)
        roles = client.app.graph_roles if urlsplit(audience).hostname in GRAPH_CLOUDS else []
        lifetime = self.directory.delegated.policy.access_token_lifetime
        access_token = tokens.issue_access_token(
            now=ctx.now,
            tenant_id=ctx.tenant.tenant_id,
            cloud=ctx.tenant.cloud,
            audience=audience,
            client_id=client.app.client_id,
            object_id=client.app.object_id,
            credential_kind=client.kind,
            lifetime=lifetime,
            roles=roles,
        )
        return self.token_response(
            ctx,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": access_token,
            },
        )

    def token_response(self, ctx: TokenContext, payload: dict) -> Response:
        trace_id = str(uuid.uuid4())
        correlation_id = aadsts.correlation_id_for(ctx.request.header("client-request-id"))
        return Response.json(200, payload, aadsts.response_headers(trace_id, correlation_id))

    def authenticate_client(self, ctx: TokenContext) -> ClientAuthentication:
        """Identify the app and check its secret or client assertion (form or HTTP Basic)."""
        basic_id, basic_secret = _basic_credentials(ctx.request.header("Authorization"))
        client_id = ctx.form.get("client_id") or basic_id
        if not client_id:
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="client_id"))
        app = self.directory.find_app(ctx.tenant.tenant_id, client_id)
        if app is None:
            raise EntraError(
                400,
                "unauthorized_client",
                700016,
                aadsts.APP_NOT_FOUND.format(client_id=client_id, tenant_name=ctx.tenant.display_name),
            )
        if not app.enabled:
            raise EntraError(
                400,
                "unauthorized_client",
                7000112,
                aadsts.APP_DISABLED.format(client_id=app.client_id, name=app.display_name),
            )
        assertion = ctx.form.get("client_assertion")
        if assertion:
            if ctx.form.get("client_assertion_type") != JWT_BEARER:
                raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="client_assertion_type"))
            check = AssertionCheck(assertion, app, ctx.tenant, ctx.request.host, ctx.now, self.directory, self.issuers)
            return ClientAuthentication(app, verify_client_assertion(check))
        secret = ctx.form.get("client_secret") or basic_secret
        if not secret:
            raise invalid_client(7000218, aadsts.NO_CREDENTIAL)
        _check_secret(app, secret, ctx.now)
        return ClientAuthentication(app, "secret")

    def resource_for_client_credentials(self, ctx: TokenContext) -> str:
        """Validate ``scope={resource}/.default`` (an environment or the cloud's Graph); return the audience."""
        scope = ctx.form.get("scope", "").strip()
        if not scope:
            raise invalid_request(900144, aadsts.MISSING_PARAMETER.format(name="scope"))
        items = scope.split()
        if len(items) > 1:
            raise EntraError(400, "invalid_scope", 70011, aadsts.SCOPE_INVALID.format(scope=scope))
        if not items[0].endswith("/.default"):
            raise EntraError(400, "invalid_scope", 1002012, aadsts.SCOPE_NOT_DEFAULT.format(scope=scope))
        resource = items[0][: -len("/.default")]
        parts = urlsplit(resource)
        graph_cloud = GRAPH_CLOUDS.get(parts.hostname or "") if parts.scheme == "https" else None
        if graph_cloud == ctx.tenant.cloud and not parts.path.strip("/"):
            return f"https://{parts.hostname}"
        env = self.directory.find_environment(resource) if parts.scheme == "https" else None
        env_tenant = self.directory.get_tenant(env.tenant_id) if env else None
        if env is None or parts.path.strip("/") or env_tenant is None or env_tenant.cloud != ctx.tenant.cloud:
            raise EntraError(
                400,
                "invalid_resource",
                500011,
                aadsts.RESOURCE_NOT_FOUND.format(resource=resource, tenant_name=ctx.tenant.display_name),
            )
        return resource.rstrip("/")


def _basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    """``Authorization: Basic base64(urlencode(id):urlencode(secret))`` (RFC 6749 2.3.1)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else (None, None)


def _check_secret(app: App, presented: str, now: float) -> None:
    for secret in app.secrets:
        if hmac.compare_digest(secret.value.encode(), presented.encode()):
            if secret.expires_at is not None and secret.expires_at <= now:
                raise invalid_client(7000222, aadsts.EXPIRED_SECRET.format(client_id=app.client_id))
            return
    raise invalid_client(7000215, aadsts.INVALID_SECRET.format(client_id=app.client_id))
