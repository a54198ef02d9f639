"""The simulator's managed-identity endpoints answer as Azure IMDS and App Service do."""

from __future__ import annotations

import jwt
import pytest
import requests

from tests.simulator.conftest import ENV_URL

IMDS = "/metadata/identity/oauth2/token"


@pytest.fixture
def imds(sim, contoso):
    # 127.0.0.1 is among the names the fixture routes to the simulator's TLS port.
    return sim.start_managed_identity_endpoint(kind="imds", host="127.0.0.2")


def ask_imds(endpoint, headers=None, **params):
    query = {"api-version": "2018-02-01", "resource": ENV_URL, **params}
    return requests.get(
        endpoint.base_url + IMDS, params=query, headers={"Metadata": "true"} if headers is None else headers, timeout=5
    )


def test_it_issues_the_identity_a_dataverse_token_that_whoami_accepts(sim, contoso, imds):
    identity = sim.add_managed_identity(contoso.tenant.tenant_id)
    imds.assign(identity)
    sim.add_application_user(ENV_URL, identity.client_id)
    answer = ask_imds(imds)
    assert answer.status_code == 200
    body = answer.json()
    assert all(isinstance(body[key], str) for key in ("expires_in", "expires_on", "not_before"))
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["appid"] == claims["azp"] == identity.client_id == body["client_id"]
    assert (claims["oid"], claims["tid"]) == (identity.object_id, contoso.tenant.tenant_id)
    whoami = requests.get(
        ENV_URL + "api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5
    )
    assert whoami.status_code == 200
    assert imds.count() == 1


def test_it_answers_403_not_a_member_without_an_application_user(sim, contoso, imds):
    imds.assign(sim.add_managed_identity(contoso.tenant.tenant_id))
    token = ask_imds(imds).json()["access_token"]
    whoami = requests.get(ENV_URL + "api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert whoami.status_code == 403
    assert "0x80072560" in whoami.text


def test_it_selects_user_assigned_identities_by_client_id_resource_id_and_object_id(sim, contoso, imds):
    first = sim.add_managed_identity(contoso.tenant.tenant_id, user_assigned=True, name="first")
    second = sim.add_managed_identity(contoso.tenant.tenant_id, user_assigned=True, name="second")
    imds.assign(first)
    imds.assign(second)
    assert "/userAssignedIdentities/second" in second.resource_id
    for params in (
        {"client_id": second.client_id},
        {"msi_res_id": second.resource_id},
        {"object_id": second.object_id},
    ):
        assert ask_imds(imds, **params).json()["client_id"] == second.client_id
    assert ask_imds(imds).json()["error_description"].startswith("Multiple user assigned identities exist")


def test_imds_refuses_as_azure_does(sim, contoso, imds):
    assert ask_imds(imds).json() == {"error": "invalid_request", "error_description": "Identity not found"}
    imds.assign(sim.add_managed_identity(contoso.tenant.tenant_id))
    missing_header = ask_imds(imds, headers={})
    assert missing_header.status_code == 400
    assert missing_header.json()["error_description"] == "Required metadata header not specified"
    unknown = ask_imds(imds, client_id="00000000-0000-0000-0000-000000000000")
    assert (unknown.status_code, unknown.json()["error_description"]) == (400, "Identity not found")
    resource = ask_imds(imds, resource="https://nowhere.crm.dynamics.com/")
    assert resource.status_code == 400 and resource.json()["error"] == "invalid_resource"
    assert "AADSTS500011" in resource.json()["error_description"]


def test_app_service_checks_its_identity_header(sim, contoso):
    endpoint = sim.start_managed_identity_endpoint(kind="app_service", host="127.0.0.2")
    endpoint.assign(sim.add_managed_identity(contoso.tenant.tenant_id))
    query = {"resource": ENV_URL, "api-version": "2019-08-01"}
    good = requests.get(endpoint.base_url, params=query, headers={"X-IDENTITY-HEADER": endpoint.identity_header})
    assert good.status_code == 200 and "expires_in" not in good.json()
    assert requests.get(endpoint.base_url, params=query).status_code == 400
    assert requests.get(endpoint.base_url, params=query, headers={"X-IDENTITY-HEADER": "stale"}).status_code == 401
    unknown = requests.get(
        endpoint.base_url,
        params={**query, "client_id": "00000000-0000-0000-0000-000000000000"},
        headers={"X-IDENTITY-HEADER": endpoint.identity_header},
    )
    assert unknown.json()["message"] == "Unable to load the proper Managed Identity."


def test_the_endpoints_stop_with_a_reset(sim, contoso, imds):
    url = imds.base_url
    sim.reset()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + IMDS, timeout=2)
