"""The gate in front of Dynamics CRM connections: without a trial or subscription, creating, editing and
TESTing are refused everywhere (pages, the page's TEST script, the admin action, the command), saved
connections stay but show as disabled, and a new subscription brings them back as they were."""

import re

import pytest
from django.core.management import call_command

from connections.models import Connection
from marketplace import entitlements
from tests.helpers import form_data
from tests.marketplace.helpers import SENTENCE, T0, given, signed_in_at, text_of

pytestmark = [pytest.mark.django_db, pytest.mark.no_entitlement, pytest.mark.usefixtures("fast_password_hashing")]
REFUSAL = "Creating, editing and testing Dynamics CRM connections needs an active trial or subscription"


@pytest.fixture
def saved(make_connection):
    return make_connection(name="Contoso Sales", url="https://contoso.crm.dynamics.com/")


def test_a_user_sees_the_sentence_and_request_access_instead_of_the_form(client, user, dynamics_crm):
    client.force_login(user)
    response = client.get("/connections/new/")
    page = response.content.decode()
    assert response.status_code == 403
    assert SENTENCE in text_of(page)
    assert REFUSAL in text_of(page)
    assert 'href="/marketplace/#connector-dynamics-crm">Connector Marketplace</a>' in page
    assert re.search(r'action="/marketplace/dynamics-crm/request-access/".*?>Request access</button>', page, re.S)
    assert 'name="next" value="/connections/new/"' in page
    assert 'id="connection-form"' not in page
    assert "START TRIAL" not in page


def test_an_administrator_is_offered_start_trial_and_subscribe_instead_of_the_form(admin_client, dynamics_crm):
    page = admin_client.get("/connections/new/").content.decode()
    assert 'href="/marketplace/dynamics-crm/trial/">START TRIAL</a>' in page
    assert 'href="/marketplace/dynamics-crm/subscribe/">SUBSCRIBE</a>' in page
    assert "Request access" not in page


def test_an_administrator_whose_trial_ended_is_offered_only_subscribe(client, admin_user, dynamics_crm):
    moment = given("trial expired", dynamics_crm, admin_user)
    with signed_in_at(moment, admin_user) as admin:
        page = admin.get("/connections/new/").content.decode()
    assert "The Dynamics CRM trial ended on 2026-03-16 09:00 UTC." in text_of(page)
    assert "START TRIAL" not in page
    assert ">SUBSCRIBE</a>" in page


def test_it_refuses_create_and_creates_nothing(admin_client, dynamics_crm):
    response = admin_client.post("/connections/new/", form_data())
    assert response.status_code == 403
    assert "CREATE was refused." in text_of(response.content.decode())
    assert not Connection.objects.exists()


def test_it_refuses_save_on_the_edit_form_and_changes_nothing(admin_client, dynamics_crm, saved):
    response = admin_client.post(f"/connections/{saved.pk}/edit/", form_data(name="Renamed", action="save"))
    assert response.status_code == 403
    assert "SAVE was refused." in text_of(response.content.decode())
    saved.refresh_from_db()
    assert saved.name == "Contoso Sales"


@pytest.mark.parametrize("url", ["/connections/new/", "/connections/{pk}/edit/", "/connections/{pk}/test/"])
def test_it_answers_the_test_script_with_json_it_can_show(admin_client, dynamics_crm, saved, url):
    response = admin_client.post(
        url.format(pk=saved.pk), form_data(action="test"), HTTP_ACCEPT="application/json", HTTP_REFERER="/connections/"
    )
    answer = response.json()
    assert response.status_code == 403
    assert answer["ok"] is False
    assert answer["message"] == (
        "Dynamics CRM is a Premium connector and this organization has no trial or subscription for it. "
        f"{REFUSAL}: see the Connector Marketplace (/marketplace/#connector-dynamics-crm)."
    )
    assert 'href="/marketplace/#connector-dynamics-crm"' in answer["html"]
    assert "TEST was refused." not in answer["html"]
    saved.refresh_from_db()
    assert saved.last_tested_at is None


