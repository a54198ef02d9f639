"""Check access in the browser with a real worker: TEST, then Check access, then the list of tables with a
not-readable one and its missing privilege."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_background_test import worker  # noqa: F401 - the fixture
from tests.simulator.conftest import ENV_URL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_page_checks_access_after_a_good_test(
    signed_in_page,
    live_server,
    microsoft,
    worker,  # noqa: F811 - the imported fixture
    screenshot,
    make_connection,
):
    connection = make_connection(
        name="Contoso Sales",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
    )
    microsoft.sim.define_role(ENV_URL, "Sales reader", {"prvReadAccount": "Global", "prvReadLead": "Local"})
    microsoft.sim.set_roles(ENV_URL, microsoft.app_user, "Sales reader")
    microsoft.sim.add_table(ENV_URL, "new_project", columns=[("new_name", "String")], display_name="Project")
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    card = page.locator("#access")
    expect(card).to_contain_text("TEST the connection first")
    page.get_by_role("button", name="TEST", exact=True).click()
    expect(page.locator("#test-result")).to_contain_text("Connection available", timeout=15000)
    card.get_by_label("Other tables to read").fill("new_project")
    card.get_by_role("button", name="Check access").click()
    expect(card).to_contain_text("2 of the 6 tables read", timeout=15000)
    contact = card.locator("tr[data-table=contact]")
    expect(contact).to_contain_text("Missing prvReadContact")
    expect(contact).to_contain_text("Settings > Users + permissions > Security roles")
    expect(card.locator("tr[data-table=new_project]")).to_contain_text("Missing prvReadnew_project")
    expect(card.locator("tr[data-table=account]")).to_contain_text("Readable")
    card.locator("details.access-all summary").click()
    expect(card.locator(".access-list")).to_contain_text("account")
    expect(card.get_by_label("Other tables to read")).to_have_value("new_project")  # offered again
    card.scroll_into_view_if_needed()
    screenshot("check-access-result")
    page.reload()
    expect(page.locator("#access")).to_contain_text("2 of the 6 tables read")
