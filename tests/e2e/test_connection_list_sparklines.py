"""The Connections list's sparklines in the browser: each row's last TESTs drawn beside its Last TEST, an image
with a text alternative; none for a connection never tested."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from connections.models import Connection
from connections.runs import RunSource, RunState, TestRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def with_tests(connection, outcomes: str, admin_user) -> None:
    """One finished TEST an hour for each letter of `outcomes` (y: available, n: unavailable), the last one now."""
    now = timezone.now()
    for hours_ago, outcome in enumerate(reversed(outcomes)):
        when = now - dt.timedelta(hours=hours_ago)
        ok = outcome == "y"
        TestRun.objects.create(
            connection=connection,
            started_by=admin_user,
            source=RunSource.LIST,
            state=RunState.FINISHED,
            lock_key=f"connection:{connection.pk}",
            crm_version=connection.crm_version,
            auth_scheme=connection.auth_scheme,
            result={"ok": ok, "step": "" if ok else "token", "elapsed": 0.4 + (hours_ago % 4) * 0.3 + (not ok) * 2},
            created_at=when,
            deadline=when,
            finished_at=when,
        )
    last = "available" if outcomes[-1] == "y" else "unavailable"
    health = "up" if outcomes[-1] == "y" else "down"
    Connection.objects.filter(pk=connection.pk).update(last_test_status=last, last_tested_at=now, health=health)


def test_the_list_draws_each_row_s_last_tests(signed_in_page, live_server, make_connection, admin_user, screenshot):
    with_tests(make_connection(name="Contoso Sales"), "yynyyyyynyyy", admin_user)
    with_tests(make_connection(name="Fabrikam HR"), "nny", admin_user)
    with_tests(
        make_connection(name="Litware Support", crm_version="CRM2011+", url="http://crm.litware.local/"),
        "y" * 10,
        admin_user,
    )
    make_connection(name="Northwind Finance")
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/")
    contoso = page.get_by_role("row").filter(has_text="Contoso Sales")
    sparkline = contoso.get_by_role("img", name="Last 10 TESTs: 8 available, 2 unavailable")
    expect(sparkline).to_be_visible()
    assert sparkline.bounding_box()["height"] == 18
    expect(contoso.locator("rect.sparkline-failed")).to_have_count(2)
    expect(page.get_by_role("row").filter(has_text="Fabrikam HR").get_by_role("img")).to_have_accessible_name(
        "Last 3 TESTs: 1 available, 2 unavailable"
    )
    northwind = page.get_by_role("row").filter(has_text="Northwind Finance")
    expect(northwind).to_contain_text("Never tested")
    expect(northwind.locator("svg.sparkline")).to_have_count(0)
    screenshot("connections-list-sparklines")
