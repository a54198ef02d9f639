"""An on-premises Dynamics CRM server: Windows authentication (a real NTLM acceptor), AD FS bearer tokens,
the Web API's WhoAmI, RetrieveVersion and table endpoints (:mod:`.table_api`, under the organization's URL),
and for CRM 2011 to 2015 the OData v2 organization data service (:mod:`.odata_v2`).

Windows authentication works as IIS does it: a request without credentials gets 401 with
``WWW-Authenticate: Negotiate`` and ``WWW-Authenticate: NTLM``; the NTLM negotiate message gets the
challenge (401, connection kept alive); a valid authenticate message authenticates the *connection*, whose
later requests need no header; a wrong password, an unknown or a locked-out account gets 401 again.
A proven account that is not a CRM user of the organization, or a disabled one, gets 403.
"""

from __future__ import annotations

import base64
import re
import uuid

import jwt
import spnego

from . import odata_v2
from .messages import Request, Response
from .onprem_server import ConnectionState
from .onprem_state import CrmServer, CrmUser, OnPremDirectory, Organization
from .roles import Security
from .table_api import Caller, TableApi
from .tables import Catalogue

# Dynamics CRM's own error codes for a caller it cannot use.
USER_DISABLED = ("0x80040225", "The specified user is either disabled or is not a member of any business unit.")
NOT_A_USER = ("0x80040217", "The user {principal} does not exist in Microsoft Dynamics CRM.")
ODATA_JSON = "application/json; odata.metadata=minimal"
ODATA_V2 = "XRMServices/2011/OrganizationData.svc"
_API = re.compile(r"^/(?P<org>[^/]+)/(?P<rest>.*)$")
_WEB_API = re.compile(r"api/data/v(?P<version>\d+\.\d+)/(?P<function>.+)")
UNAUTHORIZED_PAGE = (
    b"<html><body><h1>401 - Unauthorized: Access is denied due to invalid credentials.</h1></body></html>"
)


def crm_error(status: int, code: str, message: str) -> Response:
    return Response.json(status, {"error": {"code": code, "message": message}}, {"OData-Version": "4.0"})


def org_key(org: Organization) -> str:
    """The key of an organization's tables and roles."""
    return org.url.lower()


def route(request: Request, org: Organization, user: CrmUser, rest: str, tables: TableApi) -> Response:
    """The endpoints of an organization: the Web API versions its server has, or the OData v2 service."""
    api = _WEB_API.fullmatch(rest)
    caller = Caller(user.user_id, org.business_unit_id)
    if api and api["version"] in org.web_api_versions:
        function = api["function"].removesuffix("()")
        if function == "WhoAmI":
            values = {
                "BusinessUnitId": org.business_unit_id,
                "UserId": user.user_id,
                "OrganizationId": org.organization_id,
            }
            return _web_api(org, api["version"], "WhoAmIResponse", values)
        if function == "RetrieveVersion":
            return _web_api(org, api["version"], "RetrieveVersionResponse", {"Version": org.version})
        base = f"{org.url.rstrip('/')}/api/data/v{api['version']}/"
        answer = tables.route(request, org_key(org), base, api["function"], caller)
        if answer is not None:
            return answer
        segment = re.split(r"[/(]", api["function"], maxsplit=1)[0]
        return crm_error(404, "0x8006088a", f"Resource not found for the segment '{segment}'.")
    if rest.lower().startswith(ODATA_V2.lower()) and not org.web_api_versions:
        v2_rest = rest[len(ODATA_V2) :].lstrip("/")
        return odata_v2.answer(request, tables, org_key(org), org.url, v2_rest, caller)
    return Response(404, {"Content-Type": "text/html"}, b"<h1>404 - File or directory not found.</h1>")


def _web_api(org: Organization, version: str, type_name: str, values: dict) -> Response:
    context = f"{org.url.rstrip('/')}/api/data/v{version}/$metadata#Microsoft.Dynamics.CRM.{type_name}"
    headers = {"OData-Version": "4.0", "REQ_ID": str(uuid.uuid4())}
    return Response.json(200, {"@odata.context": context, **values}, headers, content_type=ODATA_JSON)


