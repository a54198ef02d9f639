"""The on-premises stand-ins themselves, driven by plain requests (and requests-ntlm): what the TESTs rely on."""

from __future__ import annotations

import pytest
import requests
from requests_ntlm import HttpNtlmAuth

from tests.simulator.onprem import OnPremSimulator

PASSWORD = "Pa55w.rd!"


@pytest.fixture(scope="module")
def server():
    with OnPremSimulator() as sim:
        yield sim


@pytest.fixture
def onprem(server, monkeypatch):
    server.reset()
    monkeypatch.setenv("NTLM_USER_FILE", server.users_file)
    maria = server.add_windows_user("CONTOSO", "maria", PASSWORD)
    org = server.add_server("http://crm.contoso.local/Contoso/", generation="9.1")
    server.add_crm_user(org, maria)
    return server


def get(onprem: OnPremSimulator, path: str, auth=None, session=None) -> requests.Response:
    sender = session or requests.Session()
    url = f"http://127.0.0.1:{onprem.http_port}{path}"
    return sender.get(url, headers={"Host": "crm.contoso.local"}, auth=auth, timeout=5)


def test_it_asks_for_windows_authentication_as_iis_does(onprem):
    answer = get(onprem, "/Contoso/api/data/v9.1/WhoAmI")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Negotiate, NTLM"


def test_ntlm_authenticates_the_connection_not_the_request(onprem):
    session = requests.Session()
    session.auth = HttpNtlmAuth("CONTOSO\\maria", PASSWORD)
    first = get(onprem, "/Contoso/api/data/v9.1/WhoAmI", session=session)
    assert [r.status_code for r in first.history] + [first.status_code] == [401, 401, 200]
    later = get(onprem, "/Contoso/api/data/v9.1/RetrieveVersion()", session=session)
    assert (later.status_code, later.history, later.json()["Version"]) == (200, [], "9.1.0.21813")
    assert "Authorization" not in later.request.headers
    assert onprem.connection_count("crm.contoso.local") == 1


@pytest.mark.parametrize(("user", "password"), [("CONTOSO\\maria", "wrong"), ("CONTOSO\\ghost", PASSWORD)])
def test_the_acceptor_refuses_a_wrong_password_or_an_unknown_account(onprem, user, password):
    answer = get(onprem, "/Contoso/api/data/v9.1/WhoAmI", auth=HttpNtlmAuth(user, password))
    assert (answer.status_code, [r.status_code for r in answer.history]) == (401, [401, 401])


def test_a_crm_2011_server_has_only_the_odata_v2_service(onprem):
    org = onprem.add_server("http://crm.contoso.local/Old/", generation="2011")
    onprem.add_crm_user(org, "CONTOSO\\maria")
    auth = HttpNtlmAuth("CONTOSO\\maria", PASSWORD)
    assert get(onprem, "/Old/api/data/v8.0/WhoAmI", auth=auth).status_code == 404
    service = get(onprem, "/Old/XRMServices/2011/OrganizationData.svc/", auth=auth)
    assert "SystemUserSet" in service.json()["d"]["EntitySets"]


def test_adfs_refuses_like_adfs(onprem):
    onprem.add_relying_party("https://crm.contoso.com/")
    client = onprem.add_adfs_client("https://crm.contoso.com/")
    token_url = f"https://127.0.0.1:{onprem.https_port}/adfs/oauth2/token/"
    form = {"grant_type": "client_credentials", "client_id": client.client_id, "resource": "https://crm.contoso.com/"}
    headers = {"Host": "adfs.contoso.com"}
    wrong = requests.post(
        token_url, data={**form, "client_secret": "x"}, headers=headers, verify=onprem.ca_cert_path, timeout=5
    )
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_client")
    assert wrong.json()["error_description"].startswith("MSIS9622")
    good = requests.post(
        token_url, data={**form, "client_secret": client.secret}, headers=headers, verify=onprem.ca_cert_path, timeout=5
    )
    assert good.json()["token_type"] == "bearer"
