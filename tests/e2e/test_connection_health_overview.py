"""Connection health in the browser, as an administrator looks at it: the Connections list's state badges, the
connection page's 30-day chart and its Scheduled re-tests card after the schedule has TESTed it, with the budget
Dataverse said was left."""

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
    sales = make_connection(name="Contoso Sales", client_secret=microsoft.secret.value, **app)
    finance = make_connection(name="Fabrikam Finance", client_secret="a-secret-entra-has-never-seen", **app)
    make_connection(name="Northwind New", **app)
    earlier_weeks(sales, admin_user)
    for _ in range(2):  # two intervals' scheduled TESTs: Fabrikam's second failure in a row makes it Down
        Connection.objects.filter(pk__in=[sales.pk, finance.pk]).update(next_test_at=timezone.now())
        scheduled_tests.call_local()
    page = signed_in_page

    page.goto(f"{live_server.url}/connections/")
    expect(page.get_by_role("row").filter(has_text="Contoso Sales")).to_contain_text("Up")
    expect(page.get_by_role("row").filter(has_text="Fabrikam Finance")).to_contain_text("Down")
    expect(page.get_by_role("row").filter(has_text="Northwind New")).to_contain_text("Unknown")
    screenshot("health-connections-list")

    page.goto(f"{live_server.url}/connections/{sales.pk}/")
    expect(page.locator("#health")).to_have_text("Up")
    expect(page.locator("#history svg").first).to_be_visible()
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
