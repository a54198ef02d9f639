"""The form shows what each credential uses: Managed identity hides the Client ID, the AzureTenant and the secret;
user-assigned asks for its Identity ID; AzureAD offers neither credential with no secret."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_form_shows_the_fields_of_a_managed_identity(signed_in_page, live_server, screenshot):
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/new/")
    page.get_by_label("Managed identity (AzureMSI)").check()
    expect(page.get_by_label("Client ID", exact=True)).to_be_hidden()
    expect(page.get_by_label("AzureTenant")).to_be_hidden()
    expect(page.get_by_label("Client Secret")).to_be_hidden()
    expect(page.get_by_label("System-assigned")).to_be_checked()
    expect(page.get_by_label("Identity ID")).to_be_hidden()
    page.get_by_label("User-assigned, by its resource ID").check()
    expect(page.get_by_label("Identity ID")).to_be_visible()
    screenshot("managed-identity-form")

    page.get_by_label("AzureAD (delegated: sign in with Microsoft)").check()
    expect(page.get_by_label("Managed identity (AzureMSI)")).to_be_hidden()
    expect(page.get_by_label("Federated (no secret)")).to_be_hidden()
    expect(page.get_by_label("Secret (OAuthClientSecret)")).to_be_checked()
    expect(page.get_by_label("Client ID", exact=True)).to_be_visible()
    expect(page.get_by_label("Client Secret")).to_be_visible()
