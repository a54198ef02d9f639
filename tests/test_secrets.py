"""The client secret: write-only in every page, absent from logs, Fernet ciphertext at rest, keys that rotate."""

import base64
import logging
import re
import uuid
from io import StringIO
from urllib.parse import quote, quote_plus

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test import Client
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from connections import background, crypto, testing
from connections.admin import ConnectionAdmin
from connections.models import Connection
from connections.runs import TestRun
from tests.helpers import form_data

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

# Marks that URL-encoding and base64 change, so every form of the secret is a different string.
SECRET = "Qz8~Secret+Value/With=Marks_42.x-Y"
NEW_SECRET = "Rk2~Another+Secret/Value=99_zz.q-W"


def forms_of(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        quote_plus(secret),
        quote(secret, safe=""),
    ]


def assert_nowhere_in(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in forms_of(secret):
            assert form not in text, f"a form of the secret ({form!r}) is shown"


def post_admin_form(client, url: str, connection_values: dict, owner, **extra):
    data = {key: connection_values[key] for key in ("name", "client_id", "url", "crm_version", "azure_tenant")}
    data.update(azure_environment="GLOBAL", credential_type="secret", owner=owner.pk, _save="Save", **extra)
    return client.post(url, data)


@pytest.fixture
def saved(make_connection):
    return make_connection(name="Contoso Sales", client_secret=SECRET, azure_tenant="contoso.onmicrosoft.com")


def admin_url(name: str, *args) -> str:
    return reverse(f"admin:connections_connection_{name}", args=args)


# --- Pages and JSON ------------------------------------------------------------------------------


def test_it_never_shows_the_secret_in_the_app_pages(admin_client, all_logs):
    create = reverse("connections:create")
    responses = [
        admin_client.get(create),
        admin_client.post(create, form_data(client_secret=SECRET, client_id="bad")),
        admin_client.post(create, form_data(client_secret=SECRET, url="http://x/")),
        admin_client.post(
            create, form_data(client_secret=SECRET, action="test", url="nope"), HTTP_ACCEPT="application/json"
        ),
        admin_client.post(create, form_data(client_secret=SECRET), follow=True),
    ]
    saved = Connection.objects.get()
    edit = reverse("connections:edit", args=[saved.pk])
    responses += [
        admin_client.get(saved.get_absolute_url()),
        admin_client.get(reverse("connections:list")),
        admin_client.get(reverse("connections:list"), {"q": "contoso"}),
        admin_client.get(edit),
        admin_client.post(edit, form_data(name=saved.name, client_secret=NEW_SECRET, azure_tenant="common")),
        admin_client.post(edit, form_data(name=saved.name, client_secret=NEW_SECRET), follow=True),
        admin_client.get(reverse("connections:delete", args=[saved.pk])),
    ]
    assert responses[3]["Content-Type"] == "application/json"
    assert responses[-3].status_code == 400
    assert Connection.objects.get().get_client_secret() == NEW_SECRET
    for response in responses:
        assert response.status_code in (200, 400)
        assert_nowhere_in(response.content.decode(), SECRET, NEW_SECRET)
    assert_nowhere_in(logged(all_logs), SECRET, NEW_SECRET)


def test_it_never_shows_the_secret_in_a_test_result(admin_client, saved, all_logs):
    """TEST of a saved connection (Microsoft unreachable here: every DNS lookup fails)."""
    test_url = reverse("connections:test", args=[saved.pk])
    as_json = admin_client.post(test_url, HTTP_ACCEPT="application/json")
    as_page = admin_client.post(test_url, follow=True)
    assert as_json.json()["ok"] is False
    assert "unavailable" in as_page.content.decode().lower()
    assert_nowhere_in(as_json.content.decode() + as_page.content.decode(), SECRET)
    assert_nowhere_in(logged(all_logs), SECRET)


def test_it_never_shows_the_secret_in_the_admin(admin_client, saved, admin_user, all_logs):
    pages = [
        admin_client.get(admin_url("changelist")),
        admin_client.get(admin_url("changelist"), {"q": "contoso"}),
        admin_client.get(admin_url("change", saved.pk)),
        admin_client.get(admin_url("add")),
        admin_client.get(admin_url("history", saved.pk)),
        post_admin_form(admin_client, admin_url("add"), vars(saved), admin_user, client_secret=NEW_SECRET),
        post_admin_form(admin_client, admin_url("change", saved.pk), {**vars(saved), "client_id": "x"}, admin_user),
    ]
    assert [page.status_code for page in pages] == [200] * 7  # the two posts are refused and shown again
    for page in pages:
        assert_nowhere_in(page.content.decode(), SECRET, NEW_SECRET)
    assert "A client secret is stored (encrypted)." in pages[2].content.decode()
    assert_nowhere_in(logged(all_logs), SECRET, NEW_SECRET)


def logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(f"{formatter.format(record)} {record.args!r}" for record in records)


# --- Admin: write-only ---------------------------------------------------------------------------


def test_the_admin_secret_box_is_empty_and_has_no_value(admin_client, saved):
    page = admin_client.get(admin_url("change", saved.pk)).content.decode()
    box = next(tag for tag in page.split("<input")[1:] if 'name="client_secret"' in tag.split(">")[0])
    assert 'type="password"' in box.split(">")[0]
    assert "value=" not in box.split(">")[0]


def test_the_admin_keeps_the_stored_secret_when_the_box_is_left_empty(admin_client, saved, admin_user):
    response = post_admin_form(
        admin_client, admin_url("change", saved.pk), {**vars(saved), "name": "Contoso Renamed"}, admin_user
    )
    assert response.status_code == 302
    saved.refresh_from_db()
    assert (saved.name, saved.get_client_secret()) == ("Contoso Renamed", SECRET)


def test_the_admin_replaces_the_secret_when_a_new_one_is_typed(admin_client, saved, admin_user):
    url = admin_url("change", saved.pk)
    response = post_admin_form(admin_client, url, vars(saved), admin_user, client_secret=NEW_SECRET)
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.get_client_secret() == NEW_SECRET


# --- At rest -------------------------------------------------------------------------------------


def raw_row(connection) -> dict:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Connection._meta.db_table} WHERE id = %s", [connection.pk])
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def test_it_stores_only_fernet_ciphertext_of_the_secret(admin_client, settings):
    admin_client.post(reverse("connections:create"), form_data(client_secret=SECRET))
    row = raw_row(Connection.objects.get())
    token = row["client_secret_encrypted"]
    assert token.startswith("gAAAAA")  # Fernet version byte 0x80
    assert Fernet(settings.FIELD_ENCRYPTION_KEY[0].encode()).decrypt(token.encode()).decode() == SECRET
    assert_nowhere_in(" ".join(str(value) for value in row.values()), SECRET)


