"""A managed-identity endpoint, plain HTTP like the real ones: Azure IMDS or App Service's IDENTITY_ENDPOINT.

It hands out what Entra would issue to the identity's service principal for ``<resource>/.default`` (``appid`` /
``azp`` = the identity's client id, ``oid`` = its object (principal) id, ``tid``), so an application user for the
identity's client id makes Dataverse's WhoAmI answer, and without one WhoAmI answers 403 0x80072560 as for any app.

IMDS: ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...[&client_id=|&msi_res_id=|
&object_id=]`` with ``Metadata: true``; App Service: ``GET /msi/token?resource=...&api-version=2019-08-01
[&client_id=|&mi_res_id=|&principal_id=]`` with ``X-IDENTITY-HEADER``. Errors as each answers them.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import aadsts, tokens
from .knobs import DROP, SILENT, Forced, Knobs
from .messages import Request, Response
from .server import RequestLog, SimulatorServer, _Handler
from .state import GRAPH_CLOUDS, Directory

IMDS_PATH = "/metadata/identity/oauth2/token"
APP_SERVICE_PATH = "/msi/token"
IMDS_API_VERSION = "2018-02-01"
APP_SERVICE_API_VERSION = "2019-08-01"
# Query parameter -> the identity's attribute it names, per endpoint.
SELECTORS = {
    "imds": {"client_id": "client_id", "msi_res_id": "resource_id", "object_id": "object_id"},
    "app_service": {"client_id": "client_id", "mi_res_id": "resource_id", "principal_id": "object_id"},
}
IMDS_IDENTITY_NOT_FOUND = {"error": "invalid_request", "error_description": "Identity not found"}
IMDS_MULTIPLE = {
    "error": "invalid_request",
    "error_description": "Multiple user assigned identities exist, please specify the clientId / resourceId of the "
    "identity in the token request",
}
IMDS_NO_METADATA = {"error": "invalid_request", "error_description": "Required metadata header not specified"}
APP_SERVICE_NOT_FOUND = "Unable to load the proper Managed Identity."


@dataclass
class ManagedIdentityPrincipal:
    """A managed identity's service principal: ``client_id``, ``object_id`` (principal id), ``resource_id``."""

    tenant_id: str
    name: str
    user_assigned: bool
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    resource_id: str = ""

    def __post_init__(self) -> None:
        if self.user_assigned and not self.resource_id:
            self.resource_id = (
                f"/subscriptions/{uuid.uuid4()}/resourcegroups/rg-{self.name}/providers/"
                f"Microsoft.ManagedIdentity/userAssignedIdentities/{self.name}"
            )


class PlainServer(SimulatorServer):
    """The simulator's threaded server without TLS: managed-identity endpoints speak plain HTTP."""

    def finish_request(self, request, client_address) -> None:
        connection_id = next(self._connection_ids)
        self._track(request, True)
        try:
            _Handler(request, client_address, self, connection_id)
        finally:
            self._track(request, False)


