"""Delegated scopes: ``openid profile offline_access https://org.crm.dynamics.com/user_impersonation``.

A scope is an OpenID Connect scope, a Dataverse permission (``{environment
url}/user_impersonation`` or ``/.default``, matched case-insensitively on the
host, a double slash tolerated), or a Microsoft Graph permission (``User.Read``
or ``https://graph.microsoft.com/User.Read``), which the simulator accepts;
delegated Graph tokens are not served (:mod:`.graph` takes app-only tokens).
Only OpenID scopes means Graph ``User.Read``, as in Entra.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from . import aadsts
from .aadsts import EntraError
from .state import Directory, Tenant

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
DATAVERSE_APP_ID = "00000007-0000-0000-c000-000000000000"  # "Dataverse" (Dynamics CRM) resource app
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_HOSTS = {
    "public": "graph.microsoft.com",
    "usgov": "graph.microsoft.us",
    "china": "microsoftgraph.chinacloudapi.cn",
}
DATAVERSE_PERMISSIONS = ("user_impersonation",)


@dataclass(frozen=True)
class Resource:
    audience: str  # the access token's aud
    app_id: str  # the resource application's id (named by AADSTS50076)
    scope_prefix: str  # how granted permissions are written back in "scope"


@dataclass
class ResourceScopes:
    resource: Resource
    permissions: list[str]  # granted (".default" expanded)

    def scope_string(self) -> list[str]:
        return [f"{self.resource.scope_prefix}{p}" for p in self.permissions]


@dataclass
class ScopeRequest:
    oidc: list[str]  # OpenID Connect scopes, in canonical order
    resources: list[ResourceScopes]  # in request order, one entry per resource

    def response_scope(self, granted: ResourceScopes, oidc_granted: list[str]) -> str:
        """The token response's ``scope``: the resource's permissions, then the OpenID scopes."""
        return " ".join(granted.scope_string() + [s for s in OIDC_SCOPES if s in oidc_granted])


def parse_scopes(scope: str, directory: Directory, tenant: Tenant) -> ScopeRequest:
    """Classify and validate a scope string; raise :class:`EntraError` for an unknown resource."""
    items = scope.split()
    oidc = [s for s in OIDC_SCOPES if s in {i.lower() for i in items}]
    by_audience: dict[str, ResourceScopes] = {}
    for item in items:
        if item.lower() in OIDC_SCOPES:
            continue
        resource, permission = _resolve(item, directory, tenant)
        entry = by_audience.setdefault(resource.audience, ResourceScopes(resource, []))
        for granted in _grant(resource, permission, scope):
            if granted not in entry.permissions:
                entry.permissions.append(granted)
    resources = list(by_audience.values())
    if not resources:  # "openid profile offline_access" alone: a Graph token for User.Read
        resources = [ResourceScopes(_graph(tenant), ["User.Read"])]
    return ScopeRequest(oidc, resources)


def _resolve(item: str, directory: Directory, tenant: Tenant) -> tuple[Resource, str]:
    if "://" not in item:
        return _graph(tenant), item
    resource_url, _, permission = item.rpartition("/")
    parts = urlsplit(resource_url)
    if (parts.hostname or "").lower() == GRAPH_HOSTS[tenant.cloud] and not parts.path.strip("/"):
        return _graph(tenant), permission
    env = directory.find_environment(resource_url) if parts.scheme == "https" else None
    env_tenant = directory.get_tenant(env.tenant_id) if env else None
    if env is None or parts.path.strip("/") or env_tenant is None or env_tenant.cloud != tenant.cloud:
        raise EntraError(
            400,
            "invalid_resource",
            500011,
            aadsts.RESOURCE_NOT_FOUND.format(resource=resource_url.rstrip("/"), tenant_name=tenant.display_name),
        )
    return Resource(env.url.rstrip("/"), DATAVERSE_APP_ID, env.url), permission


def _grant(resource: Resource, permission: str, scope: str) -> list[str]:
    if resource.app_id == GRAPH_APP_ID:
        return ["User.Read"] if permission == ".default" else [permission]
    if permission == ".default":
        return list(DATAVERSE_PERMISSIONS)
    if permission.lower() in DATAVERSE_PERMISSIONS:
        return [permission.lower()]
    raise EntraError(400, "invalid_scope", 70011, aadsts.SCOPE_INVALID.format(scope=scope))


def _graph(tenant: Tenant) -> Resource:
    return Resource(GRAPH_APP_ID, GRAPH_APP_ID, "")