# --- Key rotation --------------------------------------------------------------------------------

OLD, NEW, STRANGER = (Fernet.generate_key().decode() for _ in range(3))


@pytest.fixture
def under_old_key(settings, make_connection):
    """Three connections saved under OLD, one of them with a stored certificate too."""
    settings.FIELD_ENCRYPTION_KEY = [OLD]
    rows = [make_connection(client_secret=f"secret-{number}") for number in range(3)]
    rows[0].certificate_encrypted = crypto.encrypt('{"key": "private", "chain": "certificate"}')
    rows[0].save()
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    return rows


def rotate() -> str:
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    return out.getvalue()


def tokens() -> list[tuple[str, str]]:
    return list(Connection.objects.order_by("pk").values_list("client_secret_encrypted", "certificate_encrypted"))


def assert_all_readable_with_only(settings, key: str) -> None:
    settings.FIELD_ENCRYPTION_KEY = [key]
    secrets = [connection.get_client_secret() for connection in Connection.objects.order_by("pk")]
    assert secrets == ["secret-0", "secret-1", "secret-2"]
    assert crypto.decrypt(Connection.objects.order_by("pk").first().certificate_encrypted).startswith('{"key"')


def test_it_re_encrypts_every_secret_under_the_newest_key(settings, under_old_key):
    before = tokens()
    assert "Re-encrypted 3 connection(s); 0 already used the newest key." in rotate()
    after = tokens()
    assert all(new != old for new, old in zip(after, before, strict=True) if old)
    assert_all_readable_with_only(settings, NEW)


