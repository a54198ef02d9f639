"""AuthScheme AzureAD: sign in once with Microsoft (authorization code + PKCE), then TEST refreshes by itself."""

import datetime as dt
import html
import io
import ipaddress
import re
import threading
from urllib.parse import urlsplit

import pytest
import requests
import time_machine
from django.core.management import call_command
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.test import Client

from connections.dynamics import guard
from connections.models import Connection
from tests.helpers import form_data
from tests.simulator.browser import sign_in as press_sign_in

SITE = "https://gathr.example.com"
CALLBACK = f"{SITE}/connections/oauth/callback/"
UPN = "maria@contoso.onmicrosoft.com"


@pytest.fixture
def delegated(microsoft, settings, make_connection):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["testserver", "gathr.example.com"]
    sim = microsoft.sim
    person = sim.add_user(microsoft.tenant.tenant_id, upn=UPN, display_name="Maria Garcia")
    sim.add_redirect_uri(microsoft.app.client_id, CALLBACK)
    member = sim.add_dataverse_user(microsoft.env.url, person.object_id)
    saved = make_connection(
        name="Contoso delegated",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
        auth_scheme="AzureAD",
        callback_url=CALLBACK,
    )
    microsoft.person, microsoft.member, microsoft.saved = person, member, saved
    return microsoft


def three_hours_later():
    """Move this process's clock (msal's and the simulator's): the access token has expired."""
    return time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))


def browser_session() -> requests.Session:
    """The admin's browser, reaching the simulator through the tests' hosts mapping."""
    session = requests.Session()
    session.mount("https://", guard.GuardedAdapter())
    return session


def microsoft_answer(client, connection, *, upn=UPN, cancel=False):
    """Click "Sign in with Microsoft", sign in on Microsoft's page, and return what it posts back."""
    started = client.post(f"/connections/{connection.pk}/sign-in/")
    assert started.status_code == 302, started.content
    assert urlsplit(started["Location"]).hostname == "login.microsoftonline.com"
    with guard.allowing((ipaddress.ip_network("127.0.0.1/32"),)):  # the simulator on loopback
        answer = press_sign_in(started["Location"], upn, cancel=cancel, session=browser_session())
    assert answer.location == CALLBACK, answer.html[:500]
    return answer.params


def deliver(client, params) -> str:
    """Entra's form_post to the callback, then the same-site hand-over; returns the final page."""
    posted = Client().post("/connections/oauth/callback/", params)  # cross-site: no session cookie
    assert posted.status_code == 303
    final = client.get(posted["Location"], follow=True)
    return final.content.decode()


def sign_in(client, microsoft) -> str:
    return deliver(client, microsoft_answer(client, microsoft.saved))


def test_the_form_offers_auth_scheme_and_a_callback_url_defaulting_to_this_site(admin_client, settings):
    settings.SITE_URL = SITE
    page = admin_client.get("/connections/new/").content.decode()
    assert "Auth Scheme" in page and "AzureServicePrincipal" in page and "AzureAD" in page
    assert re.search(r'name="auth_scheme" value="AzureServicePrincipal"[^>]*checked', page)
    assert f'value="{CALLBACK}"' in page
    assert "Callback URL" in page and "Copy" in page and "Web" in page


@pytest.mark.django_db
def test_the_default_callback_url_follows_the_request_without_site_url(admin_client, settings):
    settings.SITE_URL = ""
    page = admin_client.get("/connections/new/").content.decode()
    assert 'value="http://testserver/connections/oauth/callback/"' in page


@pytest.mark.parametrize(
    "typed",
    [
        "https://gathr.example.com/somewhere/else/",
        "https://evil.example.net/connections/oauth/callback/",
        "ftp://gathr.example.com/connections/oauth/callback/",
        "connections/oauth/callback/",
    ],
)
def test_a_callback_url_that_does_not_lead_back_here_is_explained(admin_client, settings, typed):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["testserver", "gathr.example.com"]
    data = form_data(auth_scheme="AzureAD", callback_url=typed)
    response = admin_client.post("/connections/new/", data)
    assert response.status_code == 400
    errors = response.context["form"].errors["callback_url"]
    assert errors and ("lead back" in errors[0] or "absolute" in errors[0])
    assert not Connection.objects.exists()


def test_an_admin_signs_in_and_test_uses_the_delegated_token(admin_client, delegated):
    page = sign_in(admin_client, delegated)
    assert "Signed in to Microsoft as Maria Garcia (maria@contoso.onmicrosoft.com)" in html.unescape(page)
    assert delegated.tenant.tenant_id in page
    assert "Sign out" in page
    answer = admin_client.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]
    assert delegated.member.user_id in answer["message"]


def test_the_token_cache_is_stored_only_encrypted_and_never_shown(admin_client, delegated, all_logs):
    page = sign_in(admin_client, delegated)
    refresh_token = delegated.sim.newest_refresh_token(delegated.person.object_id)
    assert refresh_token
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT * FROM connections_connection WHERE id = %s", [delegated.saved.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    pages = page + admin_client.get(f"/connections/{delegated.saved.pk}/").content.decode()
    pages += admin_client.get(f"/admin/connections/connection/{delegated.saved.pk}/change/").content.decode()
    logs = " ".join(record.getMessage() for record in all_logs)
    for haystack in (row, pages, logs):
        assert refresh_token not in haystack
        # No JWT (access or id token): its header and payload are base64url JSON, "eyJ…" each, joined by a dot.
        # (A bare "eyJ" is not one: Fernet ciphertext, base64 without dots, holds those three letters ~2% of times.)
        assert not re.search(r"eyJ[\w-]*\.eyJ", haystack)
    assert Connection.objects.get(pk=delegated.saved.pk).get_token_cache().count(refresh_token) == 1


