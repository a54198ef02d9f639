"""The secret hygiene sweep: every page and flow a user can reach, with DEBUG off and on, shows no secret.

One admin (and one user) drive the whole product through the test client: sign in, the marketplace, TEST on
the form and of saved connections (success and failure, client secret and certificate), AzureAD sign-in
through the simulator and its callback errors, the admin, and the error paths (400, 403 CSRF, 404, 405 and
forced 500s, Django's technical page included). Every response (status, headers, cookies, body), every log
record, every email and every database row is then searched for every secret in every encoding.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

from connections import azure_ad as azure_ad_sign_in
from connections import background
from connections import rotation as rotation_steps
from connections.admin import ConnectionAdmin
from connections.dynamics import certificates, inputs
from connections.models import Connection
from marketplace.models import Notification
from tests.helpers import ADMIN_PASSWORD, ENV_URL, TEST_SECRET, USER_PASSWORD, form_data
from tests.hygiene import (
    Browser,
    Evidence,
    assert_ciphertext_only,
    collect_app_tokens,
    collect_delegated_tokens,
    database_rows,
    leaks,
    local_path,
    log_text,
    needles,
)
from tests.simulator import make_certificate
from tests.test_azure_ad import CALLBACK, SITE, UPN, deliver, microsoft_answer, three_hours_later

pytestmark = [pytest.mark.no_entitlement, pytest.mark.usefixtures("fast_password_hashing")]

# Marks that base64, URL- and HTML-encoding change, so that every encoding is a different string.
SECRET = "Qz8~Hygiene+Secret/Value=42_x.y-Z"
WRONG_SECRET = "Wr0ng~Secret+Typed/By=Mistake_7"
NEW_SECRET = "Nw5~Replacement+Secret/Value=9_q"
ROTATED_SECRET = "Rt7~Rotated+Secret/Value=3_w.k"  # added on the Credentials panel, TESTed and promoted
PFX_PASSWORD = 'Pfx "pässwörd" <&> 42'
WRONG_PASSWORD = "not the admin's password 99"
DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture
def world(microsoft, settings, dynamics_crm, user, admin_user):
    """The simulator knows this sweep's secret, certificate and user; the site runs as SITE."""
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["testserver", "gathr.example.com"]
    settings.TEST_RATE_PER_USER = settings.TEST_RATE_PER_HOST = 1000  # the sweep TESTs ~20 times a minute
    sim = microsoft.sim
    sim.add_secret(microsoft.app.client_id, value=SECRET)
    sim.add_secret(microsoft.app.client_id, value=ROTATED_SECRET)
    microsoft.certificate = make_certificate("gathr-hygiene")
    sim.add_certificate(microsoft.app.client_id, microsoft.certificate.cert_pem)
    microsoft.next_certificate = make_certificate("gathr-hygiene-next")  # the rotation's new certificate
    sim.add_certificate(microsoft.app.client_id, microsoft.next_certificate.cert_pem)
    microsoft.person = sim.add_user(microsoft.tenant.tenant_id, upn=UPN, display_name="Maria Garcia")
    sim.add_redirect_uri(microsoft.app.client_id, CALLBACK)
    sim.add_dataverse_user(ENV_URL, microsoft.person.object_id)
    microsoft.tokens = []  # access, ID and refresh tokens seen during the sweep
    microsoft.maria = user
    return microsoft


def typed(world, **overrides) -> dict:
    values = {"client_id": world.app.client_id, "client_secret": SECRET, "azure_tenant": world.tenant.tenant_id}
    return form_data(**{**values, "url": ENV_URL, **overrides})


def with_pfx(world, password: str = PFX_PASSWORD, **overrides) -> dict:
    upload = SimpleUploadedFile("gathr.pfx", world.certificate.pfx_bytes(PFX_PASSWORD), "application/x-pkcs12")
    values = {"credential_type": "certificate", "client_secret": "", "certificate": upload}
    return typed(world, certificate_password=password, **{**values, **overrides})


