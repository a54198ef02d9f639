"""Preview on on-premises Dynamics CRM: the Web API of CRM 2016 and newer (NTLM and AD FS, signed in as the TEST
signs in), and the OData v2 service of CRM 2011 to 2015."""

import pytest

from connections.models import Connection
from tests.onprem.helpers import onprem_form_data
from tests.onprem.test_onprem_test import adfs
from tests.preview_helpers import failure, preview_table, text_of

pytestmark = pytest.mark.django_db


def saved(admin_client, **overrides) -> Connection:
    admin_client.post("/connections/new/", onprem_form_data(name="Contoso on-premises", **overrides))
    return Connection.objects.get(name="Contoso on-premises")


def preview(client, connection, table="account"):
    return client.post(f"/connections/{connection.pk}/preview/", {"table": table})


def names(response) -> list[str]:
    return [header.split()[-1] for header in preview_table(response).headers]


@pytest.mark.parametrize(("url", "version"), [("http://crm.contoso.local/Contoso/", "9.1"),
                                              ("http://crm2016.contoso.local/Contoso/", "8.1")])  # fmt: skip
def test_it_previews_through_the_web_api_with_ntlm(admin_client, onprem, url, version):
    response = preview(admin_client, saved(admin_client, url=url))
    table = preview_table(response)
    assert len(table.rows) == 2 and "telephone1" in names(response)
    revenue = names(response).index("revenue")
    assert table.rows[0][revenue] == ("$20,000.00", "20000.0")
    assert f"Dynamics CRM Web API v{version}" in response.content.decode()


def test_it_previews_with_a_token_from_adfs(admin_client, onprem):
    response = preview(admin_client, saved(admin_client, **adfs(onprem)), "contact")
    assert len(preview_table(response).rows) == 1
    assert "Yvonne McKay (sample)" in response.content.decode()


def test_it_previews_crm_2011_through_the_odata_v2_service(admin_client, onprem):
    response = preview(admin_client, saved(admin_client, url="http://crm2011.contoso.local/Contoso/"))
    table = preview_table(response)
    assert len(table.rows) == 2
    columns = names(response)
    assert "__metadata" not in columns and {"Name", "Telephone1", "PrimaryContactId"} <= set(columns)
    first = dict(zip(columns, table.rows[0], strict=True))
    assert first["Name"][0] == "Litware, Inc. (sample)"
    assert first["PrimaryContactId"][0] == "Yvonne McKay (sample)" and first["PrimaryContactId"][1]
    assert first["Revenue"][0] == "20000.0000"
    assert "OData v2 shows the columns of the rows it returned" in response.content.decode()
    assert text_of(response, "preview-summary").startswith("2 rows of account")


def test_it_says_a_crm_2011_table_does_not_exist(admin_client, onprem):
    response = preview(admin_client, saved(admin_client, url="http://crm2011.contoso.local/Contoso/"), "new_nothing")
    assert "There is no table new_nothing in this organization" in failure(response)


def test_it_names_the_missing_privilege_on_premises(admin_client, onprem):
    connection = saved(admin_client)
    onprem.sim.define_role(onprem.crm91, "Nothing", {})
    onprem.sim.set_roles(onprem.crm91, onprem.users["crm91"], "Nothing")
    text = failure(preview(admin_client, connection))
    assert "Dynamics CRM user may not read account: it is missing prvReadAccount" in text
    assert "Dynamics CRM > Settings > Security > Security Roles" in text


def test_it_explains_a_wrong_windows_password(admin_client, onprem):
    connection = saved(admin_client)
    connection.set_windows_password("not the password")
    connection.save()
    assert "refused the Windows credentials of CONTOSO\\maria" in failure(preview(admin_client, connection))