def test_test_refreshes_an_expired_access_token_and_keeps_the_new_cache(admin_client, delegated):
    sign_in(admin_client, delegated)
    version = Connection.objects.get(pk=delegated.saved.pk).token_cache_version
    with three_hours_later():  # msal and the simulator both see the access token expired
        answer = admin_client.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json")
    assert answer.json()["ok"] is True, answer.json()["message"]
    assert delegated.sim.refresh_count(delegated.person.object_id) == 1
    stored = Connection.objects.get(pk=delegated.saved.pk)
    assert stored.token_cache_version == version + 1
    assert delegated.sim.newest_refresh_token(delegated.person.object_id) in stored.get_token_cache()


def test_a_revoked_sign_in_asks_to_sign_in_again(admin_client, delegated):
    sign_in(admin_client, delegated)
    delegated.sim.revoke_refresh_tokens(delegated.person.object_id)
    with three_hours_later():
        answer = admin_client.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json")
    answer = answer.json()
    assert answer["message"].startswith("Connection unavailable")
    assert "revoked" in answer["message"] and "AADSTS50173" in answer["message"]
    assert "Sign in again" in answer["html"]


def test_an_expired_refresh_token_asks_to_sign_in_again(admin_client, delegated):
    delegated.sim.set_refresh_token_lifetime(3600)
    sign_in(admin_client, delegated)
    with three_hours_later():
        answer = admin_client.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json")
    assert "AADSTS700082" in answer.json()["message"]
    assert "Sign in again" in answer.json()["html"]


def test_without_a_sign_in_test_says_so_and_offers_it(admin_client, delegated):
    answer = admin_client.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["message"].startswith("Connection unavailable")
    assert "No one has signed in" in answer["message"]
    assert "Sign in again" in answer["html"]


def test_a_tampered_or_foreign_state_is_refused(admin_client, delegated, user):
    params = microsoft_answer(admin_client, delegated.saved)
    tampered = {**params, "state": params["state"] + "x"}
    assert "does not match a sign-in you started" in deliver(admin_client, tampered)
    stranger = Client()
    stranger.force_login(user)
    assert "does not match a sign-in you started" in deliver(stranger, params)
    assert not Connection.objects.get(pk=delegated.saved.pk).is_signed_in


def test_a_replayed_answer_is_refused(admin_client, delegated):
    params = microsoft_answer(admin_client, delegated.saved)
    assert "Signed in to Microsoft" in deliver(admin_client, params)
    assert "does not match a sign-in you started" in deliver(admin_client, params)


def test_cancelling_on_microsofts_page_is_explained(admin_client, delegated):
    page = deliver(admin_client, microsoft_answer(admin_client, delegated.saved, cancel=True))
    assert "The sign-in was cancelled." in html.unescape(page)
    assert not Connection.objects.get(pk=delegated.saved.pk).is_signed_in


def test_missing_admin_consent_is_explained(admin_client, delegated):
    delegated.sim.require_admin_consent(delegated.app.client_id)
    page = html.unescape(deliver(admin_client, microsoft_answer(admin_client, delegated.saved)))
    assert "AADSTS65001" in page and "Grant admin consent" in page


def test_a_redirect_uri_error_returned_to_the_callback_is_explained(admin_client, delegated):
    params = microsoft_answer(admin_client, delegated.saved)
    error = {
        "state": params["state"],
        "error": "invalid_request",
        "error_description": "AADSTS50011: The redirect URI specified in the request does not match.",
    }
    page = html.unescape(deliver(admin_client, error))
    assert "AADSTS50011" in page and "exactly" in page and "Callback URL" in page


def test_signing_out_forgets_the_tokens(admin_client, delegated):
    sign_in(admin_client, delegated)
    page = admin_client.post(f"/connections/{delegated.saved.pk}/sign-out/", follow=True).content.decode()
    assert "Signed out" in page and "Sign in with Microsoft" in page
    stored = Connection.objects.get(pk=delegated.saved.pk)
    assert stored.token_cache_encrypted == "" and stored.signed_in_username == ""


@pytest.mark.django_db(transaction=True)
def test_two_tests_refreshing_at_once_keep_the_newest_refresh_token(delegated, admin_user):
    """A page's TEST (on a worker) and `manage.py test_connection` at the same moment: one refresh, newest kept.
    (Two pages' TESTs of one connection cannot overlap: the second is refused while the first runs.)"""
    client = Client()
    client.force_login(admin_user)
    sign_in(client, delegated)
    delegated.sim.set_refresh_token_rotation(rotate=True, revoke_old=True)
    delegated.sim.set_delay(0.3, path="/oauth2/v2.0/token")
    answers = []

    def from_the_page():
        try:
            page = Client()
            page.force_login(admin_user)
            answer = page.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json").json()
            answers.append(answer)
        finally:
            db_connections.close_all()

    def from_the_command():
        try:
            out = io.StringIO()
            call_command("test_connection", delegated.saved.name, stdout=out)
            answers.append({"ok": "Connection available" in out.getvalue(), "message": out.getvalue()})
        except SystemExit:
            answers.append({"ok": False, "message": "the command failed"})
        finally:
            db_connections.close_all()

    with three_hours_later():
        threads = [threading.Thread(target=run) for run in (from_the_page, from_the_command)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [a["ok"] for a in answers] == [True, True], [a["message"] for a in answers]
    assert delegated.sim.refresh_count(delegated.person.object_id) == 1  # the second TEST used the new tokens
    stored = Connection.objects.get(pk=delegated.saved.pk).get_token_cache()
    assert delegated.sim.newest_refresh_token(delegated.person.object_id) in stored
