"""CRM2011+ in the browser: the form shows what an on-premises server needs, TEST signs in with NTLM, CREATE saves."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_and_tests_an_ntlm_connection(signed_in_page, live_server, onprem, screenshot):
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/new/")
    expect(page.get_by_label("AzureTenant")).to_be_visible()
    expect(page.get_by_label("User", exact=True)).to_be_hidden()

    page.get_by_label("Connection Name").fill("Contoso on-premises")
    page.get_by_label("CRM Version").select_option("CRM2011+")
    for entra_only in ("AzureTenant", "Azure Environment", "Client ID", "Client Secret"):
        expect(page.get_by_label(entra_only, exact=True), entra_only).to_be_hidden()
    expect(page.get_by_role("radio", name=re.compile("^AzureServicePrincipal"))).to_be_hidden()
    expect(page.get_by_role("radio", name=re.compile("^NTLM"))).to_be_checked()
    page.get_by_label("URL").fill("http://crm.contoso.local/Contoso")
    expect(page.locator("#url-warning")).to_contain_text("NTLM never sends the password itself")
    page.get_by_label("User", exact=True).fill("CONTOSO\\maria")
    page.get_by_label("Password", exact=True).fill(onprem.password)
    screenshot("onprem-ntlm-form")

    page.get_by_role("button", name="TEST").click()
    result = page.locator("#test-result .test-result")
    expect(result).to_contain_text("Connection available")
    expect(result).to_contain_text("Web API v9.1")
    expect(result).to_contain_text("Sign-in (NTLM)")
    expect(page.get_by_label("Password", exact=True)).to_have_value(onprem.password)
    screenshot("onprem-ntlm-test-available")

    page.get_by_role("radio", name=re.compile("^ADFS")).check()
    expect(page.get_by_label("AD FS Server")).to_be_visible()
    expect(page.get_by_label("Client ID", exact=True)).to_be_visible()
    expect(page.get_by_label("Client Secret", exact=True)).to_be_visible()
    expect(page.get_by_label("User", exact=True)).to_be_hidden()
    expect(page.locator("#url-warning")).to_contain_text("the AD FS token")
    page.get_by_role("radio", name=re.compile("^NTLM")).check()

    page.get_by_role("button", name="CREATE").click()
    expect(page.get_by_role("heading", name="Contoso on-premises")).to_be_visible()
    assert onprem.password not in page.content()
    page.get_by_role("button", name="TEST").click()
    expect(page.locator("#test-result")).to_contain_text("Connection available")

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("User", exact=True)).to_have_value("CONTOSO\\maria")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")  # write-only
    expect(page.get_by_label("AzureTenant")).to_be_hidden()