def with_pem(world, **overrides) -> dict:
    pem = (world.certificate.key_pem + world.certificate.cert_pem).encode()
    upload = SimpleUploadedFile("gathr.pem", pem, "application/x-pem-file")
    return typed(world, credential_type="certificate", client_secret="", certificate=upload, **overrides)


JSON = {"HTTP_ACCEPT": "application/json"}


# --- The flows ----------------------------------------------------------------------------------------------


def sign_in_to_gathr(browser: Browser, username: str, password: str) -> None:
    browser.get("sign-in page", "/accounts/login/")
    browser.post(
        "sign in with a wrong password", "/accounts/login/", {"username": username, "password": WRONG_PASSWORD}
    )
    page = browser.post("sign in", "/accounts/login/", {"username": username, "password": password})
    assert f"Signed in as {username}" in page.content.decode()


def marketplace(admin: Browser, maria: Browser, world) -> None:
    """No entitlement yet: Maria asks, the admin starts the trial, notifies everyone, then subscribes."""
    slug = "/marketplace/dynamics-crm"
    maria.get("marketplace (user)", "/marketplace/")
    maria.post("request access", f"{slug}/request-access/", {"next": "/marketplace/"})
    admin.get("marketplace", "/marketplace/")
    admin.get("notifications (admin)", "/marketplace/notifications/")
    admin.get("start trial: confirm", f"{slug}/trial/")
    admin.post("start trial", f"{slug}/trial/")
    admin.post("notify users", f"{slug}/notify-users/")
    notification = Notification.objects.filter(recipient=world.maria).first()
    maria.get("notifications (user)", "/marketplace/notifications/")
    maria.post("mark one read", f"/marketplace/notifications/{notification.pk}/read/")
    maria.post("mark all read", "/marketplace/notifications/read/")
    admin.get("subscribe: confirm", f"{slug}/subscribe/")
    admin.post("subscribe", f"{slug}/subscribe/")
    admin.get("unsubscribe: confirm", f"{slug}/unsubscribe/")


def click_test_on_the_form(browser: Browser, world) -> None:
    new = "/connections/new/"
    assert browser.post("TEST form (JSON)", new, typed(world, action="test"), **JSON).json()["ok"] is True
    collect_app_tokens(world)
    browser.post("TEST form (no JS)", new, typed(world, action="test"))
    wrong = browser.post(
        "TEST form, wrong secret (JSON)", new, typed(world, client_secret=WRONG_SECRET, action="test"), **JSON
    )
    assert wrong.json()["ok"] is False
    browser.post("TEST form, wrong secret (no JS)", new, typed(world, client_secret=WRONG_SECRET, action="test"))
    assert browser.post("TEST form, PFX (JSON)", new, with_pfx(world, action="test"), **JSON).json()["ok"] is True
    collect_app_tokens(world)
    browser.post("TEST form, PFX (no JS)", new, with_pfx(world, action="test"))
    browser.post("TEST form, errors (JSON)", new, typed(world, url="nope", action="test"), expect=400, **JSON)
    browser.post("TEST form, errors (no JS)", new, typed(world, url="nope", action="test"), expect=400)


def create_connections(browser: Browser, world) -> dict[str, int]:
    new = "/connections/new/"
    browser.get("new connection", new)
    browser.post("create: form errors", new, typed(world, name="Contoso Secret", url="http://x/"), expect=400)
    browser.post("create: secret", new, typed(world, name="Contoso Secret"))
    browser.post("create: wrong secret", new, typed(world, name="Contoso Wrong", client_secret=WRONG_SECRET))
    browser.post("create: PFX, wrong password", new, with_pfx(world, "wrong", name="Contoso PFX"), expect=400)
    browser.post("create: PFX", new, with_pfx(world, name="Contoso PFX"))
    browser.post("create: PEM", new, with_pem(world, name="Contoso PEM"))
    delegated = typed(world, name="Contoso Delegated", auth_scheme="AzureAD", callback_url=CALLBACK)
    browser.post("create: AzureAD", new, delegated)
    return dict(Connection.objects.values_list("name", "pk"))


