"""TEST in the browser: the result appears above the form and nothing the admin typed is lost."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill(page, microsoft, secret: str) -> None:
    page.get_by_label("Connection Name").fill("Contoso Sales")
    page.get_by_label("Client ID").fill(microsoft.app.client_id)
    page.get_by_label("Client Secret").fill(secret)
    page.get_by_label("URL").fill(microsoft.env.url)
    page.get_by_label("AzureTenant").fill(microsoft.tenant.tenant_id)


def test_test_shows_success_and_failure_without_losing_the_typed_values(
    signed_in_page, live_server, microsoft, screenshot
):
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/new/")
    fill(page, microsoft, microsoft.secret.value)

    page.get_by_role("button", name="TEST").click()
    result = page.locator("#test-result .test-result")
    expect(result).to_contain_text("Connection available")
    expect(result).to_contain_text(microsoft.env.organization_id)
    expect(page.get_by_role("button", name="TEST")).to_be_enabled()
    expect(page.get_by_label("Client Secret")).to_have_value(microsoft.secret.value)
    screenshot("test-available")

    page.get_by_label("Client Secret").fill(microsoft.secret.secret_id)
    page.get_by_role("button", name="TEST").click()
    expect(result).to_contain_text("Connection unavailable")
    expect(result).to_contain_text("Value, not its Secret ID")
    expect(page.get_by_label("Connection Name")).to_have_value("Contoso Sales")
    expect(page.get_by_label("Client ID")).to_have_value(microsoft.app.client_id)
    expect(page.get_by_label("Client Secret")).to_have_value(microsoft.secret.secret_id)
    expect(page.get_by_label("AzureTenant")).to_have_value(microsoft.tenant.tenant_id)
    screenshot("test-unavailable")

    page.get_by_label("Client Secret").fill(microsoft.secret.value)
    page.get_by_role("button", name="CREATE").click()
    expect(page.get_by_role("heading", name="Contoso Sales")).to_be_visible()
    page.get_by_role("button", name="TEST").click()
    expect(page.locator("#test-result")).to_contain_text("Connection available")
    page.get_by_role("link", name="Connections", exact=True).first.click()
    expect(page.get_by_role("row", name=re.compile("Contoso Sales"))).to_contain_text("Available")


def test_test_shows_field_errors_next_to_the_fields(signed_in_page, live_server, microsoft):
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/new/")
    fill(page, microsoft, microsoft.secret.value)
    page.get_by_label("Client ID").fill("not-a-guid")
    page.get_by_role("button", name="TEST").click()
    expect(page.locator("#div_id_client_id")).to_contain_text("GUID")
    expect(page.get_by_label("Client Secret")).to_have_value(microsoft.secret.value)
