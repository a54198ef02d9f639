"""What a principal can read: table definitions, privileges, rows with formatted values, and the refusals."""

from __future__ import annotations

import requests

from tests.simulator.conftest import ENV_URL
from tests.simulator.test_delegated import signed_in
from tests.simulator.test_simulator import bearer, token_for

API = ENV_URL + "api/data/v9.2/"
TABLES = "EntityDefinitions?$select=LogicalName,EntitySetName,DisplayName&$filter=IsPrivate eq false"
FORMATTED = "OData.Community.Display.V1.FormattedValue"


def get(path: str, token: str, **headers) -> requests.Response:
    return requests.get(API + path, headers={**bearer(token), **headers}, timeout=5)


def app_token(contoso) -> str:
    return token_for(contoso)["access_token"]


# --- table and column definitions -------------------------------------------------------------


def test_it_lists_the_public_tables_with_labels_and_no_paging(sim, contoso):
    answer = get(TABLES, app_token(contoso), Prefer="odata.maxpagesize=2")
    assert answer.status_code == 200
    body = answer.json()
    assert body["@odata.context"] == API + "$metadata#EntityDefinitions(LogicalName,EntitySetName,DisplayName)"
    names = {t["LogicalName"] for t in body["value"]}
    assert {"account", "contact", "lead", "opportunity", "incident", "systemuser", "businessunit", "team"} <= names
    assert "principalobjectaccess" not in names and "subscription" not in names
    # Metadata queries are not paged: everything in the first answer, the preference not applied.
    assert "@odata.nextLink" not in body and "Preference-Applied" not in answer.headers
    account = next(t for t in body["value"] if t["LogicalName"] == "account")
    assert set(account) == {"LogicalName", "EntitySetName", "DisplayName", "MetadataId"}
    assert account["EntitySetName"] == "accounts"
    assert account["DisplayName"]["UserLocalizedLabel"]["Label"] == "Account"
    assert account["DisplayName"]["LocalizedLabels"][0]["LanguageCode"] == 1033


def test_it_lists_every_column_of_a_table_even_empty_ones(sim, contoso):
    answer = get(
        "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,AttributeType", app_token(contoso)
    )
    columns = {a["LogicalName"]: a["AttributeType"] for a in answer.json()["value"]}
    assert columns["accountid"] == "Uniqueidentifier" and columns["primarycontactid"] == "Lookup"
    assert columns["revenue"] == "Money" and columns["industrycode"] == "Picklist"
    assert columns["numberofemployees"] == "Integer" and columns["donotemail"] == "Boolean"
    assert columns["createdon"] == "DateTime" and columns["telephone1"] == "String"
    lookup = next(a for a in answer.json()["value"] if a["LogicalName"] == "primarycontactid")
    assert lookup["@odata.type"] == "#Microsoft.Dynamics.CRM.LookupAttributeMetadata"
    missing = get("EntityDefinitions(LogicalName='widget')/Attributes", app_token(contoso))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"


def test_an_added_table_is_listed_read_and_needs_its_own_privilege(sim, contoso):
    sim.add_table(
        ENV_URL, "new_widget", columns=[("new_name", "String"), ("new_size", "Integer")], rows=[{"new_name": "Cog"}]
    )
    token = app_token(contoso)
    listed = {t["LogicalName"]: t for t in get(TABLES, token).json()["value"]}
    assert listed["new_widget"]["EntitySetName"] == "new_widgets"
    refused = get("new_widgets?$top=10", token)
    assert refused.status_code == 403 and "is missing prvReadnew_widget privilege" in refused.json()["error"]["message"]
    sim.define_role(ENV_URL, "Widget reader", ["prvReadnew_widget"])
    sim.assign_roles(ENV_URL, contoso.user, "Widget reader")
    rows = get("new_widgets?$top=10", token).json()["value"]
    assert [(r["new_name"], r["new_size"]) for r in rows] == [("Cog", None)]


# --- privileges ------------------------------------------------------------------------------------


def test_it_retrieves_the_privileges_of_the_roles_and_teams(sim, contoso):
    token = app_token(contoso)
    path = f"systemusers({contoso.user.user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    default = get(path, token).json()
    assert default["@odata.context"] == API + "$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse"
    read_account = next(p for p in default["RolePrivileges"] if p["PrivilegeName"] == "prvReadAccount")
    assert read_account["Depth"] == "Global" and read_account["BusinessUnitId"] == contoso.env.business_unit_id
    nobody = "00000000-0000-0000-0000-000000000001"
    missing = get(f"systemusers({nobody})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()", token)
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "0x80040217", "message": f"systemuser With Id = {nobody} Does Not Exist"}
    sim.define_role(ENV_URL, "Contacts", {"prvReadContact": "Local"})
    sim.define_role(ENV_URL, "Leads", {"prvReadLead": "Global"})
    sim.set_roles(ENV_URL, contoso.user, "Contacts")
    sim.add_team(ENV_URL, "Sales", members=[contoso.user], roles=["Leads"])
    held = {p["PrivilegeName"]: p["Depth"] for p in get(path, token).json()["RolePrivileges"]}
    assert get(missing.url.removeprefix(API), token).status_code == 403  # another user's: prvReadUser is gone
    # Team roles count, but RetrieveUserPrivileges reports them at Basic depth (the function's Remarks).
    assert held == {"prvReadContact": "Local", "prvReadLead": "Basic"}
    by_name = get(
        f"systemusers({contoso.user.user_id})/Microsoft.Dynamics.CRM."
        "RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='prvReadLead')",
        token,
    ).json()
    assert [(p["PrivilegeName"], p["Depth"]) for p in by_name["RolePrivileges"]] == [("prvReadLead", "Global")]


