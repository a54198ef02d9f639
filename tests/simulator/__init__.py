"""A test-only local HTTPS simulator of Microsoft Entra ID, Dataverse and a little of Microsoft Graph.

One TLS server on 127.0.0.1 answers for the authority hosts
(login.microsoftonline.com, login.microsoftonline.us, login.chinacloudapi.cn,
login.partner.microsoftonline.cn), the Graph hosts (graph.microsoft.com,
graph.microsoft.us, dod-graph.microsoft.us, microsoftgraph.chinacloudapi.cn) and Dataverse environment hosts
(``*.crm[N].dynamics.com``, ``*.api.crm[N].dynamics.com``,
``*.crm.microsoftdynamics.us``, ``*.crm.appsplatform.us``, ``*.crm.dynamics.cn``),
routing on the Host header. Point those names at ``127.0.0.1:sim.port`` and set
``REQUESTS_CA_BUNDLE=sim.ca_cert_path``::

    with Simulator() as sim:
        tenant = sim.add_tenant()
        app = sim.add_app(tenant.tenant_id)
        secret = sim.add_secret(app.client_id)
        env = sim.add_environment("https://contoso.crm.dynamics.com/", tenant_id=tenant.tenant_id)
        sim.add_application_user(env.url, app.client_id)

Graph (:mod:`.graph`): ``sim.grant_graph(app.client_id, "Application.Read.All")`` puts the permission
in the ``roles`` of tokens for ``https://graph.microsoft.com/.default`` (each cloud's Graph host);
``GET /v1.0/applications(appId='{client id}')?$select=passwordCredentials,keyCredentials`` then lists
the secrets (``add_secret(..., expires_at=, display_name=)``, two years by default) and certificates
(``add_certificate(..., display_name=)``, their notAfter) as Graph does; without the permission 403
``Authorization_RequestDenied``, unknown app 404 ``Request_ResourceNotFound``, bad token 401.

Dataverse service protection (:mod:`.protection`): answers carry
``x-ms-ratelimit-burst-remaining-xrm-requests`` and ``x-ms-ratelimit-time-remaining-xrm-requests``;
``sim.set_service_protection(env.url, requests=6000, execution_seconds=1200, concurrent=52,
remaining_requests=None, remaining_seconds=None, request_seconds=0.01, retry_after=None)`` enforces
the limits per user: 429 with ``Retry-After`` and ``0x80072322`` / ``0x80072321`` / ``0x80072326``.

Tables (:mod:`.tables`, :mod:`.table_api`, API in :mod:`.simulator_tables`): every environment has a default
catalogue (account, contact, lead, opportunity, incident, systemuser, businessunit, team with a few rows, and
private tables). ``GET EntityDefinitions?$select=...&$filter=IsPrivate eq false`` (not paged, as Microsoft
documents for metadata), ``EntityDefinitions(LogicalName='account')/Attributes``,
``systemusers({id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`` and ``{EntitySetName}?$select=&$top=``
(``Prefer: odata.maxpagesize`` paging with ``@odata.nextLink``, ``odata.include-annotations`` formatted values,
403 ``0x80040220`` without the read privilege, 404 ``0x80060888`` for an unknown set) count against service
protection like WhoAmI. Knobs: ``add_table(env.url, "new_widget", columns=[("new_name", "String")], rows=[...])``,
``add_rows``, ``define_role(env.url, "Reader", {"prvReadAccount": "Global"})``, ``set_roles(env.url,
app_user, "Reader")`` / ``assign_roles`` (everyone starts with ``roles.DEFAULT_ROLE``, which reads the common
tables), ``add_team(env.url, "Sales", members=[...], roles=[...])``, ``set_endless_paging(env.url, "accounts")``,
``block_app(env.url, client_id)`` (app access control: user tokens get 403 ``0x80095ffc``) and
``set_ip_firewall(env.url, allowed=["10.0.0.0/8"], allow_application_users=True, audit_only=False,
reverse_proxies=())`` (403 ``0x80095ffe``); see :mod:`.access_control`. The on-premises simulator has the same
table API per organization, and the OData v2 service for CRM 2011-2015 (:mod:`.odata_v2`).

Users (AuthScheme=AzureAD, delegated): a browser signs in once, the app refreshes by itself::

        user = sim.add_user(tenant.tenant_id, upn="maria@contoso.onmicrosoft.com", display_name="Maria Garcia")
        sim.add_redirect_uri(app.client_id, "https://gathr.example.com/oauth/callback")
        sim.add_dataverse_user(env.url, user.object_id)        # .user_id is WhoAmI's UserId
        flow = msal_app.initiate_auth_code_flow([env.url + "user_impersonation"], redirect_uri=...)
        answer = browser.sign_in(flow["auth_uri"], user.upn)  # or drive the page with Playwright
        msal_app.acquire_token_by_auth_code_flow(flow, answer.params)

``GET /{tenant}/oauth2/v2.0/authorize`` validates like Entra (unknown tenant 90002,
app 700016, unregistered redirect URI 50011 and no redirect URI 500113 are shown
on an error page; later errors are redirected) and shows a sign-in page: title
"Sign in to your account", field labelled "Email, phone, or Skype", buttons
"Sign in" and "Cancel" (see :mod:`.signin_pages`). Sign in redirects with
``code``, ``client_info``, ``state``, ``session_state`` (response_mode query,
fragment or form_post); Cancel with ``error=access_denied&error_subcode=cancel``
(AADSTS65004). Redirect URIs match exactly, except http(s)://localhost and
127.0.0.1 on any port. ``/common`` and ``/organizations`` work for users.

The token endpoint's ``authorization_code`` and ``refresh_token`` grants (PKCE
S256/plain, single-use 10-minute codes, v1.0 access token with ``scp``, v2.0 ID
token, ``client_info``) refuse as Entra does; see :mod:`.user_grants` for codes.
Knobs: ``require_admin_consent`` (65001), ``set_access_token_lifetime``
(default 3599, also for app tokens), ``set_refresh_token_lifetime`` (inactivity,
700082), ``set_refresh_token_rotation(rotate=True, revoke_old=False)`` (Entra's
default; a revoked old token gets 70008), ``revoke_refresh_tokens`` (50173),
``require_interaction`` (50076). For apps: ``disable_app`` (7000112, until enabled again) and
``set_aadsts(code)``, which makes the token endpoint answer once with a documented AADSTS error that the
directory cannot reach by itself (see ``aadsts.DOCUMENTED``). Inspect with ``issued_refresh_tokens``,
``newest_refresh_token``, ``refresh_grants``, ``refresh_count``. All expiry
follows ``sim.now()`` (``sim.advance()`` and time_machine).

Workload identity federation (:mod:`.federation`, :mod:`.oidc_issuers`, API in :mod:`.simulator_federation`):
``add_federated_credential(client_id, issuer, subject, audiences=("api://AzureADTokenExchange",), name=)`` (at
most 20 per app); a client assertion whose ``iss`` and ``sub`` are not the client id is matched against them
(700211 issuer, 700212 audience, 70021 subject), its lifetime checked (700024), its issuer's discovery document
and JWKS fetched over https (``route_issuer(host, port)``, ``trust_issuer_ca``, ``issue_server_certificate``;
any failure 50166; ``federation_cache_seconds``; ``issuer_fetches``) and its RS256 signature verified by ``kid``
(7000272 unknown key, 700027 bad signature). Success gives the app's ordinary app-only token.

Managed identities (:mod:`.managed_identity`, API in :mod:`.simulator_identities`): ``endpoint =
sim.start_managed_identity_endpoint(kind="imds" | "app_service", host="127.0.0.1", port=0)`` serves "this
machine's" endpoint in plain HTTP (point ``AZURE_POD_IDENTITY_AUTHORITY_HOST``, or ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER``, at ``endpoint.base_url`` and ``endpoint.identity_header``); ``identity =
sim.add_managed_identity(tenant.tenant_id, user_assigned=False, name=...)`` and ``endpoint.assign(identity)``;
``sim.add_application_user(env.url, identity.client_id)`` lets its token call WhoAmI. Endpoints share the
simulator's request log and knobs (by ``host=``) and stop with it, or at ``sim.reset()``.
"""

from .browser import SignInAnswer, sign_in
from .certs import CertBundle, make_certificate
from .server import SERVER_NAMES, RequestRecord
from .simulator import Simulator
from .state import AUTHORITY_CLOUDS
from .users import DataverseUser, RefreshGrant, RefreshToken, User

__all__ = [
    "AUTHORITY_CLOUDS",
    "SERVER_NAMES",
    "CertBundle",
    "DataverseUser",
    "RefreshGrant",
    "RefreshToken",
    "RequestRecord",
    "SignInAnswer",
    "Simulator",
    "User",
    "make_certificate",
    "sign_in",
]
