"""TEST under faults of Microsoft's side: slow, silent, dropping, failing (5xx) and redirecting servers.

Whatever Entra ID or Dataverse do, TEST answers “Connection unavailable…” (JSON 200, never a 500) within
its time budget, and the page without JavaScript shows the result with the typed values still in the form.
The elapsed-time bound is a guard against hangs (budget + 2 s), not a speed benchmark.
"""

import html
import re
import time

import pytest

from tests.helpers import ENV_URL, form_data
from tests.test_connection_test import blackhole

pytestmark = pytest.mark.django_db

CONNECT, READ, TOTAL = 0.5, 0.6, 1.2
SLOW = READ + 1.0  # beyond the read timeout
HANG_GUARD = TOTAL + 2.0
DATAVERSE = "contoso.crm.dynamics.com"
TOKEN = "/oauth2/v2.0/token"
DISCOVERY = "/.well-known/openid-configuration"
HTML_502 = (502, {"Content-Type": "text/html"}, "<html><body>Bad gateway</body></html>")


def repeat(entry, times: int = 6) -> list:
    """A forced answer for the request and its polite retry, for both Dataverse requests (WhoAmI and RetrieveVersion
    go out together, in either order), and more."""
    return [entry] * times


# id: how the simulator misbehaves (a function of the simulator)
FAULTS = {
    "entra discovery slow": lambda sim: sim.set_delay(SLOW, path=DISCOVERY),
    "entra token slow": lambda sim: sim.set_delay(SLOW, path=TOKEN),
    "dataverse slow": lambda sim: sim.set_delay(SLOW, host=DATAVERSE),
    "every step a little slow, beyond the total budget": lambda sim: sim.set_delay(READ - 0.1),
    "entra discovery silent": lambda sim: sim.set_silent(path=DISCOVERY),
    "entra token silent": lambda sim: sim.set_silent(path=TOKEN),
    "dataverse silent": lambda sim: sim.set_silent(host=DATAVERSE),
    "entra discovery drops the connection": lambda sim: sim.set_drop(path=DISCOVERY),
    "entra token drops the connection": lambda sim: sim.set_drop(path=TOKEN),
    "dataverse drops the connection": lambda sim: sim.set_drop(host=DATAVERSE),
    "entra discovery 500": lambda sim: sim.set_responses(repeat(500), path=DISCOVERY),
    "entra token 500": lambda sim: sim.set_responses(repeat(500), path=TOKEN),
    "entra token 502 html": lambda sim: sim.set_responses(repeat(HTML_502), path=TOKEN),
    "entra token 503": lambda sim: sim.set_responses(repeat((503, {"Retry-After": "0"})), path=TOKEN),
    "entra token 504": lambda sim: sim.set_responses(repeat(504), path=TOKEN),
    "entra token 503 retry-after beyond the budget": lambda sim: sim.set_responses(
        repeat((503, {"Retry-After": "3600"})), path=TOKEN
    ),
    "dataverse 500": lambda sim: sim.set_responses(repeat(500), host=DATAVERSE, path="WhoAmI"),
    "dataverse 502 html": lambda sim: sim.set_responses(repeat(HTML_502), host=DATAVERSE, path="WhoAmI"),
    "dataverse 503": lambda sim: sim.set_responses(repeat((503, {"Retry-After": "0"})), host=DATAVERSE),
    "dataverse 504": lambda sim: sim.set_responses(repeat(504), host=DATAVERSE, path="WhoAmI"),
    "entra discovery redirects": lambda sim: sim.set_redirect("https://evil.example.net/", path=DISCOVERY),
    "entra token redirects": lambda sim: sim.set_redirect("https://evil.example.net/", path=TOKEN),
    "dataverse redirects": lambda sim: sim.set_redirect("https://evil.example.net/", host=DATAVERSE),
    "dataverse redirects to itself": lambda sim: sim.set_redirect(ENV_URL + "api/data/v9.2/WhoAmI", host=DATAVERSE),
}


@pytest.fixture
def small_budget(settings):
    settings.TEST_CONNECT_TIMEOUT, settings.TEST_READ_TIMEOUT, settings.TEST_TOTAL_TIMEOUT = CONNECT, READ, TOTAL