def test_a_signed_in_user_retrieves_their_own_privileges(sim, maria):
    _, result = signed_in(maria)
    path = f"systemusers({maria.member.user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    answer = get(path, result["access_token"])
    assert answer.status_code == 200 and "prvReadContact" in {
        p["PrivilegeName"] for p in answer.json()["RolePrivileges"]
    }


def test_a_read_without_the_privilege_gets_dataverses_403(sim, contoso):
    sim.define_role(ENV_URL, "Contacts only", {"prvReadContact": "Global"})
    sim.set_roles(ENV_URL, contoso.user, "Contacts only")
    refused = get("accounts?$top=10", app_token(contoso))
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "0x80040220"
    user = contoso.user.user_id
    assert error["message"].startswith(
        f"Principal user (Id={user}, type=8, roleCount=1, privilegeCount=1, accessMode=4), "
        "is missing prvReadAccount privilege (Id="
    )
    assert error["message"].endswith(f") on OTC=1 for entity 'account'. context.Caller={user}")
    assert get("contacts?$top=10", app_token(contoso)).status_code == 200


def test_an_unknown_entity_set_is_404(sim, contoso):
    missing = get("widgets?$top=10", app_token(contoso))
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "0x80060888", "message": "Resource not found for the segment 'widgets'."}


# --- rows -------------------------------------------------------------------------------------------


def test_rows_have_etags_lookups_and_formatted_values_on_request(sim, contoso):
    prefer = f'odata.include-annotations="{FORMATTED}"'
    answer = get("accounts?$select=name,revenue,industrycode,_primarycontactid_value,donotemail,createdon&$top=1",
                 app_token(contoso), Prefer=prefer)  # fmt: skip
    assert answer.headers["Preference-Applied"] == prefer
    assert answer.json()["@odata.context"] == (
        API + "$metadata#accounts(name,revenue,industrycode,_primarycontactid_value,donotemail,createdon)"
    )
    [row] = answer.json()["value"]
    assert row["@odata.etag"].startswith('W/"') and row["accountid"]
    assert row["name"] == "Litware, Inc. (sample)" and "name@" + FORMATTED not in row
    assert (row["revenue"], row[f"revenue@{FORMATTED}"]) == (20000.0, "$20,000.00")
    assert (row["industrycode"], row[f"industrycode@{FORMATTED}"]) == (1, "Accounting")
    assert row[f"_primarycontactid_value@{FORMATTED}"] == "Yvonne McKay (sample)"
    assert (row["donotemail"], row[f"donotemail@{FORMATTED}"]) == (False, "Allow")
    assert (row["createdon"], row[f"createdon@{FORMATTED}"]) == ("2024-03-01T09:30:00Z", "3/1/2024 9:30 AM")
    assert "_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname" not in row
    plain = get("accounts?$select=name,_primarycontactid_value&$top=1", app_token(contoso))
    assert "Preference-Applied" not in plain.headers
    assert not [key for key in plain.json()["value"][0] if "@OData" in key]


