"""TEST of a new credential runs like every TEST: on a worker, one at a time per connection, within the rate limits,
its credential encrypted in the TEST's row (the queue holds the TEST's id only), followed by the page."""

import pytest

from connections.credential_slots import CredentialSlot
from connections.runs import RunSource, TestRun
from tests.test_background import queue, work_off_the_queue  # noqa: F401 - the real queue fixture
from tests.test_connection_test import good
from tests.test_credential_rotation import add_secret, url

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def rotating(make_connection, microsoft, admin_client):
    connection = make_connection(**good(microsoft))
    microsoft.new_secret = microsoft.sim.add_secret(microsoft.app.client_id)
    add_secret(admin_client, connection, microsoft.new_secret.value)
    return connection


def test_it_queues_the_test_with_the_new_secret_encrypted_and_the_page_follows_it(
    admin_client,
    rotating,
    microsoft,
    queue,  # noqa: F811
):
    answer = admin_client.post(url(rotating, "new/test"), **JSON).json()
    assert answer["state"] == "queued" and microsoft.sim.requests == []
    assert microsoft.new_secret.value.encode() not in queue.read_bytes()
    assert "Running…" in admin_client.get(rotating.get_absolute_url()).content.decode()

    work_off_the_queue()
    done = admin_client.get(answer["status_url"], **JSON).json()

    assert done["ok"] is True and "Available" in done["credentials_html"]
    assert TestRun.objects.get(pk=answer["id"]).payload_encrypted == ""
    assert CredentialSlot.objects.get().passed


def test_without_javascript_the_test_s_page_leads_back_to_the_connection(admin_client, rotating, queue):  # noqa: F811
    response = admin_client.post(url(rotating, "new/test"))
    run = TestRun.objects.get(source=RunSource.NEW_CREDENTIAL)
    assert response["Location"] == f"/connections/tests/{run.pk}/"
    work_off_the_queue()

    page = admin_client.get(response["Location"], follow=True).content.decode()

    assert "Connection available" in page and 'id="credentials-panel"' in page


def test_it_waits_for_a_running_test_of_the_connection(admin_client, rotating, queue):  # noqa: F811
    assert admin_client.post(f"/connections/{rotating.pk}/test/", **JSON).status_code == 200

    refused = admin_client.post(url(rotating, "new/test"), **JSON)

    assert refused.status_code == 429 and "already running" in refused.json()["message"]


def test_it_counts_in_the_rate_limits(admin_client, rotating, settings):
    settings.TEST_RATE_PER_USER = 1
    assert admin_client.post(url(rotating, "new/test"), **JSON).json()["ok"] is True

    refused = admin_client.post(url(rotating, "new/test"), **JSON)

    assert refused.status_code == 429 and "TESTs in the last minute" in refused.json()["message"]
    assert TestRun.objects.filter(source=RunSource.NEW_CREDENTIAL).count() == 1


def test_nothing_to_test_is_said_plainly(admin_client, make_connection, microsoft):
    connection = make_connection(**good(microsoft))

    refused = admin_client.post(url(connection, "new/test"), **JSON)
    page = admin_client.post(url(connection, "new/test"), follow=True).content.decode()

    assert refused.status_code == 409 and "There is no new secret to TEST" in refused.json()["message"]
    assert "There is no new secret to TEST: add one first." in page