class ManagedIdentityEndpoint:
    """The managed-identity endpoint of "this machine": ``assign(identity)`` attaches an identity to it."""

    def __init__(self, directory: Directory, log: RequestLog, knobs: Knobs, kind: str, host: str, port: int):
        if kind not in SELECTORS:
            raise ValueError(f"kind must be 'imds' or 'app_service', not {kind!r}")
        self.directory, self.knobs, self.kind = directory, knobs, kind
        self.system: ManagedIdentityPrincipal | None = None
        self.user_assigned: list[ManagedIdentityPrincipal] = []
        self.identity_header = secrets.token_urlsafe(24)  # App Service's IDENTITY_HEADER
        self._server = PlainServer((host, port), None, self._dispatch, log)
        self.host, self.port = host, self._server.server_address[1]
        self._log = log
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"mi:{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def path(self) -> str:
        return IMDS_PATH if self.kind == "imds" else APP_SERVICE_PATH

    @property
    def base_url(self) -> str:
        """IMDS's root (AZURE_POD_IDENTITY_AUTHORITY_HOST); App Service's token URL (IDENTITY_ENDPOINT)."""
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        root = f"http://{netloc}" + ("" if self.port == 80 else f":{self.port}")
        return root if self.kind == "imds" else root + APP_SERVICE_PATH

    def assign(self, identity: ManagedIdentityPrincipal) -> None:
        if not identity.user_assigned:
            self.system = identity
        elif identity not in self.user_assigned:
            self.user_assigned.append(identity)

    def unassign(self, identity: ManagedIdentityPrincipal) -> None:
        if self.system is identity:
            self.system = None
        elif identity in self.user_assigned:
            self.user_assigned.remove(identity)

    def count(self) -> int:
        """How many requests reached this endpoint (by the Host they named: its address)."""
        return sum(1 for record in self._log.snapshot() if record.host == self.host.lower())

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._thread.join(timeout=2)
        self._server.server_close()
        self._server.abort_connections()

    # --- answers -------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response | str:
        decision = self.knobs.decide(request)
        if decision.delay and self._server.stopping.wait(decision.delay):
            return DROP
        if decision.outcome in (SILENT, DROP):
            return decision.outcome
        if isinstance(decision.outcome, Forced):
            body = decision.outcome.body
            if isinstance(body, dict):
                return Response.json(decision.outcome.status, body, decision.outcome.headers)
            return Response(decision.outcome.status, decision.outcome.headers, (body or "").encode())
        if request.path != self.path or request.method != "GET":
            return Response.empty(404)
        return self._imds(request) if self.kind == "imds" else self._app_service(request)

    def _imds(self, request: Request) -> Response:
        params = request.query_params()
        if (request.header("Metadata") or "").lower() != "true":
            return Response.json(400, IMDS_NO_METADATA)
        if params.get("api-version") != IMDS_API_VERSION or not params.get("resource"):
            missing = "resource" if params.get("api-version") else "api-version"
            return Response.json(400, {"error": "invalid_request", "error_description": f"{missing} is required"})
        identity, problem = self._select(params)
        if identity is None:
            return Response.json(400, problem)
        audience = self._audience(params["resource"], identity)
        if audience is None:
            tenant = self.directory.get_tenant(identity.tenant_id)
            text = aadsts.RESOURCE_NOT_FOUND.format(resource=params["resource"], tenant_name=tenant.display_name)
            return Response.json(400, {"error": "invalid_resource", "error_description": f"AADSTS500011: {text}"})
        return Response.json(200, self._token(identity, audience, params["resource"], expires_in=True))

    def _app_service(self, request: Request) -> Response:
        params = request.query_params()
        header = request.header("X-IDENTITY-HEADER")
        if header is None:
            return self._app_service_error(400, "The X-IDENTITY-HEADER header is required.")
        if header != self.identity_header:
            return self._app_service_error(401, "The X-IDENTITY-HEADER value is not valid.")
        if params.get("api-version") != APP_SERVICE_API_VERSION or not params.get("resource"):
            return self._app_service_error(400, "The api-version and resource query parameters are required.")
        identity, _ = self._select(params)
        if identity is None:
            return self._app_service_error(400, APP_SERVICE_NOT_FOUND)
        audience = self._audience(params["resource"], identity)
        if audience is None:  # App Service hides Entra's AADSTS500011 behind a vague 500
            return self._app_service_error(500, "An unexpected error occured while fetching the AAD Token.")
        return Response.json(200, self._token(identity, audience, params["resource"], expires_in=False))

    @staticmethod
    def _app_service_error(status: int, message: str) -> Response:
        return Response.json(status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())})

    def _select(self, params: dict) -> tuple[ManagedIdentityPrincipal | None, dict]:
        """The identity the request names, or the system-assigned one, or the only user-assigned one (as IMDS)."""
        for parameter, attribute in SELECTORS[self.kind].items():
            if parameter in params:
                wanted = params[parameter].lower()
                candidates = [self.system, *self.user_assigned]
                match = next((i for i in candidates if i and getattr(i, attribute).lower() == wanted), None)
                return match, IMDS_IDENTITY_NOT_FOUND
        if self.system is not None:
            return self.system, {}
        if len(self.user_assigned) == 1:
            return self.user_assigned[0], {}
        return None, IMDS_MULTIPLE if self.user_assigned else IMDS_IDENTITY_NOT_FOUND

    def _audience(self, resource: str, identity: ManagedIdentityPrincipal) -> str | None:
        """The token's ``aud`` for a resource Entra knows in the identity's cloud (an environment, Graph)."""
        parts = urlsplit(resource)
        tenant = self.directory.get_tenant(identity.tenant_id)
        if parts.scheme != "https" or parts.path.strip("/") or tenant is None:
            return None
        if GRAPH_CLOUDS.get(parts.hostname or "") == tenant.cloud:
            return f"https://{parts.hostname}"
        env = self.directory.find_environment(resource)
        env_tenant = self.directory.get_tenant(env.tenant_id) if env else None
        return resource.rstrip("/") if env_tenant is not None and env_tenant.cloud == tenant.cloud else None

    def _token(self, identity: ManagedIdentityPrincipal, audience: str, resource: str, expires_in: bool) -> dict:
        tenant = self.directory.get_tenant(identity.tenant_id)
        now = int(self.directory.now())
        lifetime = self.directory.delegated.policy.access_token_lifetime
        access_token = tokens.issue_access_token(
            now=now,
            tenant_id=tenant.tenant_id,
            cloud=tenant.cloud,
            audience=audience,
            client_id=identity.client_id,
            object_id=identity.object_id,
            credential_kind="managed_identity",
            lifetime=lifetime,
        )
        answer = {"access_token": access_token, "client_id": identity.client_id}
        if expires_in:  # IMDS gives every number as a string
            answer.update(expires_in=str(lifetime), ext_expires_in=str(lifetime), not_before=str(now))
        answer.update(expires_on=str(now + lifetime), resource=resource, token_type="Bearer")
        return answer