def test_it_refuses_a_saved_test_from_the_list_and_records_nothing(admin_client, dynamics_crm, saved):
    response = admin_client.post(f"/connections/{saved.pk}/test/", {"next": "/connections/"})
    assert response.status_code == 403
    assert "TEST was refused." in text_of(response.content.decode())
    saved.refresh_from_db()
    assert (saved.last_test_status, saved.last_tested_at) == ("", None)


def test_the_list_shows_saved_connections_as_disabled_with_the_reason(client, user, dynamics_crm, saved):
    saved.scope = "organization"  # shared with the organization, owned by the administrator
    saved.save()
    client.force_login(user)
    page = client.get("/connections/").content.decode()
    row = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    assert "Contoso Sales" in row and "Disabled" in row
    links = re.findall(r'href="([^"]+)"', row)
    assert links == [f"/connections/{saved.pk}/"]  # only its owner and administrators may delete it
    assert "/test/" not in row
    assert SENTENCE in text_of(page)


def test_the_detail_page_shows_disabled_and_the_reason_instead_of_test_and_edit(admin_client, dynamics_crm, saved):
    page = admin_client.get(f"/connections/{saved.pk}/").content.decode()
    assert ">Disabled</span>" in page
    assert REFUSAL in text_of(page)
    assert f"/connections/{saved.pk}/test/" not in page
    assert f"/connections/{saved.pk}/edit/" not in page
    assert "https://contoso.crm.dynamics.com/" in page


def test_the_admin_action_refuses_to_test_with_a_link_to_the_marketplace(admin_client, dynamics_crm, saved):
    response = admin_client.post(
        "/admin/connections/connection/", {"action": "test_selected", "_selected_action": [saved.pk]}, follow=True
    )
    page = response.content.decode()
    assert f'{REFUSAL}: see the <a href="/marketplace/#connector-dynamics-crm">Connector Marketplace</a>.' in page
    saved.refresh_from_db()
    assert saved.last_tested_at is None


def test_the_command_prints_the_refusal_and_exits_1(dynamics_crm, saved, capsys, settings):
    settings.SITE_URL = "https://connectors.example.com"
    with pytest.raises(SystemExit) as exit_info:
        call_command("test_connection", "Contoso Sales")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "no trial or subscription" in err
    assert "https://connectors.example.com/marketplace/#connector-dynamics-crm" in err
    saved.refresh_from_db()
    assert saved.last_tested_at is None


def test_the_gate_refuses_when_the_catalogue_lost_the_connector(admin_client, saved):
    from marketplace.models import Connector

    Connector.objects.filter(slug="dynamics-crm").delete()
    response = admin_client.get("/connections/new/")
    assert response.status_code == 403
    assert "The connector “dynamics-crm” is missing from the Connector Marketplace catalogue." in text_of(
        response.content.decode()
    )


def test_nothing_is_deleted_when_the_subscription_ends_and_resubscribing_brings_it_back(
    admin_user, dynamics_crm, saved
):
    connector = dynamics_crm
    before = Connection.objects.values().get(pk=saved.pk)
    entitlements.subscribe(connector, admin_user, now=T0)
    entitlements.unsubscribe(connector, admin_user, now=T0 + entitlements.DAY)
    with signed_in_at(T0 + 2 * entitlements.DAY, admin_user) as admin:
        assert admin.get(f"/connections/{saved.pk}/edit/").status_code == 403
        assert admin.get("/connections/").status_code == 200
    assert Connection.objects.values().get(pk=saved.pk) == before
    entitlements.subscribe(connector, admin_user, now=T0 + 3 * entitlements.DAY)
    with signed_in_at(T0 + 3 * entitlements.DAY, admin_user) as admin:
        edit = admin.get(f"/connections/{saved.pk}/edit/")
    assert edit.status_code == 200
    assert 'value="Contoso Sales"' in edit.content.decode()
    assert Connection.objects.values().get(pk=saved.pk) == before
