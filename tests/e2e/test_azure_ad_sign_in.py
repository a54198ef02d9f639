"""AzureAD in the browser: create the connection, sign in on Microsoft's page, come back signed in, TEST."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UPN = "maria@contoso.onmicrosoft.com"


def test_an_admin_signs_in_with_microsoft_and_tests_the_delegated_connection(
    signed_in_page, live_server, microsoft, screenshot
):
    callback = f"{live_server.url}/connections/oauth/callback/"
    person = microsoft.sim.add_user(microsoft.tenant.tenant_id, upn=UPN, display_name="Maria Garcia")
    microsoft.sim.add_redirect_uri(microsoft.app.client_id, callback)
    microsoft.sim.add_dataverse_user(microsoft.env.url, person.object_id)
    page = signed_in_page

    page.goto(f"{live_server.url}/connections/new/")
    page.get_by_label("Connection Name").fill("Contoso as Maria")
    page.get_by_label("Client ID").fill(microsoft.app.client_id)
    page.get_by_label("Client Secret").fill(microsoft.secret.value)
    page.get_by_label("URL", exact=True).fill(microsoft.env.url)
    page.get_by_label("AzureTenant").fill(microsoft.tenant.tenant_id)
    page.get_by_role("radio", name=re.compile("AzureAD")).check()
    expect(page.get_by_label("Callback URL")).to_have_value(callback)
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    screenshot("azure-ad-form")
    page.get_by_role("button", name="CREATE").click()

    expect(page.get_by_text("No one has signed in yet")).to_be_visible()
    page.get_by_role("button", name="Sign in with Microsoft").click()
    expect(page).to_have_title(re.compile("Sign in to your account"))
    screenshot("azure-ad-microsoft-sign-in")
    page.get_by_label("Email, phone, or Skype").fill(UPN)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Contoso as Maria")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("Signed in to Microsoft as Maria Garcia (" + UPN + ")")
    expect(page.locator("#microsoft-sign-in")).to_contain_text(microsoft.tenant.tenant_id)
    page.get_by_role("button", name="TEST").click()
    expect(page.locator("#test-result")).to_contain_text("Connection available")
    expect(page.locator("#last-test")).to_contain_text("Available")
    screenshot("azure-ad-signed-in-test-available")
    assert microsoft.secret.value not in page.content()
