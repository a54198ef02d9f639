"""Fixtures of on-premises Dynamics CRM (CRM2011+): the simulator of a company network on loopback."""

import ipaddress
from types import SimpleNamespace

import pytest

from tests.onprem.helpers import ONPREM_HTTP_HOSTS, ONPREM_HTTPS_HOSTS, ONPREM_PASSWORD


@pytest.fixture(scope="session")
def onprem_simulator():
    from tests.simulator.onprem import OnPremSimulator

    with OnPremSimulator() as sim:
        yield sim


@pytest.fixture
def onprem(onprem_simulator, resolver, settings, monkeypatch):
    """A company network on loopback: Dynamics CRM servers of three generations, a web server that is not
    Dynamics, and AD FS, with the Windows account CONTOSO\\maria (a CRM user of every organization).

    As an operator would for servers on a private network, OUTBOUND_ALLOWED_NETWORKS allows their address;
    the NTLM acceptor reads its accounts from NTLM_USER_FILE.
    """
    sim = onprem_simulator
    sim.reset()
    for name in ONPREM_HTTP_HOSTS:
        resolver.add(name, "127.0.0.1", sim.http_port)
    for name in ONPREM_HTTPS_HOSTS:
        resolver.add(name, "127.0.0.1", sim.https_port)
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    monkeypatch.setenv("NTLM_USER_FILE", sim.users_file)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_cert_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", sim.ca_cert_path)
    maria = sim.add_windows_user("CONTOSO", "maria", ONPREM_PASSWORD, upn="maria@contoso.local")
    servers = {
        "crm91": sim.add_server("http://crm.contoso.local/Contoso/", generation="9.1"),
        "crm2016": sim.add_server("http://crm2016.contoso.local/Contoso/", generation="8.1"),
        "crm2011": sim.add_server("http://crm2011.contoso.local/Contoso/", generation="2011"),
        "secure": sim.add_server("https://crm.contoso.com/Contoso/", generation="9.1"),
    }
    users = {key: sim.add_crm_user(org, maria) for key, org in servers.items()}
    sim.trust_adfs(servers["secure"], "https://crm.contoso.com/")
    adfs_user = sim.add_crm_user(servers["secure"], "svc-gathr@contoso.local")
    adfs_app = sim.add_adfs_client("https://crm.contoso.com/", upn="svc-gathr@contoso.local")
    sim.add_plain_server("www.contoso.local")
    return SimpleNamespace(
        sim=sim, maria=maria, password=ONPREM_PASSWORD, users=users, adfs_app=adfs_app, adfs_user=adfs_user, **servers
    )