def typed(microsoft) -> dict:
    """What the admin typed: the simulator's real app, so that only the fault can make TEST fail."""
    return form_data(
        name="Contoso Faults",
        client_id=microsoft.app.client_id,
        client_secret=microsoft.secret.value,
        azure_tenant=microsoft.tenant.tenant_id,
        url=ENV_URL,
        action="test",
    )


def timed_post(client, url: str, data: dict | None = None, **headers):
    started = time.monotonic()
    response = client.post(url, data or {}, **headers)
    return response, time.monotonic() - started


def assert_unavailable_in_time(response, elapsed: float) -> dict:
    assert response.status_code == 200, response.content[:500]
    answer = response.json()
    assert answer["ok"] is False
    assert answer["message"].startswith("Connection unavailable"), answer["message"]
    assert "Traceback" not in answer["html"]
    assert elapsed < HANG_GUARD, f"TEST took {elapsed:.1f} s (budget {TOTAL} s)"
    return answer


def input_value(page: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    value = re.search(r'value="([^"]*)"', tag.group(0)) if tag else None
    return html.unescape(value.group(1)) if value else None


@pytest.mark.usefixtures("small_budget")
@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_it_answers_a_test_of_the_form_under_every_fault(admin_client, microsoft, fault):
    fault(microsoft.sim)
    response, elapsed = timed_post(admin_client, "/connections/new/", typed(microsoft), HTTP_ACCEPT="application/json")
    assert_unavailable_in_time(response, elapsed)


@pytest.mark.usefixtures("small_budget")
@pytest.mark.parametrize(
    "fault", ["entra token slow", "dataverse silent", "entra token drops the connection", "dataverse 502 html"]
)
def test_the_page_without_javascript_keeps_what_was_typed_under_a_fault(admin_client, microsoft, fault):
    FAULTS[fault](microsoft.sim)
    data = typed(microsoft)
    response, elapsed = timed_post(admin_client, "/connections/new/", data)
    page = response.content.decode()
    assert response.status_code == 200 and elapsed < HANG_GUARD
    assert "Connection unavailable" in html.unescape(page)
    for field in ("name", "client_id", "url", "azure_tenant"):
        assert input_value(page, field) == data[field], field
    assert input_value(page, "client_secret") is None  # never sent back: the page asks to type it again
    assert "enter them again" in page


@pytest.mark.usefixtures("small_budget")
@pytest.mark.parametrize("fault", ["entra token silent", "dataverse drops the connection", "dataverse 503"])
def test_it_answers_and_records_a_test_of_a_saved_connection_under_a_fault(
    admin_client, microsoft, make_connection, fault
):
    saved = make_connection(
        client_id=microsoft.app.client_id,
        client_secret=microsoft.secret.value,
        azure_tenant=microsoft.tenant.tenant_id,
        url=ENV_URL,
    )
    FAULTS[fault](microsoft.sim)
    response, elapsed = timed_post(admin_client, f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json")
    assert_unavailable_in_time(response, elapsed)
    saved.refresh_from_db()
    assert saved.last_test_status == "unavailable"
    assert saved.last_test_message.startswith("Connection unavailable")


@pytest.mark.usefixtures("small_budget")
def test_it_gives_up_on_an_unreachable_authority_within_the_connect_timeout(admin_client, microsoft, resolver):
    with blackhole() as port:
        resolver.add("login.microsoftonline.com", "127.0.0.1", port)
        response, elapsed = timed_post(
            admin_client, "/connections/new/", typed(microsoft), HTTP_ACCEPT="application/json"
        )
    answer = assert_unavailable_in_time(response, elapsed)
    assert "login.microsoftonline.com" in answer["message"]


@pytest.mark.usefixtures("small_budget")
def test_it_recovers_once_the_fault_is_gone(admin_client, microsoft):
    FAULTS["entra token drops the connection"](microsoft.sim)
    response, elapsed = timed_post(admin_client, "/connections/new/", typed(microsoft), HTTP_ACCEPT="application/json")
    assert_unavailable_in_time(response, elapsed)
    microsoft.sim.clear_knobs()
    answer = admin_client.post("/connections/new/", typed(microsoft), HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]
