"""Microsoft Graph, as much as the connector reads: an application's own credentials.

``GET /v1.0/applications(appId='{client id}')`` on graph.microsoft.com, graph.microsoft.us,
dod-graph.microsoft.us or microsoftgraph.chinacloudapi.cn ("Get application"), with an app-only
token whose ``aud`` is that host (scope ``https://{host}/.default``). ``$select`` keeps the named
properties; ``passwordCredentials[]`` carry keyId, displayName, hint (first three characters),
startDateTime, endDateTime and ``secretText: null``; ``keyCredentials[]`` carry
customKeyIdentifier (the SHA-1 thumbprint as Edm.Binary, so base64), displayName (the subject),
start/endDateTime from the certificate, ``type: AsymmetricX509Cert``, ``usage: Verify``, and
``key`` (base64 DER) only when keyCredentials is in ``$select``, as the resource page says.
``.../federatedIdentityCredentials`` lists the app's federated credentials (id, name, issuer, subject,
description, audiences) under the same permissions.

Errors use Graph's body ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}``: no, bad or expired token 401 ``InvalidAuthenticationToken``; no
Application.Read.All or Application.ReadWrite.All in ``roles`` 403 ``Authorization_RequestDenied``
("Insufficient privileges to complete the operation."); an appId not in the token's tenant 404
``Request_ResourceNotFound``. Application.ReadWrite.OwnedBy is not enough here: an app does not
own itself, and the simulator has no owners.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from http import HTTPStatus

import jwt
from cryptography.hazmat.primitives import hashes, serialization

from . import tokens
from .messages import Request, Response
from .scopes import GRAPH_APP_ID
from .state import GRAPH_CLOUDS, App, Directory, RegisteredCertificate, Secret

READ_APPLICATIONS = ("Application.Read.All", "Application.ReadWrite.All")
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
INSUFFICIENT_PRIVILEGES = "Insufficient privileges to complete the operation."
# 401 messages as Graph words them (seen in real answers; the docs give only the code).
TOKEN_EMPTY = "Access token is empty."
TOKEN_EXPIRED = "Lifetime validation failed, the token is expired."
TOKEN_INVALID = "Access token validation failure. Invalid audience."
TOKEN_MALFORMED = "IDX14100: JWT is not well formed, there are no dots (.)."
FORCED_CODES = {429: "activityLimitReached", 503: "serviceNotAvailable"}  # the errors page's codes

_APPLICATION = re.compile(
    r"/v1\.0/applications\(appId='(?P<app_id>[^']*)'\)(?P<federated>/federatedIdentityCredentials)?"
)


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def iso(timestamp: float | None) -> str | None:
    """Graph's DateTimeOffset in UTC, ``2014-01-01T00:00:00Z``."""
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_response(request: Request, status: int, code: str, message: str, now: float) -> Response:
    request_id = str(uuid.uuid4())
    client_request_id = request.header("client-request-id") or request_id
    inner = {
        "date": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
    }
    headers = {"request-id": request_id, "client-request-id": client_request_id}
    if status == 401:
        headers["WWW-Authenticate"] = (
            'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
            f'client_id="{GRAPH_APP_ID}"'
        )
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    return Response.json(status, body, headers, content_type="application/json")


def forced_error(request: Request, status: int, headers: dict[str, str], now: float) -> Response:
    """The body Graph pairs with a status forced by a knob."""
    response = error_response(
        request, status, FORCED_CODES.get(status, "generalException"), HTTPStatus(status).phrase, now
    )
    response.headers.update(headers)
    return response