class CrmOnPremService:
    def __init__(self, directory: OnPremDirectory, token_key) -> None:
        self.directory = directory
        self.token_key = token_key  # AD FS's token-signing public key
        self.token_issuer = ""  # the "iss" of AD FS's access tokens
        self.token_issuer_url = ""  # the AD FS address, for the Bearer challenge
        self.tables = TableApi(Catalogue(), Security())  # every organization's tables and roles
        self.tables.user_exists = self.user_exists

    def user_exists(self, key: str, user_id: str) -> bool:
        orgs = [o for server in self.directory.servers.values() for o in server.organizations.values()]
        return any(u.user_id.lower() == user_id.lower() for o in orgs if org_key(o) == key for u in o.users.values())

    def handle(self, request: Request, state: ConnectionState) -> Response:
        server = self.directory.find_server(request.host)
        if server is None or server.plain:
            return Response(404, {"Content-Type": "text/html"}, b"<h1>404 - File or directory not found.</h1>")
        principal, refusal = self.authenticate(request, state, server)
        if refusal is not None:
            return refusal
        match = _API.match(request.path)
        org = server.organizations.get(match["org"].lower()) if match else None
        if org is None:
            return Response(404, {"Content-Type": "text/html"}, b"<h1>404 - Organization not found.</h1>")
        user = org.users.get(principal.lower())
        if user is None:
            return crm_error(403, NOT_A_USER[0], NOT_A_USER[1].format(principal=principal))
        if not user.enabled:
            return crm_error(403, *USER_DISABLED)
        return route(request, org, user, match["rest"], self.tables)

    # --- authentication ---------------------------------------------------------------------------

    def authenticate(self, request: Request, state: ConnectionState, server: CrmServer):
        """The proven principal, or the 401 to answer."""
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            return self._bearer(token.strip(), server)
        if scheme.lower() in ("ntlm", "negotiate") and token:
            return self._ntlm(base64.b64decode(token), state, scheme)
        if state.principal:  # an NTLM-authenticated connection
            return state.principal, None
        return "", self.challenge(server)

    def _ntlm(self, token: bytes, state: ConnectionState, scheme: str):
        message_type = int.from_bytes(token[8:12], "little") if len(token) >= 12 else 0
        if message_type == 1:
            state.principal = ""
            state.ntlm = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
            challenge = base64.b64encode(state.ntlm.step(token)).decode()
            return "", Response(401, {"WWW-Authenticate": f"{scheme} {challenge}"}, UNAUTHORIZED_PAGE)
        acceptor, state.ntlm = state.ntlm, None
        try:
            acceptor.step(token)
            principal = acceptor.client_principal or ""
        except (spnego.exceptions.SpnegoError, AttributeError):
            principal = ""
        account = self.directory.find_windows_user(principal) if principal else None
        if account is None or account.locked:  # Active Directory refuses a locked-out account the same way
            return "", self.challenge(None)
        state.principal = principal
        return principal, None

    def _bearer(self, token: str, server: CrmServer):
        try:
            claims = jwt.decode(
                token, self.token_key, algorithms=["RS256"], audience=server.relying_party, issuer=self.token_issuer
            )
        except jwt.InvalidTokenError:
            return "", self.challenge(server, error="invalid_token")
        return str(claims.get("upn", "")), None

    def challenge(self, server: CrmServer | None, error: str = "") -> Response:
        values = ["Negotiate", "NTLM"]
        if server is not None and server.relying_party:
            authorize = f"{self.token_issuer_url}/oauth2/authorize"
            bearer = f"Bearer authorization_uri={authorize}, resource_id={server.relying_party}"
            values.insert(0, f"{bearer}, error={error}" if error else bearer)
        return Response(401, {"Content-Type": "text/html", "WWW-Authenticate": values}, UNAUTHORIZED_PAGE)
