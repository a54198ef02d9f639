"""In a real browser: create an API token, copy it with the Copy button (the page's own script, allowed by the
Content Security Policy), find it gone on the next visit, and revoke it after confirming."""

import re

import pytest
from playwright.sync_api import expect

from api_tokens.models import ApiToken

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_token_is_created_copied_shown_once_and_revoked(signed_in_page, live_server, admin_user):
    page = signed_in_page
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("Nightly export")
    page.get_by_label("Expires").select_option(label="30 days")
    page.get_by_role("button", name="Create token").click()

    token = page.get_by_label("New API token").input_value()
    assert re.fullmatch(r"gathr_[0-9a-f]{12}_[0-9a-f]{64}", token)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token

    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("row", name=re.compile("Nightly export"))).to_contain_text("Active")
    assert token not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke Nightly export").click()
    expect(page.get_by_role("row", name=re.compile("Nightly export"))).to_contain_text("Revoked")
    assert ApiToken.objects.get(user=admin_user).revoked_at is not None
    assert [text for text in console if "Content Security Policy" in text] == []


def test_dismissing_the_confirmation_keeps_the_token(signed_in_page, live_server, admin_user):
    ApiToken.issue(admin_user, "Keep me")
    page = signed_in_page
    page.goto(f"{live_server.url}/account/api-tokens/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke Keep me").click()
    expect(page.get_by_role("row", name=re.compile("Keep me"))).to_contain_text("Active")
    assert ApiToken.objects.get(user=admin_user).revoked_at is None
