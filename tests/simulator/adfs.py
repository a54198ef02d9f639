"""An AD FS (2016 or newer) stand-in: OpenID discovery and the client credentials grant of server applications.

``GET /adfs/.well-known/openid-configuration`` answers like AD FS (issuer ``https://{host}/adfs``,
token endpoint ``https://{host}/adfs/oauth2/token/``). ``POST /adfs/oauth2/token`` takes
``grant_type=client_credentials`` with ``client_id``, ``client_secret`` and ``resource`` (the relying
party identifier) and refuses as AD FS does::

    invalid_client        MSIS9607  unknown client_id
    invalid_client        MSIS9622  wrong client secret
    invalid_resource      MSIS9602  no relying party with that identifier
    unauthorized_client   MSIS9605  the client has no permission for that relying party

Access tokens are RS256 JWTs signed with AD FS's own key: ``iss`` = ``http://{host}/adfs/services/trust``,
``aud`` = the relying party, ``appid`` = the client, and the ``upn`` an issuance rule gives the client.
"""

from __future__ import annotations

import functools
import time
import uuid

import jwt

from .certs import CertBundle, make_certificate
from .messages import Request, Response
from .onprem_state import OnPremDirectory

TOKEN_LIFETIME = 3600
ADFS_HOST = "adfs.contoso.com"
MESSAGES = {
    9607: "MSIS9607: The 'client_id' parameter in the request is invalid. No registered client is found with this "
    "identifier.",
    9622: "MSIS9622: Client authentication failed. Please verify the credential provided for client authentication "
    "is valid.",
    9602: "MSIS9602: The received 'resource' parameter is invalid. The authorization server can not find a "
    "registered resource with the specified identifier.",
    9605: "MSIS9605: The client is not allowed to access the requested resource.",
}


@functools.cache
def signing_bundle() -> CertBundle:
    return make_certificate("ADFS Signing - adfs.contoso.com", valid_days=365)


def issuer_url(host: str = ADFS_HOST) -> str:
    return f"https://{host}/adfs"


def token_issuer(host: str = ADFS_HOST) -> str:
    return f"http://{host}/adfs/services/trust"


class AdfsService:
    def __init__(self, directory: OnPremDirectory) -> None:
        self.directory = directory

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/").lower()
        if path == "/adfs/.well-known/openid-configuration" and request.method == "GET":
            return Response.json(200, self.discovery(request.host))
        if path == "/adfs/oauth2/token" and request.method == "POST":
            return self.token(request)
        return Response(404, {"Content-Type": "text/html"}, b"<h1>404 - File or directory not found.</h1>")

    @staticmethod
    def discovery(host: str) -> dict:
        base = issuer_url(host)
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth2/authorize/",
            "token_endpoint": f"{base}/oauth2/token/",
            "jwks_uri": f"{base}/discovery/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token", "code token"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password"],
            "scopes_supported": ["openid", "profile", "email", "allatclaims"],
            "access_token_issuer": token_issuer(host),
        }

    def token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return self.error("unsupported_grant_type", "MSIS9611: The authorization server does not support the "
                              "requested 'grant_type'.")  # fmt: skip
        client = self.directory.adfs_clients.get(form.get("client_id", ""))
        if client is None:
            return self.error("invalid_client", MESSAGES[9607])
        if form.get("client_secret") != client.secret:
            return self.error("invalid_client", MESSAGES[9622])
        resource = form.get("resource", "")
        if resource not in self.directory.relying_parties:
            return self.error("invalid_resource", MESSAGES[9602])
        if resource not in client.resources:
            return self.error("unauthorized_client", MESSAGES[9605])
        return Response.json(
            200,
            {
                "access_token": self.issue(request.host, client.client_id, resource, client.upn),
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME,
                "resource": resource,
            },
            {"Cache-Control": "no-store"},
        )

    @staticmethod
    def issue(host: str, client_id: str, resource: str, upn: str) -> str:
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": token_issuer(host),
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "appid": client_id,
            "apptype": "Confidential",
            "auth_time": now,
            "ver": "1.0",
            "jti": str(uuid.uuid4()),
        }
        if upn:
            claims["upn"] = upn
        return jwt.encode(claims, signing_bundle().private_key, algorithm="RS256", headers={"kid": "adfs-signing"})

    @staticmethod
    def error(code: str, description: str) -> Response:
        return Response.json(400, {"error": code, "error_description": description})
