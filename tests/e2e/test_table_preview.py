"""Preview in the browser: a table's first rows on the connection page, every column (an empty one too), formatted
values, and a refusal with its advice."""

import pytest
from playwright.sync_api import expect

from tests.helpers import ENV_URL
from tests.test_connection_test import good

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_owner_previews_a_table_and_sees_its_rows(
    signed_in_page, live_server, microsoft, make_connection, screenshot
):
    sim = microsoft.sim
    sim.add_rows(
        ENV_URL,
        "account",
        *(
            {"name": f"Fabrikam branch {n}", "accountnumber": f"FAB-{n:03}", "revenue": 1500.0 * n, "industrycode": 7,
             "numberofemployees": 40 + n, "statecode": 0}
            for n in range(1, 12)
        ),
        {"name": "<script>alert(1)</script>", "statecode": 1},
    )  # fmt: skip
    connection = make_connection(name="Contoso Sales", **good(microsoft))
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    card = page.locator("#preview")
    card.get_by_label("Table (logical name)").fill("account")
    card.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-summary")).to_contain_text("10 rows of account (Account)")
    expect(page.locator("#preview-summary")).to_contain_text("values are shown, never stored")
    table = page.locator(".preview-table table")
    expect(table.locator("tbody tr")).to_have_count(10)
    expect(table.locator("thead")).to_contain_text("Main Phone")
    expect(table).to_contain_text("Yvonne McKay (sample)")
    expect(table).to_contain_text("$20,000.00")
    expect(table).to_contain_text("Consulting")
    screenshot("preview-account")

    card = page.locator("#preview")
    card.get_by_label("Table (logical name)").fill("Not a table")
    card.get_by_role("button", name="Preview").click()
    expect(page.locator("#id_table_error")).to_contain_text("logical name")

    sim.define_role(ENV_URL, "Contacts only", {"prvReadContact": "Global"})
    sim.set_roles(ENV_URL, microsoft.app_user, "Contacts only")
    card = page.locator("#preview")
    card.get_by_label("Table (logical name)").fill("account")
    card.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-failed")).to_contain_text("missing prvReadAccount")
    screenshot("preview-missing-privilege")