def saved_connection_pages(browser: Browser, world, pks: dict[str, int]) -> None:
    browser.get("list", "/connections/")
    browser.get("list: search", "/connections/?q=contoso&sort=-tested")
    for name, pk in pks.items():
        browser.get(f"detail: {name}", f"/connections/{pk}/")
        browser.get(f"edit: {name}", f"/connections/{pk}/edit/")
        browser.get(f"delete: confirm {name}", f"/connections/{pk}/delete/")
    edit = f"/connections/{pks['Contoso Secret']}/edit/"
    browser.post(
        "edit: errors",
        edit,
        typed(world, name="Contoso Secret", client_secret=NEW_SECRET, azure_tenant="x y"),
        expect=400,
    )
    browser.post(
        "edit: TEST with the stored secret (JSON)",
        edit,
        typed(world, name="Contoso Secret", client_secret="", action="test"),
        **JSON,
    )
    browser.post(
        "edit: replace the secret", edit, typed(world, name="Contoso Secret", client_secret=NEW_SECRET, action="save")
    )
    browser.post("edit: back to the secret", edit, typed(world, name="Contoso Secret", action="save"))


def click_test_of_saved(browser: Browser, pks: dict[str, int]) -> None:
    for name in ("Contoso Secret", "Contoso PFX", "Contoso PEM", "Contoso Wrong"):
        test = f"/connections/{pks[name]}/test/"
        answer = browser.post(f"TEST saved {name} (JSON)", test, **JSON).json()
        assert answer["ok"] is (name != "Contoso Wrong"), answer["message"]
        browser.post(f"TEST saved {name} (no JS)", test, {"next": "/connections/"})


def rotation(browser: Browser, world, pks: dict[str, int]) -> None:
    """The Credentials panel: a new secret (refused, then added, TESTed, promoted, the previous one discarded) and a
    new certificate (wrong password, then added and TESTed)."""
    base = f"/connections/{pks['Contoso Secret']}/credentials"
    browser.post("rotation: the current secret again", f"{base}/new/", {"client_secret": SECRET}, expect=400)
    browser.post("rotation: add a new secret", f"{base}/new/", {"client_secret": ROTATED_SECRET})
    assert browser.post("rotation: TEST the new secret (JSON)", f"{base}/new/test/", **JSON).json()["ok"] is True
    collect_app_tokens(world)
    browser.post("rotation: TEST the new secret (no JS)", f"{base}/new/test/")
    browser.post("rotation: promote", f"{base}/new/promote/")
    browser.post("rotation: promote again", f"{base}/new/promote/")
    browser.get("rotation: the page after promotion", f"/connections/{pks['Contoso Secret']}/")
    browser.post("rotation: discard the previous secret", f"{base}/previous/discard/")
    pfx = f"/connections/{pks['Contoso PFX']}/credentials"
    upload = with_pfx(world)
    wrong = {"certificate": upload["certificate"], "certificate_password": "wrong"}
    browser.post("rotation: new certificate, wrong password", f"{pfx}/new/", wrong, expect=400)
    upload = with_pfx(world)
    right = {"certificate": upload["certificate"], "certificate_password": PFX_PASSWORD}
    browser.post("rotation: the current certificate again", f"{pfx}/new/", right, expect=400)
    pfx_bytes = world.next_certificate.pfx_bytes(PFX_PASSWORD)
    upload = SimpleUploadedFile("next.pfx", pfx_bytes, "application/x-pkcs12")
    browser.post(
        "rotation: add a new certificate", f"{pfx}/new/", {"certificate": upload, "certificate_password": PFX_PASSWORD}
    )
    assert browser.post("rotation: TEST the new certificate (JSON)", f"{pfx}/new/test/", **JSON).json()["ok"] is True
    collect_app_tokens(world)
    browser.get("rotation: the page with a new certificate", f"/connections/{pks['Contoso PFX']}/")


