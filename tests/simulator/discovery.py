"""Entra's discovery documents: OpenID configuration (v2.0) and instance discovery."""

from __future__ import annotations

from urllib.parse import urlsplit

CLOUD_METADATA = {
    "public": {
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "tenant_region_scope": "NA",
    },
    "usgov": {
        "cloud_instance_name": "microsoftonline.us",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.us",
        "tenant_region_scope": "USGov",
    },
    "china": {
        "cloud_instance_name": "partner.microsoftonline.cn",
        "cloud_graph_host_name": "graph.chinacloudapi.cn",
        "msgraph_host": "microsoftgraph.chinacloudapi.cn",
        "tenant_region_scope": "AS",
    },
}
INSTANCE_METADATA = [
    {
        "preferred_network": "login.microsoftonline.com",
        "preferred_cache": "login.windows.net",
        "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"],
    },
    {
        "preferred_network": "login.partner.microsoftonline.cn",
        "preferred_cache": "login.partner.microsoftonline.cn",
        "aliases": ["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    },
    {
        "preferred_network": "login.microsoftonline.us",
        "preferred_cache": "login.microsoftonline.us",
        "aliases": ["login.microsoftonline.us", "login.usgovcloudapi.net"],
    },
]


def instance_discovery_document(authorization_endpoint: str, default_host: str) -> dict:
    """``/common/discovery/instance?authorization_endpoint=...`` (msal may call it)."""
    parts = urlsplit(authorization_endpoint)
    tenant = parts.path.strip("/").split("/")[0] or "common"
    host = parts.hostname or default_host
    return {
        "tenant_discovery_endpoint": f"https://{host}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": INSTANCE_METADATA,
    }


def openid_document(host: str, tid: str, path_tenant: str, cloud: str) -> dict:
    """The v2.0 OpenID configuration Entra publishes for a tenant, for ``host``."""
    meta = CLOUD_METADATA[cloud]
    base = f"https://{host}/{path_tenant}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
            "self_signed_tls_client_auth",
        ],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"https://{host}/{tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"https://{meta['msgraph_host']}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": meta["tenant_region_scope"],
        "cloud_instance_name": meta["cloud_instance_name"],
        "cloud_graph_host_name": meta["cloud_graph_host_name"],
        "msgraph_host": meta["msgraph_host"],
        "rbac_url": "https://pas.windows.net",
    }