def test_the_star_annotation_adds_the_lookup_annotations(sim, contoso):
    answer = get("contacts?$select=_parentcustomerid_value", app_token(contoso), Prefer='odata.include-annotations="*"')
    [row] = answer.json()["value"]
    prop = "_parentcustomerid_value"
    assert row[f"{prop}@{FORMATTED}"] == "Litware, Inc. (sample)"
    assert row[f"{prop}@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row[f"{prop}@Microsoft.Dynamics.CRM.associatednavigationproperty"] == "parentcustomerid_account"


def test_rows_without_select_include_empty_columns_as_null(sim, contoso):
    rows = get("accounts", app_token(contoso)).json()["value"]
    empty = next(r for r in rows if r["name"] == "Adventure Works (sample)")
    assert empty["revenue"] is None and empty["_primarycontactid_value"] is None
    assert get("accounts?$select=nosuchcolumn", app_token(contoso)).status_code == 400


def test_server_driven_paging_follows_the_next_link_to_the_last_page(sim, contoso):
    sim.add_rows(ENV_URL, "lead", *({"subject": f"Lead {n}"} for n in range(4)))  # 5 leads in all
    token, prefer = app_token(contoso), "odata.maxpagesize=2"
    answer = get("leads?$select=subject", token, Prefer=prefer)
    pages = []
    while True:
        assert answer.headers["Preference-Applied"] == prefer
        pages.append([r["subject"] for r in answer.json()["value"]])
        link = answer.json().get("@odata.nextLink")
        if link is None:
            break
        assert link.startswith(API + "leads?$select=subject&$skiptoken=%3Ccookie%20pagenumber%3D%22")
        answer = requests.get(link, headers={**bearer(token), "Prefer": prefer}, timeout=5)
    assert [len(page) for page in pages] == [2, 2, 1]
    top = get("leads?$top=3", token, Prefer=prefer)
    assert len(top.json()["value"]) == 3 and "@odata.nextLink" not in top.json()


def test_both_preferences_in_one_prefer_header_are_applied(sim, contoso):
    prefer = f'odata.include-annotations="{FORMATTED},Microsoft.Dynamics.CRM.lookuplogicalname", odata.maxpagesize=1'
    answer = get("accounts?$select=name,_primarycontactid_value", app_token(contoso), Prefer=prefer)
    assert answer.headers["Preference-Applied"] == (
        f'odata.include-annotations="{FORMATTED},Microsoft.Dynamics.CRM.lookuplogicalname",odata.maxpagesize=1'
    )
    [row] = answer.json()["value"]
    assert row["_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "contact"
    assert "@odata.nextLink" in answer.json()
    ignored = get("accounts", app_token(contoso), Prefer="odata.maxpagesize=5001")  # above 5,000: ignored
    assert "Preference-Applied" not in ignored.headers and "@odata.nextLink" not in ignored.json()


def test_an_endless_table_has_a_next_link_on_every_page(sim, contoso):
    sim.set_endless_paging(ENV_URL, "accounts")
    token, link = app_token(contoso), API + "accounts?$select=name"
    for _ in range(5):
        answer = requests.get(link, headers={**bearer(token), "Prefer": "odata.maxpagesize=1"}, timeout=5)
        assert len(answer.json()["value"]) == 1
        link = answer.json()["@odata.nextLink"]
    assert sim.count(path_contains="/accounts") == 5


def test_reads_count_against_service_protection_and_need_a_token(sim, contoso):
    token = app_token(contoso)
    sim.set_service_protection(ENV_URL, remaining_requests=1)
    assert get(TABLES, token).headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "0"
    assert get("accounts?$top=10", token).status_code == 429
    assert requests.get(API + "accounts", timeout=5).status_code == 401


# --- refusals before any read ------------------------------------------------------------------------


def test_app_access_control_refuses_user_tokens_of_a_blocked_app(sim, maria):
    _, result = signed_in(maria)
    user_token = result["access_token"]
    sim.block_app(ENV_URL, maria.app.client_id)
    refused = get("accounts?$top=10", user_token)
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "0x80095ffc",
        "message": "Access to the Dataverse API is restricted for this application ID.",
    }
    # Documented: app access control is not applied to service-to-service calls of application users.
    assert get("accounts?$top=10", app_token(maria)).status_code == 200
    sim.block_app(ENV_URL, maria.app.client_id, blocked=False)
    assert get("accounts?$top=10", user_token).status_code == 200


def test_the_ip_firewall_refuses_callers_outside_the_allowed_ranges(sim, maria):
    _, result = signed_in(maria)
    user_token, token = result["access_token"], app_token(maria)
    sim.set_ip_firewall(ENV_URL, allowed=["10.0.0.0/8"])
    refused = get("WhoAmI", user_token)
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "0x80095ffe",
        "message": "The request you are trying to make is rejected as access to your IP is blocked. "
        "Contact your administrator for more information.",
    }
    assert get("WhoAmI", token).status_code == 200  # "Allow access for all application users" is on by default
    sim.set_ip_firewall(ENV_URL, allowed=["10.0.0.0/8"], allow_application_users=False)
    assert get("WhoAmI", token).status_code == 403
    sim.set_ip_firewall(ENV_URL, allowed=["10.0.0.0/8"], allow_application_users=False, audit_only=True)
    assert get("WhoAmI", token).status_code == 200
    sim.set_ip_firewall(ENV_URL, allowed=["127.0.0.0/8"], allow_application_users=False)
    assert get("WhoAmI", token).status_code == 200


def test_the_ip_firewall_reads_the_forwarded_header_of_a_reverse_proxy(sim, contoso):
    token = app_token(contoso)
    sim.set_ip_firewall(
        ENV_URL, allowed=["203.0.113.0/24"], allow_application_users=False, reverse_proxies=["127.0.0.1"]
    )
    assert get("WhoAmI", token, Forwarded="for=203.0.113.7").status_code == 200
    assert get("WhoAmI", token, Forwarded="for=198.51.100.1").status_code == 403
    sim.clear_knobs()
    assert get("WhoAmI", token, Forwarded="for=198.51.100.1").status_code == 200


def test_a_disabled_app_gets_no_token_at_all(sim, contoso):
    sim.disable_app(contoso.app.client_id)
    result = token_for(contoso)
    assert result["error_codes"] == [7000112]