def azure_ad(browser: Browser, world, pk: int) -> None:
    connection = Connection.objects.get(pk=pk)
    world.sim.set_drop(path=DISCOVERY, times=1)
    browser.post("sign in with Microsoft: cannot start", f"/connections/{pk}/sign-in/")
    answer = microsoft_answer(browser.client, connection)
    page = deliver(browser.client, answer)
    assert "Signed in to Microsoft as Maria Garcia" in page
    browser.get("after sign-in", f"/connections/{pk}/")
    collect_delegated_tokens(world, pk)
    assert browser.post("TEST AzureAD (JSON)", f"/connections/{pk}/test/", **JSON).json()["ok"] is True
    with three_hours_later():  # the access token expired: TEST refreshes it
        assert browser.post("TEST AzureAD, refreshed (JSON)", f"/connections/{pk}/test/", **JSON).json()["ok"] is True
        browser.post("TEST AzureAD (no JS)", f"/connections/{pk}/test/")
        browser.post("preview AzureAD, refreshed", f"/connections/{pk}/preview/", {"table": "account"})
    collect_delegated_tokens(world, pk)
    callback = "/connections/oauth/callback/"
    replayed = Client().post(callback, answer)
    browser.evidence.add_response("callback: replayed answer (form_post)", replayed)
    browser.get("callback: replayed answer", local_path(replayed["Location"]), expect=400)
    browser.get("callback: tampered state", f"{callback}?code=abc&state=tampered", expect=400)
    browser.get("callback: unreadable sealed answer", f"{callback}?answer=not-a-fernet-token", expect=400)
    browser.get("callback: nothing", callback, expect=400)
    cancelled = microsoft_answer(browser.client, connection, cancel=True)
    browser.evidence.add_response("callback: cancelled", Client().post(callback, cancelled))
    browser.get("callback: cancelled, shown", f"{callback}?{'&'.join(f'{k}={v}' for k, v in cancelled.items())}")


def admin_pages(browser: Browser, world, pks: dict[str, int]) -> None:
    admin = "/admin/connections/connection/"
    browser.get("admin index", "/admin/")
    browser.get("admin changelist", admin)
    browser.get("admin changelist: search", f"{admin}?q=contoso")
    for name, pk in pks.items():
        browser.get(f"admin change: {name}", f"{admin}{pk}/change/")
        browser.get(f"admin history: {name}", f"{admin}{pk}/history/")
        browser.get(f"admin delete: confirm {name}", f"{admin}{pk}/delete/")
    browser.get("admin add", f"{admin}add/")
    for page in ("/audit/", "/admin/audit/auditevent/", "/admin/axes/accessattempt/", "/admin/axes/accesslog/"):
        browser.get(page, page, expect=None)  # the audit trail and the sign-in attempts
    owner = get_user_model().objects.get(username="admin").pk
    values = {"client_id": world.app.client_id, "url": ENV_URL, "crm_version": "CRMOnline", "owner": owner}
    values.update(azure_tenant=world.tenant.tenant_id, azure_environment="GLOBAL", credential_type="secret")
    browser.post(
        "admin add: errors",
        f"{admin}add/",
        {**values, "name": "Admin Made", "url": "ftp://x", "client_secret": NEW_SECRET},
    )
    browser.post(
        "admin add", f"{admin}add/", {**values, "name": "Admin Made", "client_secret": SECRET, "_save": "Save"}
    )
    change = f"{admin}{pks['Contoso Secret']}/change/"
    browser.post(
        "admin change: errors",
        change,
        {**values, "name": "Contoso Secret", "client_id": "x", "client_secret": NEW_SECRET},
    )
    selected = {"action": "test_selected", "_selected_action": list(pks.values()), "index": "0"}
    browser.post("admin action: TEST selected", admin, selected)


