"""Tokens for a signed-in user: v1.0 delegated access tokens, v2.0 ID tokens, client_info.

The access token is what Dataverse receives for ``{env}/user_impersonation``
(Dataverse accepts v1.0 tokens): ``iss`` ``https://sts.windows.net/{tid}/``,
``aud`` the environment URL without trailing slash, ``scp`` ``user_impersonation``,
``oid``/``upn``/``name`` of the user, ``appid``/``azp`` of the client.
The ID token is v2.0: ``iss`` ``https://{authority host}/{tid}/v2.0``, ``aud`` the
client id, ``nonce`` echoed from /authorize (code grant only), ``sub`` pairwise
per app. ``client_info`` is ``base64url({"uid": oid, "utid": tid})``; msal builds
its account (``home_account_id`` ``oid.tid``) from it.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from . import tokens
from .tokens import b64url
from .users import SignIn, User

ID_TOKEN_LIFETIME = 3600


def pairwise_sub(object_id: str, salt: str) -> str:
    """A ``sub`` that differs per app (or per resource), as Entra's pairwise subjects do."""
    return b64url(hashlib.sha256(f"{object_id}|{salt}".encode()).digest())[:43]


def client_info(user: User) -> str:
    payload = json.dumps({"uid": user.object_id, "utid": user.tenant_id}, separators=(",", ":"))
    return b64url(payload.encode())


def _names(user: User) -> dict:
    given, _, family = user.display_name.partition(" ")
    return {"given_name": given, "family_name": family} if family else {}


def issue_user_access_token(
    *,
    now: float,
    lifetime: int,
    cloud: str,
    sign_in: SignIn,
    audience: str,
    scp: str,
    credential_kind: str,
) -> str:
    user, issued = sign_in.user, int(now)
    iss = tokens.issuer_for(user.tenant_id, cloud)
    claims = {
        "aud": audience,
        "iss": iss,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "acr": "1",
        "aio": b64url(uuid.uuid4().bytes),
        "amr": ["pwd"],
        "appid": sign_in.client_id,
        "appidacr": "1" if credential_kind == "secret" else "2",
        "azp": sign_in.client_id,
        **_names(user),
        "idtyp": "user",
        "ipaddr": "127.0.0.1",
        "name": user.display_name,
        "oid": user.object_id,
        "puid": hashlib.sha256(user.object_id.encode()).hexdigest()[:16].upper(),
        "rh": "0.simulator.",
        "scp": scp,
        "sid": sign_in.session_id,
        "sub": pairwise_sub(user.object_id, audience),
        "tid": user.tenant_id,
        "unique_name": user.upn,
        "upn": user.upn,
        "uti": b64url(uuid.uuid4().bytes)[:22],
        "ver": "1.0",
    }
    return tokens.sign(claims)


def issue_id_token(*, now: float, host: str, sign_in: SignIn, nonce: str | None) -> str:
    user, issued = sign_in.user, int(now)
    claims = {
        "aud": sign_in.client_id,
        "iss": f"https://{host}/{user.tenant_id}/v2.0",
        "iat": issued,
        "nbf": issued,
        "exp": issued + ID_TOKEN_LIFETIME,
        "aio": b64url(uuid.uuid4().bytes),
        "name": user.display_name,
        **({"nonce": nonce} if nonce else {}),
        "oid": user.object_id,
        "preferred_username": user.upn,
        "rh": "0.simulator.",
        "sid": sign_in.session_id,
        "sub": pairwise_sub(user.object_id, sign_in.client_id),
        "tid": user.tenant_id,
        "uti": b64url(uuid.uuid4().bytes)[:22],
        "ver": "2.0",
    }
    return tokens.sign(claims)
