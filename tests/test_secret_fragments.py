"""No page and no log shows four or more consecutive characters of a stored secret: not the whole value (the
sweep of test_secret_hygiene.py), not its first characters as a "hint", not any piece of it.

An admin creates Dynamics CRM connections with a client secret Entra knows, one it refuses, and an
on-premises Windows password, then goes through every page that shows a connection: the list, the page, the
edit form, the delete confirmation, TEST (JSON and without JavaScript, saved and on the form), the admin and
the audit trail. Every response and every log record is then searched for every four-character run.
"""

import logging

import pytest
from django.http import HttpResponse

from connections.models import Connection
from tests.fragments import MIN_RUN, fragments, windows
from tests.helpers import form_data
from tests.hygiene import Browser, Evidence, log_text
from tests.onprem.helpers import onprem_form_data

pytestmark = pytest.mark.django_db

# Every four-character window holds "~" next to ".", "-" or "_": nothing else on a page looks like that.
CLIENT_SECRET = "K~.7-~q~_W_~3~.x-~Z~_5.~m~-P_~8"
REFUSED_SECRET = "J~_4.~t~-V-~6~_y.~R~.2_~n~-H.~1"
WINDOWS_PASSWORD = "B~-9_~f~.L.~5~-u_~T~_0-~c~.G-~2"
SECRETS = {
    "client secret": [CLIENT_SECRET],
    "client secret Entra refuses": [REFUSED_SECRET],
    "Windows password": [WINDOWS_PASSWORD],
}
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def world(microsoft, onprem, settings):
    """Entra knows CLIENT_SECRET; the on-premises CRM 9.1 server knows CONTOSO\\svc-gathr by WINDOWS_PASSWORD."""
    settings.TEST_RATE_PER_USER = settings.TEST_RATE_PER_HOST = 1000
    microsoft.sim.add_secret(microsoft.app.client_id, value=CLIENT_SECRET)
    account = onprem.sim.add_windows_user("CONTOSO", "svc-gathr", WINDOWS_PASSWORD)
    onprem.sim.add_crm_user(onprem.crm91, account)
    microsoft.onprem = onprem
    return microsoft


def online(world, **overrides) -> dict:
    values = {"client_id": world.app.client_id, "azure_tenant": world.tenant.tenant_id, "url": world.env.url}
    return form_data(**{**values, **overrides})


def on_premises(**overrides) -> dict:
    values = {"windows_user": "CONTOSO\\svc-gathr", "windows_password": WINDOWS_PASSWORD}
    return onprem_form_data(**{**values, **overrides})


def pages_without_connections(browser: Browser) -> None:
    browser.get("list (empty)", "/connections/")
    browser.get("new connection", "/connections/new/")
    browser.get("admin add", "/admin/connections/connection/add/")


def create_connections(browser: Browser, world) -> dict[str, int]:
    new = "/connections/new/"
    answer = browser.post("TEST form (JSON)", new, online(world, client_secret=CLIENT_SECRET, action="test"), **JSON)
    assert answer.json()["ok"] is True, answer.json()["message"]
    browser.post("TEST form (no JS)", new, online(world, client_secret=CLIENT_SECRET, action="test"))
    refused = browser.post(
        "TEST form, refused (JSON)", new, online(world, client_secret=REFUSED_SECRET, action="test"), **JSON
    )
    assert "AADSTS7000215" in refused.json()["message"]
    assert browser.post("TEST form, on-premises (JSON)", new, on_premises(action="test"), **JSON).json()["ok"] is True
    browser.post("TEST form, on-premises (no JS)", new, on_premises(action="test"))
    browser.post("create: errors", new, online(world, name="Broken", client_secret=CLIENT_SECRET, url="x"), expect=400)
    browser.post("create", new, online(world, name="Contoso Online", client_secret=CLIENT_SECRET))
    browser.post("create: refused", new, online(world, name="Contoso Refused", client_secret=REFUSED_SECRET))
    browser.post("create: on-premises", new, on_premises(name="Contoso On-premises"))
    return dict(Connection.objects.values_list("name", "pk"))