class GraphService:
    """Routes requests whose Host is one of :data:`.state.GRAPH_CLOUDS`."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def handle(self, request: Request) -> Response:
        now = self.directory.now()
        try:
            claims = self.authenticate(request, now)
            match = _APPLICATION.fullmatch(request.path)
            if match is None:
                raise GraphError(400, "BadRequest", f"Resource not found for the segment '{_segment(request)}'.")
            if request.method != "GET":
                raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request.")
            if match["federated"]:
                return self.list_federated_credentials(request, claims, match["app_id"])
            return self.get_application(request, claims, match["app_id"])
        except GraphError as err:
            return error_response(request, err.status, err.code, err.message, now)

    def authenticate(self, request: Request, now: float) -> dict:
        """The app-only token's claims, if it was issued for this Graph host by a tenant of its cloud."""
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GraphError(401, "InvalidAuthenticationToken", TOKEN_EMPTY)
        try:
            claims = tokens.decode_access_token(token.strip())
        except jwt.InvalidSignatureError:
            raise GraphError(401, "InvalidAuthenticationToken", TOKEN_INVALID) from None
        except jwt.InvalidTokenError:
            raise GraphError(401, "InvalidAuthenticationToken", TOKEN_MALFORMED) from None
        tenant = self.directory.get_tenant(str(claims.get("tid", "")))
        if (
            tenant is None
            or tenant.cloud != GRAPH_CLOUDS[request.host]
            or str(claims.get("aud", "")).rstrip("/") != f"https://{request.host}"
            or claims.get("iss") != tokens.issuer_for(tenant.tenant_id, tenant.cloud)
        ):
            raise GraphError(401, "InvalidAuthenticationToken", TOKEN_INVALID)
        if now > claims.get("exp", 0):
            raise GraphError(401, "InvalidAuthenticationToken", TOKEN_EXPIRED)
        return claims

    def readable_app(self, claims: dict, app_id: str) -> App:
        if not set(READ_APPLICATIONS) & set(claims.get("roles") or []):
            raise GraphError(403, "Authorization_RequestDenied", INSUFFICIENT_PRIVILEGES)
        app = self.directory.find_app(claims["tid"], app_id)
        if app is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{app_id}' does not exist or one of its queried reference-property objects are not present.",
            )
        return app

    def list_federated_credentials(self, request: Request, claims: dict, app_id: str) -> Response:
        """``GET /v1.0/applications(appId='...')/federatedIdentityCredentials`` (List federatedIdentityCredentials)."""
        app = self.readable_app(claims, app_id)
        context = f"https://{request.host}/v1.0/$metadata#applications('{app.application_object_id}')"
        body = {
            "@odata.context": context + "/federatedIdentityCredentials",
            "value": [credential.as_graph() for credential in app.federated_credentials],
        }
        return Response.json(200, body, content_type=ODATA_JSON)

    def get_application(self, request: Request, claims: dict, app_id: str) -> Response:
        app = self.readable_app(claims, app_id)
        selected = _selected(request)
        entity = application_entity(app, with_keys="keyCredentials" in (selected or ()))
        if selected is not None:
            entity = {name: value for name, value in entity.items() if name in selected}
        context = f"https://{request.host}/v1.0/$metadata#applications"
        context += f"({','.join(selected)})/$entity" if selected else "/$entity"
        return Response.json(200, {"@odata.context": context, **entity}, content_type=ODATA_JSON)


def application_entity(app: App, with_keys: bool) -> dict:
    """The application resource's properties the simulator knows."""
    return {
        "id": app.application_object_id,
        "appId": app.client_id,
        "displayName": app.display_name,
        "keyCredentials": [key_credential(c, with_keys) for c in app.certificates],
        "passwordCredentials": [password_credential(s) for s in app.secrets],
    }


def password_credential(secret: Secret) -> dict:
    return {
        "customKeyIdentifier": None,
        "displayName": secret.display_name,
        "endDateTime": iso(secret.expires_at),
        "hint": secret.hint,
        "keyId": secret.secret_id,
        "secretText": None,
        "startDateTime": iso(secret.created_at),
    }


def key_credential(registered: RegisteredCertificate, with_key: bool) -> dict:
    certificate = registered.certificate
    der = certificate.public_bytes(serialization.Encoding.DER)
    return {
        "customKeyIdentifier": base64.b64encode(certificate.fingerprint(hashes.SHA1())).decode(),
        "displayName": registered.display_name,
        "endDateTime": iso(certificate.not_valid_after_utc.timestamp()),
        "key": base64.b64encode(der).decode() if with_key else None,
        "keyId": registered.key_id,
        "startDateTime": iso(certificate.not_valid_before_utc.timestamp()),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }


def _selected(request: Request) -> list[str] | None:
    value = request.query_params().get("$select")
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


def _segment(request: Request) -> str:
    return request.path.strip("/").split("/")[-1]
