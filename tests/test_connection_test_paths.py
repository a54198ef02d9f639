"""Where TEST runs: the new and edit forms (with and without JavaScript), a saved connection from the
list, the admin action and `manage.py test_connection`; and what a repeated TEST costs."""

import re

import pytest
from django.core.management import call_command

from connections.models import Connection
from tests.helpers import TEST_SECRET, form_data
from tests.simulator import make_certificate

pytestmark = pytest.mark.django_db


@pytest.fixture
def saved(make_connection, microsoft):
    return make_connection(
        name="Contoso Sales",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
    )


def entra_requests(sim) -> int:
    return sum(1 for r in sim.requests if r.host == "login.microsoftonline.com")


def test_without_javascript_test_re_renders_the_form_with_all_but_the_secret(admin_client, microsoft):
    data = form_data(
        action="test",
        name="Contoso Sales",
        client_id=microsoft.app.client_id,
        client_secret=microsoft.secret.value,
        azure_tenant=microsoft.tenant.tenant_id,
    )
    response = admin_client.post("/connections/new/", data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Connection available" in html
    assert 'value="Contoso Sales"' in html
    assert f'value="{microsoft.app.client_id}"' in html
    assert microsoft.secret.value not in html
    assert "enter them again" in html
    assert Connection.objects.count() == 0


def test_test_on_the_edit_form_uses_the_stored_secret_when_the_box_is_blank(admin_client, saved, microsoft):
    data = form_data(
        action="test",
        name=saved.name,
        client_id=saved.client_id,
        client_secret="",
        azure_tenant=saved.azure_tenant,
        url=saved.url,
    )
    answer = admin_client.post(f"/connections/{saved.pk}/edit/", data, HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]


def test_test_on_the_edit_form_uses_a_newly_typed_secret_and_saves_nothing(admin_client, saved, microsoft):
    data = form_data(
        action="test",
        name="Renamed",
        client_id=saved.client_id,
        client_secret="a-wrong-new-secret",
        azure_tenant=saved.azure_tenant,
        url=saved.url,
    )
    answer = admin_client.post(f"/connections/{saved.pk}/edit/", data, HTTP_ACCEPT="application/json").json()
    assert "AADSTS7000215" in answer["message"]
    saved.refresh_from_db()
    assert saved.name == "Contoso Sales"
    assert saved.get_client_secret() == microsoft.secret.value


def test_test_with_invalid_fields_answers_with_the_field_errors(admin_client, microsoft):
    response = admin_client.post(
        "/connections/new/", form_data(action="test", client_id="nope"), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "GUID" in response.json()["errors"]["client_id"][0]["message"]


def test_test_from_the_list_records_the_result_on_the_connection(admin_client, saved):
    response = admin_client.post(f"/connections/{saved.pk}/test/", {"next": "/connections/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/connections/"
    html = response.content.decode()
    assert "Connection available" in html
    saved.refresh_from_db()
    assert saved.last_test_status == "available"
    assert saved.last_tested_at is not None
    assert saved.last_test_message.startswith("Connection available")
    # The app may not read its own credentials (no Application.Read.All): Credential expiry is a warning.
    assert [step["status"] for step in saved.last_test_steps] == ["ok", "ok", "ok", "ok", "warning"]
    assert re.search(r"Available</span>", html)


def test_a_failed_saved_test_is_recorded_as_unavailable(admin_client, saved, microsoft):
    saved.set_client_secret("expired-or-wrong")
    saved.save()
    admin_client.post(f"/connections/{saved.pk}/test/")
    saved.refresh_from_db()
    assert saved.last_test_status == "unavailable"
    assert "AADSTS7000215" in saved.last_test_message
    page = admin_client.get(f"/connections/{saved.pk}/").content.decode()
    assert "Unavailable" in page and "AADSTS7000215" in page


def test_test_from_the_list_refuses_an_offsite_next(admin_client, saved):
    response = admin_client.post(f"/connections/{saved.pk}/test/", {"next": "https://evil.example.net/"})
    assert response["Location"] == f"/connections/{saved.pk}/"


def test_a_saved_test_answers_json_for_the_page_script(admin_client, saved):
    answer = admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True
    assert "Connection available" in answer["html"]


def test_the_admin_action_tests_the_selected_connections(admin_client, saved):
    response = admin_client.post(
        "/admin/connections/connection/",
        {"action": "test_selected", "_selected_action": [saved.pk]},
        follow=True,
    )
    assert "Contoso Sales: Connection available" in response.content.decode()
    saved.refresh_from_db()
    assert saved.last_test_status == "available"


def test_the_command_prints_the_result_and_exits_0_when_available(saved, capsys):
    call_command("test_connection", "contoso sales")
    out = capsys.readouterr().out
    assert "Connection available" in out
    assert "1. Outbound check: ok" in out


def test_the_command_exits_1_when_unavailable(saved, capsys):
    saved.client_id = "00000000-0000-0000-0000-000000000001"
    saved.save()
    with pytest.raises(SystemExit) as exit_info:
        call_command("test_connection", "Contoso Sales")
    assert exit_info.value.code == 1
    assert "AADSTS700016" in capsys.readouterr().out


def dataverse_connections(sim) -> set[int]:
    return {r.connection_id for r in sim.requests if r.host == "contoso.crm.dynamics.com"}


def test_a_warm_test_sends_nothing_to_entra_and_reuses_the_open_connections(admin_client, saved, microsoft):
    admin_client.post(f"/connections/{saved.pk}/test/")
    # Cold: discovery and token, and a token for Microsoft Graph (the credential's expiry: never read yet).
    assert entra_requests(microsoft.sim) == 3
    opened = dataverse_connections(microsoft.sim)
    microsoft.sim.clear_requests()
    admin_client.post(f"/connections/{saved.pk}/test/")
    assert entra_requests(microsoft.sim) == 0
    dataverse = [r for r in microsoft.sim.requests if r.host == "contoso.crm.dynamics.com"]
    assert sorted(r.path for r in dataverse) == ["/api/data/v9.2/RetrieveVersion()", "/api/data/v9.2/WhoAmI"]
    assert dataverse_connections(microsoft.sim) <= opened  # no new TLS handshake


def test_retrieve_version_does_not_wait_for_whoami(admin_client, saved, microsoft, settings):
    # WhoAmI never answers: had RetrieveVersion waited for it, it would never have been sent.
    settings.TEST_READ_TIMEOUT = 1
    microsoft.sim.set_silent(host="contoso.crm.dynamics.com", path="/api/data/v9.2/WhoAmI")
    answer = admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is False
    assert microsoft.sim.count(host="contoso.crm.dynamics.com", path_contains="RetrieveVersion") == 1
    saved.refresh_from_db()
    steps = {step["label"]: step["status"] for step in saved.last_test_steps}
    assert steps["Dataverse WhoAmI"] == "failed"
    assert steps["Dataverse version"] == "skipped"  # its answer is not waited for once WhoAmI failed


def test_a_failing_retrieve_version_is_a_warning_beside_a_good_whoami(admin_client, saved, microsoft):
    microsoft.sim.set_responses([500], host="contoso.crm.dynamics.com", path="/api/data/v9.2/RetrieveVersion()")
    answer = admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]
    saved.refresh_from_db()
    steps = {step["label"]: step["status"] for step in saved.last_test_steps}
    assert steps == {
        "Outbound check": "ok",
        "Token from Entra ID": "ok",
        "Dataverse WhoAmI": "ok",
        "Dataverse version": "warning",
        "Credential expiry": "warning",  # the app may not read its own credentials (no Application.Read.All)
    }


def test_a_changed_secret_never_reuses_the_old_token(admin_client, saved, microsoft):
    admin_client.post(f"/connections/{saved.pk}/test/")
    saved.set_client_secret("not-the-secret-any-more")
    saved.save()
    answer = admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is False
    assert "AADSTS7000215" in answer["message"]


def test_it_authenticates_with_an_uploaded_pfx_certificate(admin_client, microsoft):
    bundle = make_certificate("gathr-connector")
    microsoft.sim.add_certificate(microsoft.app.client_id, bundle.cert_pem)
    data = form_data(
        action="create",
        client_id=microsoft.app.client_id,
        client_secret="",
        azure_tenant=microsoft.tenant.tenant_id,
        credential_type="certificate",
        certificate_password="pfx-pass",
    )
    data["certificate"] = pfx_upload(bundle, "pfx-pass")
    response = admin_client.post("/connections/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get()
    page = admin_client.get(connection.get_absolute_url()).content.decode()
    assert bundle.thumbprint_sha1_hex.upper() in page
    assert bundle.thumbprint_sha256_hex.upper() in page
    assert "CN=gathr-connector" in page
    answer = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]
    assert bundle.key_pem not in page


def test_it_authenticates_by_subject_name_and_issuer_with_the_x5c_chain(admin_client, microsoft):
    issuer = make_certificate("Contoso Issuing CA")
    leaf = make_certificate("connector.contoso.com", issuer=issuer)
    microsoft.sim.trust_subject_name(microsoft.app.client_id, "connector.contoso.com", issuer.cert_pem)
    answer = certificate_test(admin_client, microsoft, pem_upload(leaf.key_pem + leaf.cert_pem + issuer.cert_pem))
    assert answer["ok"] is True, answer["message"]


def test_it_explains_a_certificate_not_uploaded_to_the_app_registration(admin_client, microsoft):
    bundle = make_certificate("never-uploaded")
    answer = certificate_test(admin_client, microsoft, pem_upload(bundle.key_pem + bundle.cert_pem))
    assert answer["ok"] is False
    assert "AADSTS700027" in answer["message"]
    assert "Upload this certificate" in answer["hint"]


def certificate_test(client, microsoft, upload) -> dict:
    data = form_data(
        action="test",
        client_id=microsoft.app.client_id,
        client_secret="",
        azure_tenant=microsoft.tenant.tenant_id,
        credential_type="certificate",
    )
    data["certificate"] = upload
    response = client.post("/connections/new/", data, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def pfx_upload(bundle, password: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("connector.pfx", bundle.pfx_bytes(password), "application/x-pkcs12")


def pem_upload(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("connector.pem", text.encode(), "application/x-pem-file")


def test_no_secret_in_any_test_page_or_log(admin_client, saved, microsoft, all_logs):
    bodies = [
        admin_client.post(f"/connections/{saved.pk}/test/", follow=True).content.decode(),
        admin_client.get(f"/connections/{saved.pk}/").content.decode(),
        admin_client.get("/connections/").content.decode(),
    ]
    haystack = "\n".join(bodies) + "\n".join(r.getMessage() for r in all_logs)
    assert microsoft.secret.value not in haystack
    assert TEST_SECRET not in haystack
