"""Connection health in the browser, as an administrator looks at it: the Connections list's state badges,
sparklines and expiry warnings, and the connection page's 30-day chart, credential expiry and Scheduled re-tests card
after the schedule has TESTed it, with the budget Dataverse said was left."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from connections.background import scheduled_tests
from connections.models import Connection
from tests.e2e.test_connection_history import earlier_weeks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_list_and_the_page_show_the_health_the_schedule_found(
    signed_in_page, live_server, microsoft, make_connection, admin_user, screenshot
):
    microsoft.sim.set_service_protection(microsoft.env.url, remaining_requests=4200, remaining_seconds=1000)
    app = {"client_id": microsoft.app.client_id, "azure_tenant": microsoft.tenant.tenant_id, "url": microsoft.env.url}
    # The app may read its own credentials (Application.Read.All); its secret ends in 5 days.
    microsoft.sim.grant_graph(microsoft.app.client_id, "Application.Read.All")
    ending = microsoft.sim.add_secret(
        microsoft.app.client_id, expires_at=timezone.now() + dt.timedelta(days=5, hours=1)
    )
    sales = make_connection(name="Contoso Sales", client_secret=ending.value, **app)
    finance = make_connection(name="Fabrikam Finance", client_secret="a-secret-entra-has-never-seen", **app)
    make_connection(name="Northwind New", **app)
    earlier_weeks(sales, admin_user)
    for _ in range(2):  # two intervals' scheduled TESTs: Fabrikam's second failure in a row makes it Down
        Connection.objects.filter(pk__in=[sales.pk, finance.pk]).update(next_test_at=timezone.now())
        scheduled_tests.call_local()
    page = signed_in_page

    page.goto(f"{live_server.url}/connections/")
    sales_row = page.get_by_role("row").filter(has_text="Contoso Sales")
    expect(sales_row).to_contain_text("Up")
    expect(sales_row).to_contain_text("Expires in 5 days")
    expect(sales_row.get_by_role("img")).to_have_accessible_name("Last 10 TESTs: 9 available, 1 unavailable")
    expect(page.get_by_role("row").filter(has_text="Fabrikam Finance")).to_contain_text("Down")
    expect(page.get_by_role("row").filter(has_text="Northwind New")).to_contain_text("Unknown")
    screenshot("health-connections-list")

    page.goto(f"{live_server.url}/connections/{sales.pk}/")
    expect(page.locator("#health")).to_have_text("Up")
    expect(page.locator("#history svg").first).to_be_visible()
    expiry = page.locator("#credential-expiry")
    expect(expiry).to_contain_text("Expires in 5 days")
    expect(expiry).to_contain_text("Microsoft Graph")
    expect(expiry).to_contain_text("Add a new client secret")
    expect(page.locator("#history")).to_contain_text("Schedule")  # the scheduled TESTs in the latest TESTs
    card = page.locator("#schedule")
    expect(card).to_contain_text("Next scheduled TEST:")
    expect(card).to_contain_text(" (in ")  # about an hour from now
    expect(card).to_contain_text("of 6,000")
    assert 4100 <= int(page.locator("#service-protection progress").first.get_attribute("value")) <= 4200
    screenshot("health-connection-page")

    page.goto(f"{live_server.url}/connections/{finance.pk}/")
    expect(page.locator("#health")).to_have_text("Down")
    expect(page.locator("#last-test")).to_contain_text("Token from Entra ID")
    screenshot("health-connection-down")
