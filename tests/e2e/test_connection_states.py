"""A connection's state in the browser: one failed TEST alerts nobody, the second makes it Down on its page and in
the Connections list, and the owner finds one notification naming the failing step; one good TEST brings it Up."""

import pytest
from django.core import mail
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_failed_tests_make_it_down_and_a_good_one_up_again(
    signed_in_page, live_server, microsoft, make_connection, screenshot
):
    connection = make_connection(
        name="Contoso Sales",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret="not-the-secret-of-this-app",
    )
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    health = page.locator("#health")
    expect(health).to_have_text("Unknown")
    page.get_by_role("button", name="TEST").click()
    expect(page.locator("#test-result")).to_contain_text("Connection unavailable", timeout=15000)
    expect(health).to_have_text("Unknown")  # one failure: a blip, nobody is alerted
    assert len(mail.outbox) == 0
    page.get_by_role("button", name="TEST").click()
    expect(health).to_have_text("Down", timeout=15000)
    screenshot("connection-down")
    page.goto(f"{live_server.url}/connections/")
    expect(page.get_by_role("row").filter(has_text="Contoso Sales")).to_contain_text("Down")
    screenshot("connections-list-down")
    page.goto(f"{live_server.url}/marketplace/notifications/")
    expect(page.locator("body")).to_contain_text("Contoso Sales")
    expect(page.locator("body")).to_contain_text("Token from Entra ID")
    screenshot("notification-down")
    assert len(mail.outbox) == 1 and "Contoso Sales" in mail.outbox[0].subject + mail.outbox[0].body

    connection.refresh_from_db()
    connection.set_client_secret(microsoft.secret.value)  # the admin fixed the secret
    connection.save()
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.get_by_role("button", name="TEST").click()
    expect(health).to_have_text("Up", timeout=15000)
    assert len(mail.outbox) == 2