def error_paths(browser: Browser, world, pks: dict[str, int], evidence: Evidence) -> None:
    pk = pks["Contoso Secret"]
    browser.get("404", "/connections/999999/", expect=404)
    browser.get("404 (no route)", "/no/such/page/", expect=404)
    browser.get("405", f"/connections/{pk}/test/", expect=405)
    browser.post("preview", f"/connections/{pk}/preview/", {"table": "account"})
    browser.post("preview: PFX", f"/connections/{pks['Contoso PFX']}/preview/", {"table": "contact"})
    browser.post("preview: no such table", f"/connections/{pk}/preview/", {"table": "new_nothing"})
    browser.post("preview: not a logical name", f"/connections/{pk}/preview/", {"table": "<x>"}, expect=400)
    browser.get("400 (bad host)", "/connections/", expect=400, HTTP_HOST="evil.example.net")
    csrf = Browser(evidence, enforce_csrf_checks=True)
    csrf.client.force_login(get_user_model().objects.get(username="admin"))
    csrf.post("403 CSRF: create", "/connections/new/", typed(world, name="No token"), expect=403)
    csrf.post("403 CSRF: TEST (JSON)", "/connections/new/", typed(world, action="test"), expect=403, **JSON)
    csrf.post(
        "403 CSRF: admin", f"/admin/connections/connection/{pk}/change/", {"client_secret": NEW_SECRET}, expect=403
    )


def forced_crashes(browser: Browser, world, pks: dict[str, int], monkeypatch) -> None:
    """Bugs as they could happen, deep in the code that holds the secrets: no 500 page may show them."""
    new = "/connections/new/"
    admin_change = f"/admin/connections/connection/{pks['Contoso Secret']}/change/"
    sign_out = f"/connections/{pks['Contoso Delegated']}/sign-out/"
    rotate = f"/connections/{pks['Contoso Secret']}/credentials/new/"
    crashes = {  # label: (where the bug is, the request that meets it)
        "500: TEST": ((background, "start_unsaved"), new, typed(world, action="test"), {}),
        "500: TEST (JSON)": ((background, "start_unsaved"), new, typed(world, action="test"), JSON),
        "500: form validation": ((inputs, "normalize_url"), new, typed(world, name="Crash"), {}),
        "500: certificate parsing": ((certificates, "from_key_and_chain"), new, with_pfx(world, action="test"), {}),
        "500: admin save": ((ConnectionAdmin, "save_model"), admin_change, admin_values(world, NEW_SECRET), {}),
        "500: sign-out": ((azure_ad_sign_in, "sign_out"), sign_out, {}, {}),
        "500: add a new secret": ((rotation_steps, "add"), rotate, {"client_secret": NEW_SECRET}, {}),
    }
    for label, ((owner, name), url, data, headers) in crashes.items():
        with monkeypatch.context() as patch:
            patch.setattr(owner, name, crash)
            page = browser.post(label, url, data, expect=500, **headers).content.decode()
        if world.debug:  # Django's technical page: the POST table and the local variables, cleansed
            assert "Forced crash for the hygiene sweep" in page, label
            assert "client_secret" not in data or re.search(r"client_secret.{0,80}\*{20}", page, re.S), label
        else:
            assert "Something went wrong" in page, label


def admin_values(world, secret: str) -> dict:
    owner = get_user_model().objects.get(username="admin").pk
    return {
        "name": "Contoso Secret",
        "client_id": world.app.client_id,
        "client_secret": secret,
        "url": ENV_URL,
        "crm_version": "CRMOnline",
        "azure_tenant": world.tenant.tenant_id,
        "azure_environment": "GLOBAL",
        "credential_type": "secret",
        "owner": owner,
        "_save": "Save",
    }


def crash(*args, **kwargs):
    raise RuntimeError("Forced crash for the hygiene sweep")


def the_end(admin: Browser, maria: Browser, world, pks: dict[str, int]) -> None:
    """Unsubscribed, the gate refuses TEST (with the secret typed); subscribe again, sign out of everything."""
    slug = "/marketplace/dynamics-crm"
    admin.post("unsubscribe", f"{slug}/unsubscribe/")
    admin.post("gate: TEST refused (JSON)", "/connections/new/", typed(world, action="test"), expect=403, **JSON)
    admin.post("gate: TEST refused (no JS)", "/connections/new/", typed(world, action="test"), expect=403)
    admin.post("gate: saved TEST refused", f"/connections/{pks['Contoso Secret']}/test/", expect=403)
    admin.post("subscribe again", f"{slug}/subscribe/")
    admin.post("sign out of Microsoft", f"/connections/{pks['Contoso Delegated']}/sign-out/")
    admin.post("delete", f"/connections/{pks['Contoso Wrong']}/delete/")
    maria.get("audit trail (user)", "/audit/", expect=None)
    for browser in (admin, maria):
        browser.post("sign out", "/accounts/logout/")


