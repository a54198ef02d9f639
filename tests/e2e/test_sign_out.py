"""After signing out, the back button shows no connection list, connection or audit trail: the pages were sent
with `Cache-Control: no-store`, so the browser keeps no copy of them and asks again, and is sent to sign in.

Playwright turns Chromium's back/forward cache off; a person's browser has it on, and it is what would show
a page again without asking, so this test turns it back on.
"""

import re

import pytest
from playwright.sync_api import expect

from audit import trail
from audit.models import Action
from tests.conftest import ADMIN_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def everyday_page(browser_type, browser_type_launch_args, browser_context_args):
    """A page of a Chromium that keeps pages for the back button, as browsers people use do."""
    browser = browser_type.launch(**browser_type_launch_args, ignore_default_args=["--disable-back-forward-cache"])
    context = browser.new_context(**browser_context_args)
    yield context.new_page()
    context.close()
    browser.close()


def sign_in(page, root: str, username: str) -> None:
    page.goto(f"{root}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{root}/connections/")


def test_the_back_button_after_sign_out_shows_the_sign_in_page(everyday_page, live_server, admin_user, make_connection):
    page = everyday_page
    connection = make_connection(name="Contoso Confidential")
    trail.record(admin_user, Action.CONNECTION_CREATED, connection)
    sign_in(page, live_server.url, admin_user.username)
    expect(page.get_by_role("row", name=re.compile("Contoso Confidential"))).to_be_visible()
    page.get_by_role("link", name="Contoso Confidential", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/connections/{connection.pk}/")
    page.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_text("Contoso Confidential").first).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    for left in ("audit trail", "connection", "connection list"):
        page.go_back(wait_until="commit")  # a page restored from the back/forward cache fires no load
        expect(page.get_by_label("Password"), f"the {left}, after sign-out").to_be_visible()
        assert "Contoso Confidential" not in page.content(), f"the {left} is still shown after sign-out"
        expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
