"""Rotation without downtime: add a new secret or certificate beside the current one, TEST it, promote it, discard
the previous one; the current keeps working all along, and the old credential's cached tokens are dropped."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from audit.models import Action, AuditEvent
from connections import rotation
from connections.credential_slots import CredentialSlot, SlotRole
from connections.dynamics import entra
from connections.dynamics.certificates import parse_upload
from connections.models import Connection, Health
from connections.models import TestStatus as LastTest
from connections.runs import RunSource, TestRun
from tests.simulator import make_certificate
from tests.test_concurrent_writes import at_once
from tests.test_connection_test import good

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def saved(make_connection, microsoft):
    """A CRMOnline AzureServicePrincipal connection whose current secret works."""
    return make_connection(**good(microsoft))


@pytest.fixture
def new_secret(microsoft):
    """A second secret on the app registration, as an admin adds one in the portal before rotating."""
    return microsoft.sim.add_secret(microsoft.app.client_id, display_name="Rotated secret")


def url(connection, action: str) -> str:
    return f"/connections/{connection.pk}/credentials/{action}/"


def add_secret(client, connection, value: str):
    return client.post(url(connection, "new"), {"client_secret": value})


def new_credential_test(client, connection) -> dict:
    return client.post(url(connection, "new/test"), HTTP_ACCEPT="application/json").json()


def saved_test(client, connection) -> dict:
    return client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").json()


def fingerprints() -> set[str]:
    return {key[-1] for key in entra.apps._apps}


def revoke(secret, microsoft) -> None:
    """The admin deletes the secret from the app registration (the simulator refuses it from now on)."""
    secret.expires_at = microsoft.sim.now() - 1


def test_it_adds_tests_and_promotes_a_new_secret_and_the_old_one_s_tokens_are_not_used(
    admin_client, saved, microsoft, new_secret
):
    assert saved_test(admin_client, saved)["ok"] is True  # the worker's msal app holds a token of the old secret
    old = entra.credential_fingerprint(microsoft.secret.value)
    assert old in fingerprints()

    assert add_secret(admin_client, saved, new_secret.value).status_code == 302
    before = microsoft.sim.count(path_contains="/oauth2/v2.0/token")
    answer = new_credential_test(admin_client, saved)
    assert answer["ok"] is True, answer["message"]
    # The new secret, sent to Entra once (its expiry is read once it is current: no Graph token now)
    assert microsoft.sim.count(path_contains="/oauth2/v2.0/token") == before + 1
    assert "Available" in answer["credentials_html"]

    revoke(microsoft.secret, microsoft)  # the old secret is deleted in the portal: its cached token still works
    assert saved_test(admin_client, saved)["ok"] is True
    assert admin_client.post(url(saved, "new/promote")).status_code == 302

    assert old not in fingerprints()  # its app and tokens are gone
    saved.refresh_from_db()
    assert saved.get_client_secret() == new_secret.value
    assert (
        CredentialSlot.objects.get(connection=saved, role=SlotRole.PREVIOUS).get_credential() == microsoft.secret.value
    )
    assert saved_test(admin_client, saved)["ok"] is True
    entra.apps.clear()  # no token cached at all: the TEST asks Entra with the new secret, the old one is refused
    assert saved_test(admin_client, saved)["ok"] is True


def test_a_worker_that_missed_the_promotion_drops_the_old_secret_s_apps_at_the_next_test(
    admin_client, saved, microsoft, new_secret
):
    assert saved_test(admin_client, saved)["ok"] is True
    add_secret(admin_client, saved, new_secret.value)
    assert new_credential_test(admin_client, saved)["ok"] is True
    other_worker = dict(entra.apps._apps)  # another process's memory: the promotion happens elsewhere
    admin_client.post(url(saved, "new/promote"))
    entra.apps._apps.update(other_worker)
    old = entra.credential_fingerprint(microsoft.secret.value)
    assert old in fingerprints()

    revoke(microsoft.secret, microsoft)
    assert saved_test(admin_client, saved)["ok"] is True

    assert old not in fingerprints()


def test_a_new_secret_that_fails_leaves_the_connection_working_and_up(admin_client, saved, microsoft):
    assert saved_test(admin_client, saved)["ok"] is True
    add_secret(admin_client, saved, "Wr0ng~not-a-secret-of-this-app-1234567890")

    for _ in range(3):  # more failures than HEALTH_DOWN_AFTER
        answer = new_credential_test(admin_client, saved)
        assert answer["ok"] is False and "AADSTS7000215" in answer["message"]

    saved.refresh_from_db()
    assert (saved.health, saved.failures_in_a_row, saved.last_test_status) == (Health.UP, 0, LastTest.AVAILABLE)
    assert saved.get_client_secret() == microsoft.secret.value
    assert admin_client.post(url(saved, "new/promote")).status_code == 302
    saved.refresh_from_db()
    assert saved.get_client_secret() == microsoft.secret.value  # refused: the new secret never passed
    assert saved_test(admin_client, saved)["ok"] is True
    page = admin_client.get(saved.get_absolute_url()).content.decode()
    assert "Not tested yet" not in page and "Unavailable" in page and "Promote</button>" not in page


def test_its_tests_are_in_the_history_but_not_the_connection_s_last_test(admin_client, saved, new_secret):
    add_secret(admin_client, saved, new_secret.value)
    new_credential_test(admin_client, saved)

    saved.refresh_from_db()
    assert saved.last_test_status == LastTest.NEVER and saved.health == Health.UNKNOWN
    assert TestRun.objects.filter(connection=saved, source=RunSource.NEW_CREDENTIAL).count() == 1
    assert TestRun.objects.filter(connection=saved).of_saved_settings().count() == 0
    page = admin_client.get(saved.get_absolute_url()).content.decode()
    assert "New credential" in page  # the latest TESTs table names it


def test_promote_is_refused_before_a_good_test(admin_client, saved, microsoft, new_secret):
    add_secret(admin_client, saved, new_secret.value)

    response = admin_client.post(url(saved, "new/promote"), follow=True)

    assert "TEST the new secret first" in response.content.decode()
    saved.refresh_from_db()
    assert saved.get_client_secret() == microsoft.secret.value


def test_a_double_promote_promotes_once_and_keeps_the_original_as_previous(
    admin_client, admin_user, saved, microsoft, new_secret
):
    add_secret(admin_client, saved, new_secret.value)
    new_credential_test(admin_client, saved)

    rotation.promote(saved.pk, admin_user)
    with pytest.raises(rotation.RotationError, match="promoted or discarded already"):
        rotation.promote(saved.pk, admin_user)
    second = admin_client.post(url(saved, "new/promote"), follow=True).content.decode()

    assert "There is no new secret to promote" in second
    saved.refresh_from_db()
    assert saved.get_client_secret() == new_secret.value
    previous = CredentialSlot.objects.get(connection=saved)
    assert previous.role == SlotRole.PREVIOUS and previous.get_credential() == microsoft.secret.value
    assert AuditEvent.objects.filter(action=Action.CREDENTIAL_PROMOTED).count() == 1


def test_it_discards_the_new_secret_and_then_the_previous_one(admin_client, saved, microsoft, new_secret):
    add_secret(admin_client, saved, "Wr0ng~not-a-secret-of-this-app-1234567890")
    assert admin_client.post(url(saved, "new/discard")).status_code == 302
    assert not CredentialSlot.objects.exists()

    add_secret(admin_client, saved, new_secret.value)
    new_credential_test(admin_client, saved)
    admin_client.post(url(saved, "new/promote"))
    assert "Discard the previous secret" in admin_client.get(saved.get_absolute_url()).content.decode()
    assert admin_client.post(url(saved, "previous/discard")).status_code == 302

    assert not CredentialSlot.objects.exists()
    saved.refresh_from_db()
    assert saved.get_client_secret() == new_secret.value
    assert saved_test(admin_client, saved)["ok"] is True


def test_a_second_promotion_waits_for_the_previous_one_to_be_discarded(admin_client, saved, microsoft, new_secret):
    add_secret(admin_client, saved, new_secret.value)
    new_credential_test(admin_client, saved)
    admin_client.post(url(saved, "new/promote"))
    third = microsoft.sim.add_secret(microsoft.app.client_id)
    add_secret(admin_client, saved, third.value)
    assert new_credential_test(admin_client, saved)["ok"] is True

    response = admin_client.post(url(saved, "new/promote"), follow=True)

    assert "Discard the previous secret first" in response.content.decode()
    saved.refresh_from_db()
    assert saved.get_client_secret() == new_secret.value


def test_each_step_is_in_the_audit_trail_without_the_secret(admin_client, saved, new_secret):
    add_secret(admin_client, saved, new_secret.value)
    new_credential_test(admin_client, saved)
    admin_client.post(url(saved, "new/promote"))
    admin_client.post(url(saved, "previous/discard"))

    events = list(AuditEvent.objects.filter(target_id=str(saved.pk)).order_by("pk"))
    assert [(event.action, event.actor_name) for event in events] == [
        (Action.CREDENTIAL_ADDED, "admin"),
        (Action.CREDENTIAL_TESTED, "admin"),
        (Action.CREDENTIAL_PROMOTED, "admin"),
        (Action.CREDENTIAL_DISCARDED, "admin"),
    ]
    assert events[1].outcome == "available" and events[3].detail == "previous secret"
    assert all(new_secret.value not in f"{event.detail} {event.outcome}" for event in events)


def test_it_rejects_the_current_secret_as_the_new_one(admin_client, saved, microsoft):
    response = add_secret(admin_client, saved, microsoft.secret.value)

    assert response.status_code == 400
    assert "the connection uses now" in response.content.decode()
    assert not CredentialSlot.objects.exists()


def test_it_requires_a_secret(admin_client, saved):
    response = add_secret(admin_client, saved, "")

    assert response.status_code == 400
    assert "Enter the new Client Secret" in response.content.decode()


def test_it_rotates_a_certificate(admin_client, make_connection, microsoft):
    current, new = make_certificate("gathr-current"), make_certificate("gathr-next")
    for bundle in (current, new):
        microsoft.sim.add_certificate(microsoft.app.client_id, bundle.cert_pem)
    connection = make_connection(**good(microsoft, client_secret=""), credential_type="certificate")
    connection.set_certificate(parse_upload(current.pfx_bytes("pfx-pass"), "pfx-pass"))
    connection.save()
    upload = SimpleUploadedFile("next.pfx", new.pfx_bytes("next-pass"), "application/x-pkcs12")

    response = admin_client.post(url(connection, "new"), {"certificate": upload, "certificate_password": "next-pass"})
    assert response.status_code == 302
    assert new_credential_test(admin_client, connection)["ok"] is True
    admin_client.post(url(connection, "new/promote"))

    connection.refresh_from_db()
    assert connection.certificate_sha1 == new.thumbprint_sha1_hex.upper()
    assert CredentialSlot.objects.get().certificate_sha1 == current.thumbprint_sha1_hex.upper()
    assert saved_test(admin_client, connection)["ok"] is True
    page = admin_client.get(connection.get_absolute_url()).content.decode()
    assert "CN=gathr-current" in page and new.key_pem not in page and current.key_pem not in page


def test_other_schemes_have_no_credentials_panel(admin_client, make_connection):
    ntlm = make_connection(
        crm_version="CRM2011+", auth_scheme="NTLM", url="http://crm.contoso.local/Contoso", client_id=""
    )
    delegated = make_connection(auth_scheme="AzureAD")

    for connection in (ntlm, delegated):
        assert 'id="credentials"' not in admin_client.get(connection.get_absolute_url()).content.decode()
        assert add_secret(admin_client, connection, "Nw5~another-secret-value-123456789012").status_code == 400
    assert not CredentialSlot.objects.exists()


def test_a_connection_s_slots_go_with_it(admin_client, saved, new_secret):
    add_secret(admin_client, saved, new_secret.value)
    Connection.objects.filter(pk=saved.pk).delete()
    assert not CredentialSlot.objects.exists()


def test_key_rotation_re_encrypts_the_new_and_previous_credentials(admin_client, saved, microsoft, settings):
    old_key, new_key = settings.FIELD_ENCRYPTION_KEY[0], Fernet.generate_key().decode()
    second = microsoft.sim.add_secret(microsoft.app.client_id)
    add_secret(admin_client, saved, second.value)
    assert new_credential_test(admin_client, saved)["ok"] is True
    admin_client.post(url(saved, "new/promote"))
    third = microsoft.sim.add_secret(microsoft.app.client_id)
    add_secret(admin_client, saved, third.value)

    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    settings.FIELD_ENCRYPTION_KEY = [new_key]

    assert "Re-encrypted 2 new or previous credential(s) of rotation." in out.getvalue()
    slots = {slot.role: slot.get_credential() for slot in CredentialSlot.objects.all()}
    assert slots == {SlotRole.NEW: third.value, SlotRole.PREVIOUS: microsoft.secret.value}
    assert new_credential_test(admin_client, saved)["ok"] is True


def test_the_admin_shows_the_new_and_previous_credentials_facts_only(admin_client, saved, microsoft, new_secret):
    add_secret(admin_client, saved, new_secret.value)
    new_credential_test(admin_client, saved)
    admin_client.post(url(saved, "new/promote"))
    third = microsoft.sim.add_secret(microsoft.app.client_id)
    add_secret(admin_client, saved, third.value)

    page = admin_client.get(f"/admin/connections/connection/{saved.pk}/change/").content.decode()

    assert "New secret, added " in page and "last TEST: none yet" in page and "Previous secret, replaced" in page
    assert all(value not in page for value in (microsoft.secret.value, new_secret.value, third.value))


@pytest.mark.django_db(transaction=True)
def test_two_administrators_promoting_at_once_promote_once(admin_user, make_connection):
    connection = make_connection(client_secret="Cur~the-current-secret-1234567890123")
    slot = CredentialSlot(connection=connection, role=SlotRole.NEW, added_at=connection.created_at)
    slot.set_secret("Nw~the-new-secret-12345678901234567890")
    slot.test_run = TestRun.objects.create(
        connection=connection,
        source=RunSource.NEW_CREDENTIAL,
        state="finished",
        lock_key="done",
        crm_version=connection.crm_version,
        auth_scheme=connection.auth_scheme,
        result={"ok": True},
        deadline=connection.created_at,
    )
    slot.save()

    def promote(_browser):
        try:
            rotation.promote(connection.pk, admin_user)
        except rotation.RotationError as refused:
            return str(refused)
        return "promoted"

    answers = sorted(at_once(2, promote), key=lambda answer: answer != "promoted")

    assert answers[0] == "promoted" and answers[1].startswith("There is no new secret to promote"), answers
    connection.refresh_from_db()
    assert connection.get_client_secret() == "Nw~the-new-secret-12345678901234567890"
    previous = CredentialSlot.objects.get(connection=connection)
    assert (previous.role, previous.get_credential()) == (SlotRole.PREVIOUS, "Cur~the-current-secret-1234567890123")


def test_a_new_secret_is_not_promoted_once_the_connection_uses_a_certificate(admin_client, saved, new_secret):
    add_secret(admin_client, saved, new_secret.value)
    assert new_credential_test(admin_client, saved)["ok"] is True
    Connection.objects.filter(pk=saved.pk).update(credential_type="certificate")  # edited meanwhile

    page = admin_client.post(url(saved, "new/promote"), follow=True).content.decode()

    assert "does not match the connection" in page
    assert CredentialSlot.objects.get().role == SlotRole.NEW
