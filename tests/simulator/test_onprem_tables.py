"""The table endpoints of on-premises CRM: the Web API (2016 and later) and the OData v2 service (2011 to 2015)."""

from __future__ import annotations

import pytest
import requests
from requests_ntlm import HttpNtlmAuth

from tests.simulator.onprem import OnPremSimulator
from tests.simulator.test_onprem_simulator import PASSWORD

FORMATTED = "OData.Community.Display.V1.FormattedValue"


@pytest.fixture(scope="module")
def server():
    with OnPremSimulator() as sim:
        yield sim


@pytest.fixture
def onprem(server, monkeypatch):
    server.reset()
    monkeypatch.setenv("NTLM_USER_FILE", server.users_file)
    maria = server.add_windows_user("CONTOSO", "maria", PASSWORD)
    server.org = server.add_server("http://crm.contoso.local/Contoso/", generation="9.1")
    server.maria = server.add_crm_user(server.org, maria)
    server.old = server.add_server("http://crm.contoso.local/Old/", generation="2011")
    server.add_crm_user(server.old, maria)
    return server


def get(onprem: OnPremSimulator, path: str, **headers) -> requests.Response:
    url = f"http://127.0.0.1:{onprem.http_port}{path}"
    auth = HttpNtlmAuth("CONTOSO\\maria", PASSWORD)
    return requests.get(url, headers={"Host": "crm.contoso.local", **headers}, auth=auth, timeout=5)


def test_the_web_api_lists_tables_and_reads_rows_under_the_org_url(onprem):
    tables = get(onprem, "/Contoso/api/data/v9.1/EntityDefinitions?$select=LogicalName,EntitySetName"
                         "&$filter=IsPrivate eq false").json()  # fmt: skip
    assert (
        tables["@odata.context"]
        == "http://crm.contoso.local/Contoso/api/data/v9.1/$metadata#EntityDefinitions(LogicalName,EntitySetName)"
    )
    assert "account" in {t["LogicalName"] for t in tables["value"]}
    rows = get(onprem, "/Contoso/api/data/v9.1/accounts?$top=1", Prefer=f'odata.include-annotations="{FORMATTED}"')
    [row] = rows.json()["value"]
    assert row["name"] == "Litware, Inc. (sample)" and row[f"revenue@{FORMATTED}"] == "$20,000.00"
    path = f"/Contoso/api/data/v9.1/systemusers({onprem.maria.user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    assert "prvReadAccount" in {p["PrivilegeName"] for p in get(onprem, path).json()["RolePrivileges"]}


def test_the_web_api_refuses_a_read_without_the_privilege(onprem):
    onprem.define_role(onprem.org, "Nothing", {})
    onprem.set_roles(onprem.org, onprem.maria, "Nothing")
    refused = get(onprem, "/Contoso/api/data/v9.1/accounts?$top=10")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "0x80040220"
    assert "accessMode=0), is missing prvReadAccount privilege" in refused.json()["error"]["message"]


def test_the_odata_v2_service_lists_entity_sets_and_reads_rows(onprem):
    service = get(onprem, "/Old/XRMServices/2011/OrganizationData.svc/").json()
    assert {"AccountSet", "ContactSet", "SystemUserSet", "BusinessUnitSet"} <= set(service["d"]["EntitySets"])
    answer = get(onprem, "/Old/XRMServices/2011/OrganizationData.svc/AccountSet?$top=10")
    assert answer.status_code == 200
    first, second = answer.json()["d"]["results"]
    assert first["__metadata"]["type"] == "Microsoft.Crm.Sdk.Data.Services.Account"
    assert first["__metadata"]["uri"] == (
        f"http://crm.contoso.local/Old/XRMServices/2011/OrganizationData.svc/AccountSet(guid'{first['AccountId']}')"
    )
    assert first["Name"] == "Litware, Inc. (sample)" and first["Revenue"]["Value"] == "20000.0000"
    assert first["PrimaryContactId"]["Name"] == "Yvonne McKay (sample)"
    assert first["PrimaryContactId"]["LogicalName"] == "contact"
    assert first["IndustryCode"] == {
        "__metadata": {"type": "Microsoft.Crm.Sdk.Data.Services.OptionSetValue"},
        "Value": 1,
    }
    assert first["CreatedOn"] == "/Date(1709285400000)/"
    assert second["PrimaryContactId"]["Id"] is None and second["Revenue"]["Value"] is None
    missing = get(onprem, "/Old/XRMServices/2011/OrganizationData.svc/WidgetSet")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"]["value"] == "Resource not found for the segment 'WidgetSet'."


def test_the_odata_v2_service_pages_by_50(onprem):
    onprem.add_rows(onprem.old, "lead", *({"subject": f"Lead {n}"} for n in range(60)))
    first = get(onprem, "/Old/XRMServices/2011/OrganizationData.svc/LeadSet").json()["d"]
    assert len(first["results"]) == 50
    assert first["__next"].startswith("http://crm.contoso.local/Old/XRMServices/2011/OrganizationData.svc/LeadSet?")
    rest = get(onprem, first["__next"].removeprefix("http://crm.contoso.local")).json()["d"]
    assert len(rest["results"]) == 11 and "__next" not in rest
