"""The Dataverse Web API of registered environments: WhoAmI, RetrieveVersion and the tables (:mod:`.table_api`).

Requests are authenticated first (as Dataverse does): a missing or invalid bearer
token gets 401 with an empty body and a ``WWW-Authenticate`` challenge built the
way Dataverse builds it (unquoted values)::

    Bearer error=invalid_token, error_description=Security Token Expired!,
    authorization_uri=https://login.microsoftonline.com/{tid}/oauth2/authorize,
    resource_id=https://org.crm.dynamics.com/

(no ``error``/``error_description`` when no token was sent). A valid token of an
app without an application user in the environment, or a delegated token
(``scp``) of a user who is not a member (``Simulator.add_dataverse_user``),
gets 403 ``0x80072560``; an environment's app access control and IP firewall refuse with 403 first
(:mod:`.access_control`). A member's requests count against the service protection
limits (:mod:`.protection`): 429 with ``Retry-After`` when one is used up, otherwise the
``x-ms-ratelimit-*-remaining-xrm-requests`` headers on the answer.
Token lifetimes get Dataverse's 5 minutes of clock skew.
"""

from __future__ import annotations

import re
import uuid
from http import HTTPStatus

import jwt

from . import tokens
from .access_control import AccessControl
from .messages import Request, Response
from .protection import REQUESTS, Limits, ServiceProtection, worded
from .roles import Security
from .state import ApplicationUser, Directory, Environment, environment_key
from .table_api import INTERACTIVE, NON_INTERACTIVE, Caller, TableApi
from .tables import Catalogue
from .users import DataverseUser

ODATA_JSON = "application/json; odata.metadata=minimal"
CLOCK_SKEW = 300
NOT_A_MEMBER = ("0x80072560", "The user is not a member of the organization.")
NOT_FOUND_CODE = "0x80060888"
GENERIC_CODE = "0x80040216"
# Descriptions Dataverse puts in the challenge, by failure.
MALFORMED = "Error during token validation!"
INVALID = "Security Token Validation Failed!"
EXPIRED = "Security Token Expired!"
NOT_YET_VALID = "Security Token Not Yet Valid!"

_API_PATH = re.compile(r"/api/data/(?P<version>v9\.[012])/(?P<segment>.*)")


class Unauthorized(Exception):
    def __init__(self, description: str | None) -> None:
        super().__init__(description)
        self.description = description


def odata_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """``{"error": {"code": ..., "message": ...}}`` with Dataverse's headers."""
    return Response.json(
        status,
        {"error": {"code": code, "message": message}},
        {"OData-Version": "4.0", **(headers or {})},
        content_type=ODATA_JSON,
    )


def forced_response(status: int, headers: dict[str, str]) -> Response:
    """The body Dataverse pairs with a status forced by a knob (429 is service protection)."""
    if status == 429:
        return odata_error(429, *worded(REQUESTS, Limits()), headers=headers)
    return odata_error(status, GENERIC_CODE, HTTPStatus(status).phrase, headers=headers)


