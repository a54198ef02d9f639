"""An admin creates a Federated (no secret) connection in the browser: copies the three values the app registration
needs, TESTs before CREATE, CREATEs, and TESTs the saved connection. This site is the issuer, served over https on
loopback; the simulator fetches its keys as Entra ID does."""

import re

import pytest
from playwright.sync_api import expect

from connections.models import Connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_and_tests_a_federated_connection_with_no_secret(
    signed_in_page, live_server, microsoft, https_live_server, settings, screenshot
):
    settings.SITE_URL = https_live_server.url
    page = signed_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/connections/new/")
    page.get_by_label("Connection Name").fill("Contoso federated")
    page.get_by_label("Client ID").fill(microsoft.app.client_id)
    page.get_by_label("URL").fill(microsoft.env.url)
    page.get_by_label("AzureTenant").fill(microsoft.tenant.tenant_id)
    page.get_by_label("Federated (no secret)").check()

    expect(page.get_by_label("Client Secret")).to_be_hidden()
    expect(page.get_by_label("Issuer", exact=True)).to_have_value(https_live_server.url)
    expect(page.get_by_label("Audience", exact=True)).to_have_value("api://AzureADTokenExchange")
    command = page.get_by_label("Or with the Azure CLI")
    expect(command).to_have_value(re.compile(f"--id {microsoft.app.client_id} --parameters .*AzureADTokenExchange"))
    subject = page.get_by_label("Subject identifier").input_value()
    assert subject.startswith("dynamics-crm-connection:")
    page.locator('[data-copy-target="#federated-subject"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == subject
    screenshot("federated-form")

    # What the admin does in the Entra admin center with the copied values.
    microsoft.sim.add_federated_credential(
        microsoft.app.client_id,
        issuer=https_live_server.url,
        subject=subject,
        audiences=("api://AzureADTokenExchange",),
    )
    page.get_by_role("button", name="TEST").click()
    expect(page.locator("#test-result .test-result")).to_contain_text("Connection available")
    screenshot("federated-form-tested")

    page.get_by_role("button", name="CREATE").click()
    expect(page.get_by_role("heading", name="Contoso federated")).to_be_visible()
    card = page.locator("#federated-credential")
    expect(card).to_contain_text("Federated credential (no secret)")
    expect(card.get_by_label("Subject identifier")).to_have_value(subject)
    expect(page.get_by_text("None: nothing secret is stored for this connection")).to_be_visible()
    page.get_by_role("button", name="TEST").click()
    expect(page.locator("#test-result")).to_contain_text("Connection available")
    screenshot("federated-connection-page")

    connection = Connection.objects.get(name="Contoso federated")
    assert connection.federated_subject == subject
    assert connection.client_secret_encrypted == connection.certificate_encrypted == ""
