"""Local stand-ins for an organization's own servers: on-premises Dynamics CRM and AD FS.

One :class:`OnPremSimulator` serves plain HTTP on ``http_port`` and HTTPS on ``https_port`` (127.0.0.1),
routing on the Host header: AD FS answers for ``adfs.contoso.com``, each registered CRM server for its
host. Point the names at the right port (HTTP or HTTPS, as the URL says) and trust ``ca_cert_path``; the
NTLM acceptor reads the accounts from ``users_file``, so set ``NTLM_USER_FILE`` to it::

    with OnPremSimulator() as onprem:
        maria = onprem.add_windows_user("CONTOSO", "maria", "Pa55w.rd")
        org = onprem.add_server("http://crm.contoso.local/Contoso/", generation="9.1")
        onprem.add_crm_user(org, maria)       # .user_id is WhoAmI's UserId
        onprem.add_server("http://crm2011.contoso.local/Contoso/", generation="2011")   # OData v2 only
        onprem.add_plain_server("www.contoso.local")                                    # 404 everywhere
        client = onprem.add_adfs_client(org_url_or_relying_party, upn="svc-gathr@contoso.local")

Each organization has the tables, rows and roles of :mod:`.simulator_tables` (``onprem.add_table(org, ...)``,
``onprem.define_role(org, ...)``, ``onprem.set_roles(org, crm_user, ...)``): the Web API's table endpoints under
``{org url}api/data/v8.x|v9.x/``, and for generation "2011" the OData v2 service's ``AccountSet?$top=10``.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path

from . import adfs
from .crm_onprem import CrmOnPremService, org_key
from .messages import Request, Response
from .onprem_server import ConnectionState, OnPremServer
from .onprem_state import WEB_API_BY_GENERATION, AdfsClient, CrmUser, OnPremDirectory, Organization, WindowsUser
from .server import RequestLog, RequestRecord, tls_material
from .simulator_tables import TableScopeApi
from .table_api import TableApi

ONPREM_NAMES = [adfs.ADFS_HOST, "*.contoso.local", "*.contoso.com", "localhost", "127.0.0.1"]
VERSIONS = {"9.1": "9.1.0.21813", "8.2": "8.2.29.10", "8.1": "8.1.1.1005", "2011": "5.0.9690.4376"}


class OnPremSimulator(TableScopeApi):
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._tmpdir = Path(tempfile.mkdtemp(prefix="onprem-sim-"))
        self.users_file = str(self._tmpdir / "ntlm-users")
        self.directory = OnPremDirectory(Path(self.users_file))
        self.log = RequestLog()
        self.adfs = adfs.AdfsService(self.directory)
        self.crm = CrmOnPremService(self.directory, adfs.signing_bundle().certificate.public_key())
        self.crm.token_issuer, self.crm.token_issuer_url = adfs.token_issuer(), adfs.issuer_url()
        ca, _ = tls_material()  # the Microsoft simulator's CA: one bundle trusts both
        self.ca_cert_path = str(self._tmpdir / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_cert_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*ONPREM_NAMES).configure_cert(context)
        self._http = OnPremServer((host, 0), None, self._dispatch, self.log)
        self._https = OnPremServer((host, 0), context, self._dispatch, self.log)
        self.http_port, self.https_port = self._http.port, self._https.port

    def __enter__(self) -> OnPremSimulator:
        self._http.start()
        self._https.start()
        return self

    def __exit__(self, *exc) -> None:
        self._http.stop()
        self._https.stop()
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    def reset(self) -> None:
        self.directory.reset()
        self.crm.tables.catalogue.reset()
        self.crm.tables.security.reset()
        self.crm.tables.endless.clear()
        self.log.clear()

    def _table_scope(self, scope: Organization) -> tuple[str, TableApi]:
        return org_key(scope), self.crm.tables

    # --- registration -----------------------------------------------------------------------------

    def add_windows_user(self, domain: str, name: str, password: str, upn: str = "") -> WindowsUser:
        """An Active Directory account; ``upn`` defaults to name@{domain}.local."""
        return self.directory.add_windows_user(domain, name, password, upn or f"{name}@{domain.lower()}.local")

    def add_server(self, url: str, generation: str = "9.1") -> Organization:
        """An organization at ``url`` (http(s)://host/OrgName/) of a CRM server of this generation:
        "9.1" (Web API v8.0 to v9.1), "8.2", "8.1" (CRM 2016) or "2011" (no Web API, OData v2 only)."""
        return self.directory.add_organization(url, VERSIONS[generation], WEB_API_BY_GENERATION[generation])

    def add_crm_user(self, org: Organization, account: WindowsUser | str) -> CrmUser:
        """Make a Windows account (or a UPN that AD FS tokens carry) a Dynamics CRM user of the organization."""
        if isinstance(account, WindowsUser):
            return self.directory.add_crm_user(org, account.down_level, account.upn)
        return self.directory.add_crm_user(org, account)

    def add_plain_server(self, host: str) -> None:
        """A web server that is not Dynamics CRM: 404 to everything, no sign-in."""
        self.directory.add_plain_server(host)

    def trust_adfs(self, org: Organization, relying_party: str) -> None:
        """Claims-based authentication: the org's server accepts AD FS tokens issued for ``relying_party``."""
        server = self.directory.find_server(org.url.split("/")[2].split(":")[0])
        self.directory.add_relying_party(server, relying_party)

    def add_adfs_client(self, *resources: str, upn: str = "") -> AdfsClient:
        """An AD FS server application (``.client_id``, ``.secret``) allowed tokens for these relying parties."""
        return self.directory.add_adfs_client(set(resources), upn)

    def add_relying_party(self, identifier: str) -> None:
        """A relying party AD FS knows but no simulated server trusts."""
        self.directory.relying_parties.add(identifier)

    # --- request log ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        return self.log.snapshot()

    def connection_count(self, host: str) -> int:
        """How many distinct TCP connections carried the requests to ``host``."""
        return len({record.connection_id for record in self.log.snapshot() if record.host == host})

    def _dispatch(self, request: Request, state: ConnectionState) -> Response:
        if request.host == adfs.ADFS_HOST:
            return self.adfs.handle(request)
        return self.crm.handle(request, state)
