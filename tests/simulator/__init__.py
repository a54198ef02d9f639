"""A test-only local HTTPS simulator of Microsoft Entra ID (token side) and Dataverse.

One TLS server on 127.0.0.1 answers for the authority hosts
(login.microsoftonline.com, login.microsoftonline.us, login.chinacloudapi.cn,
login.partner.microsoftonline.cn) and for Dataverse environment hosts
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
"""

from .certs import CertBundle, make_certificate
from .server import SERVER_NAMES, RequestRecord
from .simulator import Simulator
from .state import AUTHORITY_CLOUDS

__all__ = [
    "AUTHORITY_CLOUDS",
    "SERVER_NAMES",
    "CertBundle",
    "RequestRecord",
    "Simulator",
    "make_certificate",
]