# --- Where secrets live --------------------------------------------------------------------------------------


def secrets_of(world, settings) -> dict[str, list[str]]:
    keys = world.certificate.key_pem + world.next_certificate.key_pem
    key_lines = [line for line in keys.splitlines() if "PRIVATE KEY" not in line]
    return {
        "client secret": [SECRET, TEST_SECRET],
        "mistyped client secret": [WRONG_SECRET],
        "replacement client secret": [NEW_SECRET],
        "rotated client secret": [ROTATED_SECRET],
        "certificate private key (PEM body lines)": [line for line in key_lines if len(line) >= 16],
        "PFX password": [PFX_PASSWORD],
        "Gathr passwords": [ADMIN_PASSWORD, USER_PASSWORD, WRONG_PASSWORD],
        "tokens (access, ID, refresh)": sorted(set(world.tokens)),
        "SECRET_KEY and FIELD_ENCRYPTION_KEY": [settings.SECRET_KEY, *settings.FIELD_ENCRYPTION_KEY],
    }


# --- The sweep ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
def test_no_page_log_email_or_row_shows_a_secret(world, settings, monkeypatch, all_logs, debug, capsys):
    settings.DEBUG = world.debug = debug
    evidence = Evidence()
    admin, maria = Browser(evidence), Browser(evidence)
    sign_in_to_gathr(admin, "admin", ADMIN_PASSWORD)
    sign_in_to_gathr(maria, "maria", USER_PASSWORD)
    marketplace(admin, maria, world)
    click_test_on_the_form(admin, world)
    pks = create_connections(admin, world)
    saved_connection_pages(admin, world, pks)
    click_test_of_saved(admin, pks)
    rotation(admin, world, pks)
    azure_ad(admin, world, pks["Contoso Delegated"])
    evidence.rows += database_rows()  # while the tokens are stored
    admin_pages(admin, world, pks)
    error_paths(admin, world, pks, evidence)
    forced_crashes(admin, world, pks, monkeypatch)
    assert_ciphertext_only()
    the_end(admin, maria, world, pks)
    evidence.rows += database_rows()
    evidence.logs = [(f"log {record.name}", log_text(record)) for record in all_logs]
    evidence.logs += [(f"email {message.subject}", message.message().as_string()) for message in mail.outbox]

    searched = needles(secrets_of(world, settings))
    found = leaks(searched, evidence.everything())
    assert world.tokens and mail.outbox and len(evidence.responses) > 100
    unexpected_500s = [label for label, text in evidence.responses if re.match(r"HTTP 5", text) and "500:" not in label]
    values = sum(len(v) for v in secrets_of(world, settings).values())
    encodings = len({needle.encoding for needle in searched})
    with capsys.disabled():
        print(
            f"\nsecret hygiene ({'DEBUG on' if debug else 'DEBUG off'}): {len(evidence.responses)} responses, "
            f"{len(all_logs)} log records, {len(mail.outbox)} emails, {len(evidence.rows)} database rows; "
            f"{values} secret values × {encodings} encodings = {len(searched)} distinct strings searched; "
            f"{len(found)} leaks"
        )
    assert not unexpected_500s
    assert not found, "\n".join(found[:40])


def test_the_sweep_would_see_a_leak(world, settings):
    """The search itself works: a page that echoes the secret in any encoding is caught."""
    world.tokens = ["eyJ.hygiene.token"]
    evidence = Evidence()
    for encoding_of_secret in needles({"client secret": [SECRET]}):
        evidence.add_response(encoding_of_secret.encoding, HttpResponse(f"<p>{encoding_of_secret.text}</p>"))
    found = leaks(needles(secrets_of(world, settings)), evidence.everything())
    assert len(found) >= len(evidence.responses) == len(needles({"client secret": [SECRET]}))
