"""The connection page's history in the browser: TEST twice, then the chart of the last 30 days and the table of
the latest TESTs show both, beside the weeks before."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from connections.runs import RunSource, RunState, TestRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def earlier_weeks(connection, admin_user) -> None:
    """Three weeks of TESTs before today's, one a day, the Thursday ones failing at the token."""
    for days_ago in range(21, 0, -1):
        when = timezone.now() - dt.timedelta(days=days_ago)
        ok = when.weekday() != 3
        result = {"ok": ok, "step": "" if ok else "token", "code": "" if ok else "invalid_client"}
        TestRun.objects.create(
            connection=connection,
            started_by=admin_user,
            source=RunSource.LIST,
            state=RunState.FINISHED,
            lock_key=f"connection:{connection.pk}",
            crm_version=connection.crm_version,
            auth_scheme=connection.auth_scheme,
            result=result | {"elapsed": 0.6 + (days_ago % 5) * 0.15},
            steps=[
                {"key": "token", "label": "Token from Entra ID", "status": "ok" if ok else "failed", "elapsed": 0.5}
            ],
            created_at=when,
            deadline=when,
            finished_at=when,
        )


def test_two_tests_show_in_the_connection_s_chart_and_table(
    signed_in_page, live_server, microsoft, make_connection, admin_user, screenshot
):
    connection = make_connection(
        name="Contoso Sales",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
    )
    earlier_weeks(connection, admin_user)
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    for tests_today in ("1 of 1 good", "2 of 2 good"):  # the chart and table follow each TEST, no reload
        page.get_by_role("button", name="TEST").click()
        expect(page.locator("#test-result")).to_contain_text("Connection available", timeout=15000)
        expect(page.locator("#history svg g").last).to_contain_text(tests_today)
    chart = page.get_by_role("img", name="Availability and time taken per day, last 30 days")
    expect(chart).to_be_visible()
    expect(page.locator("#history-summary")).to_contain_text("(20 of 23 TESTs good)")
    table = page.locator("#latest-tests")
    expect(table.locator("tbody tr")).to_have_count(20)
    expect(table.locator("tbody tr").nth(0)).to_contain_text("admin (Connection page)")
    expect(table.locator("tbody tr").nth(1)).to_contain_text("Available")
    expect(table.locator("tr").filter(has_text="invalid_client").first).to_contain_text("Token from Entra ID")
    screenshot("connection-history")
    page.reload()  # the page as it is served shows the same
    expect(page.locator("#history-summary")).to_contain_text("(20 of 23 TESTs good)")
