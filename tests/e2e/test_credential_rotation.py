"""Rotation in the browser: add a new secret on the Credentials panel, TEST it there (the page's TEST, with its
progress, without a reload), promote it, and the connection's TEST keeps working; the page never shows a secret."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_secret_is_added_tested_and_promoted_on_the_connection_page(
    signed_in_page, live_server, microsoft, make_connection, screenshot
):
    connection = make_connection(
        name="Contoso Sales",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
    )
    new_secret = microsoft.sim.add_secret(microsoft.app.client_id)
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    panel = page.locator("#credentials")

    panel.get_by_label("New Client Secret").fill(new_secret.value)
    panel.get_by_role("button", name="Add a new secret").click()
    expect(page.locator("body")).to_contain_text("The new secret was added beside the current one")
    expect(panel).to_contain_text("Not tested yet")
    panel.get_by_role("button", name="TEST the new secret").click()
    expect(panel.locator("#credential-new-test")).to_contain_text("Available", timeout=15000)
    expect(page.locator("#test-result")).to_contain_text("Connection available")
    expect(page.locator("#last-test")).to_contain_text("Never tested")  # the connection's own Last TEST is unchanged
    screenshot("rotation-new-secret-tested")
    panel.get_by_role("button", name="Promote").click()
    expect(page.locator("body")).to_contain_text("The new secret is now current")
    expect(panel.locator("#credential-previous")).to_contain_text("Replaced")
    page.get_by_role("button", name="TEST", exact=True).click()
    expect(page.locator("#last-test")).to_contain_text("Available", timeout=15000)
    screenshot("rotation-promoted")
    html = page.content()
    assert new_secret.value not in html and microsoft.secret.value not in html
