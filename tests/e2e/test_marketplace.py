"""In the browser: an administrator starts the Dynamics CRM trial and tells the users; a user without it asks
for access and is told the request was sent; the administrator finds it in Notifications."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from tests.helpers import USER_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.no_entitlement,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue"),
]
SENTENCE = "Please request your administrator to start a trial or subscribe to the Premium Dynamics CRM connector."


@pytest.fixture
def maria(transactional_db):
    return get_user_model().objects.create_user("maria", "maria@example.com", USER_PASSWORD)


def sign_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/connections/")


def test_an_admin_starts_the_trial_and_notifies_the_users(signed_in_page, live_server, maria, screenshot):
    page = signed_in_page
    # The Connections page explains the gate and links to the marketplace (so does the navigation).
    expect(page.get_by_role("alert")).to_contain_text("no trial or subscription")
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Connector Marketplace").click()
    expect(page.get_by_role("heading", name="Connector Marketplace", exact=True)).to_be_visible()
    dynamics = page.locator("#connector-dynamics-crm")
    expect(dynamics).to_contain_text("Premium")
    expect(page.locator("#connector-sftp")).to_contain_text("Standard")
    screenshot("marketplace-before-trial")

    dynamics.get_by_role("link", name="START TRIAL").click()
    expect(page.get_by_role("heading", name="Start the Dynamics CRM trial?")).to_be_visible()
    expect(page.get_by_text("14 days, free")).to_be_visible()
    expect(page.locator("dd").filter(has_text=re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))).to_have_count(1)
    screenshot("marketplace-start-trial-confirm")
    page.get_by_role("button", name="START TRIAL").click()

    expect(page.get_by_role("status").first).to_contain_text("The Dynamics CRM trial started: it ends on")
    expect(page.get_by_role("heading", name="Tell the users that Dynamics CRM is available?")).to_be_visible()
    screenshot("marketplace-notify-users")
    page.get_by_role("button", name="Notify users").click()

    expect(page.get_by_role("status").first).to_contain_text("Notified 1 user in the app and 1 by email.")
    trials = page.locator("section", has=page.get_by_role("heading", name="Trial Connectors"))
    expect(trials).to_contain_text("Dynamics CRM")
    expect(trials).to_contain_text("Trial · 14 days left")
    expect(dynamics).to_contain_text("Trial · 14 days left")
    screenshot("marketplace-trial")
    assert [message.to for message in mail.outbox] == [["maria@example.com"]]

    dynamics.get_by_role("link", name="New connection").click()
    expect(page.get_by_role("heading", name="New connection")).to_be_visible()
    expect(page.get_by_label("Connection Name")).to_be_visible()


def test_a_user_requests_access_and_the_admin_is_notified(
    page, live_server, maria, admin_user, make_connection, screenshot
):
    from tests.helpers import ADMIN_PASSWORD

    make_connection(name="Contoso Sales", scope="organization")  # shared, so Maria sees it
    sign_in(page, live_server, "maria", USER_PASSWORD)
    row = page.get_by_role("row", name=re.compile("Contoso Sales"))
    expect(row).to_contain_text("Disabled")
    expect(row.get_by_role("button", name="TEST")).to_have_count(0)
    screenshot("connections-disabled")
    row.get_by_role("link", name="Contoso Sales", exact=True).click()
    expect(page.get_by_text(SENTENCE)).to_be_visible()
    screenshot("connection-detail-disabled")
    page.get_by_role("link", name="New connection").first.click()
    expect(page.get_by_text(SENTENCE)).to_be_visible()
    expect(page.get_by_role("link", name="Connector Marketplace").last).to_have_attribute(
        "href", "/marketplace/#connector-dynamics-crm"
    )
    screenshot("gate-request-access")
    page.get_by_role("button", name="Request access").click()
    expect(page.get_by_role("status").first).to_contain_text("Your request was sent to your administrators.")
    expect(page.get_by_text("You already asked your administrators today.")).to_be_visible()
    screenshot("gate-request-sent")
    page.get_by_role("button", name="Request access").click()
    expect(page.get_by_role("status").first).to_contain_text("already sent to your administrators today")
    assert len(mail.outbox) == 1

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "admin", ADMIN_PASSWORD)
    page.get_by_role("link", name=re.compile(r"^Notifications 1 unread$")).click()
    notice = page.get_by_role("link", name="maria asks for the Premium Dynamics CRM connector")
    expect(notice).to_be_visible()
    screenshot("notifications")
    page.get_by_role("button", name="Mark as read").click()
    expect(page.get_by_role("link", name=re.compile(r"^Notifications$"))).to_be_visible()
    notice.click()
    expect(page.locator("#connector-dynamics-crm")).to_contain_text("START TRIAL")


def test_the_marketplace_is_usable_on_a_phone(page, live_server, maria, screenshot):
    sign_in(page, live_server, "maria", USER_PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/marketplace/")
    for name in ("All", "Standard", "Premium", "Trial", "Subscribed"):
        box = page.get_by_role("link", name=name, exact=True).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"the {name} filter overflows the phone screen"
    request = page.locator("#connector-dynamics-crm").get_by_role("button", name="Request access")
    box = request.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    screenshot("marketplace-phone")
    page.get_by_role("link", name="Premium", exact=True).click()
    expect(page.locator("article")).to_have_count(1)