# Name: (the secret's field, its value, the form's data).
EDITS = {
    "Contoso Online": ("client_secret", CLIENT_SECRET, online),
    "Contoso Refused": ("client_secret", REFUSED_SECRET, online),
    "Contoso On-premises": ("windows_password", WINDOWS_PASSWORD, lambda world, **values: on_premises(**values)),
}


def pages_of_each(browser: Browser, world, pks: dict[str, int]) -> None:
    browser.get("list", "/connections/")
    browser.get("list: search", "/connections/?q=contoso&sort=-tested")
    for name, pk in pks.items():
        page = f"/connections/{pk}/"
        answer = browser.post(f"TEST {name} (JSON)", f"{page}test/", **JSON).json()
        assert answer["ok"] is (name != "Contoso Refused"), answer["message"]
        browser.post(f"TEST {name} (no JS)", f"{page}test/", {"next": page})
        browser.get(f"page: {name}", page)
        browser.get(f"edit: {name}", f"{page}edit/")
        browser.get(f"delete: confirm {name}", f"{page}delete/")
        field, secret, typed = EDITS[name]
        stored = typed(world, name=name, action="test", **{field: ""})
        browser.post(f"edit: TEST the stored secret (JSON) {name}", f"{page}edit/", stored, **JSON)
        errors = typed(world, name=name, url="x", action="save", **{field: secret})
        browser.post(f"edit: errors {name}", f"{page}edit/", errors, expect=400)
        browser.get(f"admin change: {name}", f"/admin/connections/connection/{pk}/change/")
        browser.get(f"admin history: {name}", f"/admin/connections/connection/{pk}/history/")
    browser.get("admin changelist", "/admin/connections/connection/")
    selected = {"action": "test_selected", "_selected_action": list(pks.values()), "index": "0"}
    browser.post("admin action: TEST selected", "/admin/connections/connection/", selected)
    browser.get("audit trail", "/audit/")
    browser.get("admin audit events", "/admin/audit/auditevent/")


def test_no_page_or_log_shows_four_characters_of_a_stored_secret(world, admin_user, all_logs):
    evidence = Evidence()
    browser = Browser(evidence)
    browser.client.force_login(admin_user)
    pages_without_connections(browser)
    by_chance = fragments(SECRETS, evidence.everything())
    assert not by_chance, f"choose other secrets: {by_chance[0]}"

    pks = create_connections(browser, world)
    assert set(pks) == {"Contoso Online", "Contoso Refused", "Contoso On-premises"}
    pages_of_each(browser, world, pks)
    evidence.logs = [(f"log {record.name}", log_text(record)) for record in all_logs]

    assert len(evidence.responses) > 50 and len(evidence.logs) > 50
    found = fragments(SECRETS, evidence.everything())
    assert not found, "\n".join(str(fragment) for fragment in found[:20])


def test_the_sweep_finds_a_planted_four_character_fragment(all_logs):
    planted = CLIENT_SECRET[9:13]
    evidence = Evidence()
    evidence.add_response("page with a hint", HttpResponse(f"<p>Client Secret: …{planted}</p>"))
    evidence.add_response("page with three", HttpResponse(f"<p>Client Secret: {WINDOWS_PASSWORD[:3]}…</p>"))
    logging.getLogger("connections").warning("secret ends with %s", WINDOWS_PASSWORD[-MIN_RUN:])
    evidence.logs = [(f"log {record.name}", log_text(record)) for record in all_logs]
    found = fragments(SECRETS, evidence.everything())
    assert [(f.secret, f.text, f.where) for f in found] == [
        ("client secret", planted, "page with a hint (HTTP 200)"),
        ("Windows password", WINDOWS_PASSWORD[-MIN_RUN:], "log connections"),
    ]
    assert len(windows(CLIENT_SECRET)) == len(CLIENT_SECRET) - MIN_RUN + 1  # every window is distinct
