"""An admin signs in, fills the form by its labels, clicks CREATE and finds the connection in the list."""

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import TEST_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_a_connection_and_sees_it_in_the_list(signed_in_page, live_server, screenshot):
    page = signed_in_page
    page.get_by_role("link", name="New connection").first.click()
    expect(page.get_by_role("heading", name="New connection")).to_be_visible()

    page.get_by_label("Connection Name").fill("Contoso Sales")
    page.get_by_label("Client ID").fill("11111111-2222-3333-4444-555555555555")
    page.get_by_label("Client Secret").fill(TEST_SECRET)
    page.get_by_label("URL").fill("https://Contoso.crm.dynamics.com")
    expect(page.get_by_label("CRM Version")).to_have_value("CRMOnline")
    page.get_by_label("AzureTenant").fill("contoso.onmicrosoft.com")
    screenshot("create-form-filled")
    page.get_by_role("button", name="CREATE").click()

    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_contain_text(
        "The connection “Contoso Sales” was created."
    )
    expect(page.get_by_text("https://contoso.crm.dynamics.com/", exact=True)).to_be_visible()
    assert TEST_SECRET not in page.content()

    page.get_by_role("link", name="Connections", exact=True).first.click()
    row = page.get_by_role("row", name=re.compile("Contoso Sales"))
    expect(row).to_contain_text("contoso.crm.dynamics.com")
    expect(row).to_contain_text("contoso.onmicrosoft.com")
    expect(row).to_contain_text("Never tested")
    screenshot("connections-list")


def test_the_form_is_usable_on_a_phone(signed_in_page, live_server, screenshot):
    page = signed_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/connections/new/")
    for label in ("Connection Name", "Client ID", "Client Secret", "URL", "CRM Version", "AzureTenant"):
        field = page.get_by_label(label, exact=True)
        expect(field, f"the {label} field").to_be_visible()
        box = field.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"{label} overflows the phone screen"
    page.get_by_role("button", name="Toggle navigation").click()
    expect(page.get_by_role("link", name="Connections", exact=True)).to_be_visible()
    screenshot("create-form-phone")