def test_it_can_run_the_rotation_again_safely(settings, under_old_key):
    rotate()
    rotated = tokens()
    assert "Re-encrypted 0 connection(s); 3 already used the newest key." in rotate()
    assert tokens() == rotated
    assert_all_readable_with_only(settings, NEW)


def test_it_completes_a_half_finished_rotation(settings, under_old_key):
    first = under_old_key[1]
    first.client_secret_encrypted = crypto.rotate(first.client_secret_encrypted)
    first.save()
    assert "Re-encrypted 2 connection(s); 1 already used the newest key." in rotate()
    assert_all_readable_with_only(settings, NEW)


def test_it_fails_clearly_on_a_secret_no_key_decrypts_and_keeps_the_others(settings, under_old_key, make_connection):
    settings.FIELD_ENCRYPTION_KEY = [STRANGER]
    stray = make_connection(name="Encrypted elsewhere", client_secret="stray-secret")
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    with pytest.raises(CommandError, match="1 secret.* no configured key decrypts: Encrypted elsewhere"):
        rotate()
    settings.FIELD_ENCRYPTION_KEY = [STRANGER]
    assert Connection.objects.get(pk=stray.pk).get_client_secret() == "stray-secret"
    stray.delete()
    assert_all_readable_with_only(settings, NEW)


# --- DEBUG error page ----------------------------------------------------------------------------


@sensitive_variables()
def explode(*args, **kwargs):
    raise RuntimeError("TEST exploded")


@pytest.fixture
def debug_browser(admin_user, settings):
    settings.DEBUG = True
    browser = Client(raise_request_exception=False)
    browser.force_login(admin_user)
    return browser


def assert_debug_page_hides_secrets(response, settings) -> None:
    page = response.content.decode()
    assert response.status_code == 500
    assert "TEST exploded" in page  # the technical page, with the request's POST table
    assert "client_secret" in page
    assert_nowhere_in(page, SECRET)
    assert settings.FIELD_ENCRYPTION_KEY[0] not in page
    assert settings.SECRET_KEY not in page


def test_the_debug_error_page_hides_the_secret_typed_into_the_form(debug_browser, settings, monkeypatch, all_logs):
    monkeypatch.setattr(background, "start_unsaved", explode)  # the request's own frames hold the typed secret
    data = form_data(name=f"Crash {uuid.uuid4().hex[:6]}", client_secret=SECRET, action="test")
    response = debug_browser.post(reverse("connections:create"), data)
    assert_debug_page_hides_secrets(response, settings)
    assert_nowhere_in(logged(all_logs), SECRET)


@pytest.mark.parametrize("where", ["the check", "the worker's own code"])
def test_a_crash_on_the_worker_ends_the_test_as_an_internal_error_and_logs_no_secret(
    where, admin_client, monkeypatch, all_logs
):
    from connections.dynamics import check

    def crash(*args, **kwargs):
        raise RuntimeError(f"exploded holding {SECRET}")

    monkeypatch.setattr(*((check, "run") if where == "the check" else (testing, "run_check")), crash)
    data = form_data(name=f"Crash {uuid.uuid4().hex[:6]}", client_secret=SECRET, action="test")
    answer = admin_client.post(reverse("connections:create"), data, HTTP_ACCEPT="application/json").json()
    assert answer["done"] is True and answer["ok"] is False
    assert re.search(r"internal error stopped the TEST \(incident [0-9a-f]{12}\)", answer["message"])
    run = TestRun.objects.get(pk=answer["id"])
    assert run.payload_encrypted == "" and SECRET not in str(run.result)
    assert_nowhere_in(logged(all_logs), SECRET)
    assert_nowhere_in(answer["html"], SECRET)


def test_the_debug_error_page_hides_the_secret_typed_into_the_admin(
    debug_browser, settings, monkeypatch, saved, admin_user
):
    monkeypatch.setattr(ConnectionAdmin, "save_model", explode)
    url = admin_url("change", saved.pk)
    response = post_admin_form(debug_browser, url, vars(saved), admin_user, client_secret=SECRET)
    assert_debug_page_hides_secrets(response, settings)
