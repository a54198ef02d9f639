"""The state badge: Up, Down or Unknown on the Connections page, the connection page and the admin's list."""

import importlib
import re

import pytest
from django.urls import reverse

from connections.models import Connection, Health
from tests.test_connection_list import rows, text_of
from tests.test_connection_test import good

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def three(make_connection):
    states = {"Contoso Up": Health.UP, "Fabrikam Down": Health.DOWN, "Northwind New": Health.UNKNOWN}
    for name, health in states.items():
        Connection.objects.filter(pk=make_connection(name=name).pk).update(health=health)
    return states


def test_the_list_shows_each_connection_s_state(admin_client, three):
    response = admin_client.get(reverse("connections:list"))

    headers = [text_of(th).rstrip(" ▲▼") for th in re.findall(r"<th[^>]*>(.*?)</th>", response.content.decode(), re.S)]
    state = headers.index("State")
    assert [(row[0], row[state]) for row in rows(response)] == [
        ("Contoso Up", "Up"),
        ("Fabrikam Down", "Down"),
        ("Northwind New", "Unknown"),
    ]


def test_the_connection_page_shows_its_state(admin_client, make_connection):
    connection = make_connection(name="Fabrikam")
    Connection.objects.filter(pk=connection.pk).update(health=Health.DOWN, failures_in_a_row=3)

    page = admin_client.get(connection.get_absolute_url()).content.decode()

    badge = re.search(r'<span id="health">(.*?)</span>\s*</div>', page, re.S).group(1)
    assert text_of(badge) == "Down"
    assert 'title="3 TESTs in a row failed"' in badge


def test_the_admin_lists_each_connection_s_state(admin_client, three):
    page = admin_client.get(reverse("admin:connections_connection_changelist")).content.decode()

    assert re.search(r'<td class="field-health">Down</td>', page)
    assert re.search(r'<td class="field-health">Up</td>', page)


def test_a_test_on_the_connection_page_brings_its_state_up_to_date(admin_client, make_connection, microsoft):
    saved = make_connection(**good(microsoft))

    answer = admin_client.post(f"/connections/{saved.pk}/test/", {"source": "page"}, HTTP_ACCEPT="application/json")
    done = admin_client.get(answer.json()["status_url"], HTTP_ACCEPT="application/json").json()

    assert done["ok"] is True
    assert text_of(done["health_html"]) == "Up"


def test_the_migration_starts_each_connection_from_its_last_test(make_connection):
    from django.apps import apps

    tested = {"available": make_connection(), "unavailable": make_connection(), "": make_connection()}
    for status, connection in tested.items():
        Connection.objects.filter(pk=connection.pk).update(last_test_status=status)

    importlib.import_module("connections.migrations.0009_health").from_last_test(apps, None)

    states = {
        status: Connection.objects.values_list("health", "failures_in_a_row").get(pk=connection.pk)
        for status, connection in tested.items()
    }
    assert states == {"available": (Health.UP, 0), "unavailable": (Health.UNKNOWN, 1), "": (Health.UNKNOWN, 0)}