class DataverseService:
    """Routes requests whose Host is a registered environment (or its ``.api.`` twin)."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.protection = ServiceProtection()
        self.functions = {"WhoAmI": self.whoami, "RetrieveVersion": self.retrieve_version}
        self.access = AccessControl()
        self.tables = TableApi(Catalogue(), Security())
        self.tables.user_exists = self.user_exists

    def reset(self) -> None:
        """Forget the knobs, tables and roles (every environment starts with the default catalogue)."""
        self.clear_knobs()
        self.tables.catalogue.reset()
        self.tables.security.reset()

    def clear_knobs(self) -> None:
        self.protection.reset()
        self.access.reset()
        self.tables.endless.clear()

    def handle(self, request: Request) -> Response:
        env = self.directory.find_environment(request.host)
        if env is None:
            return Response.empty(404)
        try:
            claims = self.authenticate(request, env)
        except Unauthorized as err:
            return self.challenge(env, err.description)
        refused = self.access.refusal(environment_key(env.host), request, claims)
        if refused is not None:
            return odata_error(403, *refused)
        user = self.member(env, claims)
        if user is None:
            return odata_error(403, *NOT_A_MEMBER)
        refusal, limit_headers = self.protection.charge(environment_key(env.host), claims, self.directory.now())
        if refusal is not None:
            return odata_error(429, refusal.code, refusal.message, {"Retry-After": str(refusal.retry_after)})
        response = self.answer(request, env, user)
        response.headers.update(limit_headers)
        return response

    def answer(self, request: Request, env: Environment, user: ApplicationUser | DataverseUser) -> Response:
        match = _API_PATH.fullmatch(request.path)
        segment = match["segment"] if match else request.path.strip("/").split("/")[0]
        function = self.functions.get(segment.removesuffix("()")) if match else None
        if function is None and match and request.method == "GET":
            access_mode = NON_INTERACTIVE if isinstance(user, ApplicationUser) else INTERACTIVE
            caller = Caller(user.user_id, env.business_unit_id, access_mode)
            base = f"https://{request.host}/api/data/{match['version']}/"
            answer = self.tables.route(request, environment_key(env.host), base, segment, caller)
            if answer is not None:
                return answer
        if function is None:
            segment = re.split(r"[/(]", segment, maxsplit=1)[0]
            return odata_error(404, NOT_FOUND_CODE, f"Resource not found for the segment '{segment}'.")
        if request.method != "GET":
            return odata_error(
                405, GENERIC_CODE, f"The requested resource does not support http method '{request.method}'."
            )
        return function(request, env, user, match["version"])

    def user_exists(self, env_key: str, user_id: str) -> bool:
        """Whether ``user_id`` is the systemuserid of an application user or a Dataverse user of the environment."""
        env = self.directory.find_environment(env_key)
        with self.directory._lock:
            app_users = {u.user_id.lower() for u in env.users.values()} if env else set()
        members = self.directory.delegated.dataverse_users
        people = {m.user_id.lower() for (key, _), m in list(members.items()) if key == env_key}
        return user_id.lower() in app_users | people

    def member(self, env: Environment, claims: dict) -> ApplicationUser | DataverseUser | None:
        """The systemuser behind the token: the signed-in user (``scp``) or the app (application user)."""
        if "scp" in claims:
            return self.directory.delegated.find_dataverse_user(environment_key(env.host), claims.get("oid", ""))
        return self.directory.find_application_user(env, claims.get("appid") or claims.get("azp") or "")

    def authenticate(self, request: Request, env: Environment) -> dict:
        """Return the bearer token's claims, or raise :class:`Unauthorized`."""
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(None)
        try:
            claims = tokens.decode_access_token(token.strip())
        except jwt.InvalidSignatureError:
            raise Unauthorized(INVALID) from None
        except jwt.InvalidTokenError:
            raise Unauthorized(MALFORMED) from None
        tenant = self.directory.get_tenant(env.tenant_id)
        audience = str(claims.get("aud", "")).rstrip("/").lower()
        if (
            claims.get("tid") != env.tenant_id
            or claims.get("iss") != tokens.issuer_for(env.tenant_id, tenant.cloud)
            or self.directory.find_environment(audience) is not env
            or not audience.startswith("https://")
        ):
            raise Unauthorized(INVALID)
        now = self.directory.now()
        if now > claims.get("exp", 0) + CLOCK_SKEW:
            raise Unauthorized(EXPIRED)
        if now + CLOCK_SKEW < claims.get("nbf", 0):
            raise Unauthorized(NOT_YET_VALID)
        return claims

    def challenge(self, env: Environment, description: str | None) -> Response:
        tenant = self.directory.get_tenant(env.tenant_id)
        parts = [f"error=invalid_token, error_description={description}"] if description else []
        parts += [
            f"authorization_uri=https://{tenant.authority_host}/{tenant.tenant_id}/oauth2/authorize",
            f"resource_id={env.url}",
        ]
        return Response.empty(401, {"WWW-Authenticate": "Bearer " + ", ".join(parts)})

    def whoami(
        self, request: Request, env: Environment, user: ApplicationUser | DataverseUser, version: str
    ) -> Response:
        return self._ok(
            request,
            version,
            "WhoAmIResponse",
            {
                "BusinessUnitId": env.business_unit_id,
                "UserId": user.user_id,
                "OrganizationId": env.organization_id,
            },
        )

    def retrieve_version(
        self, request: Request, env: Environment, user: ApplicationUser | DataverseUser, version: str
    ) -> Response:
        return self._ok(request, version, "RetrieveVersionResponse", {"Version": env.version})

    @staticmethod
    def _ok(request: Request, version: str, type_name: str, values: dict) -> Response:
        context = f"https://{request.host}/api/data/{version}/$metadata#Microsoft.Dynamics.CRM.{type_name}"
        headers = {"OData-Version": "4.0", "REQ_ID": str(uuid.uuid4())}
        return Response.json(200, {"@odata.context": context, **values}, headers, content_type=ODATA_JSON)
