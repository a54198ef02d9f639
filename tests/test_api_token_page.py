"""The API tokens page: a user creates a token (shown once), lists and revokes their own, and no one else's."""

import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from api_tokens.models import ApiToken
from audit.models import Action, AuditEvent
from tests.api_token_helpers import database_text

pytestmark = pytest.mark.django_db

PAGE = "/account/api-tokens/"
TOKEN = re.compile(r"gathr_[0-9a-f]{12}_[0-9a-f]{64}")


@pytest.fixture
def signed_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(PAGE)  # the CSRF cookie
    return client


def post(signed_in: Client, path: str = PAGE, **data):
    return signed_in.post(path, {"csrfmiddlewaretoken": signed_in.cookies["csrftoken"].value, **data})


def create(signed_in: Client, name: str = "Nightly export", lifetime: str = "90", **data):
    return post(signed_in, name=name, lifetime=lifetime, **data)


def shown_token(response) -> str | None:
    found = TOKEN.findall(response.content.decode())
    assert len(found) <= 1
    return found[0] if found else None


def test_it_requires_sign_in():
    response = Client().get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_is_linked_from_the_navigation(signed_in):
    page = signed_in.get("/connections/").content.decode()
    assert f'href="{PAGE}">API tokens</a>' in page


def test_it_shows_a_new_token_once_and_never_again(signed_in, user):
    response = create(signed_in)
    assert response.status_code == 200
    plaintext = shown_token(response)
    row = ApiToken.objects.get(user=user)
    assert plaintext and plaintext.split("_")[1] == row.prefix
    assert "shown only once" in response.content.decode()
    assert 'data-copy-target="new-token"' in response.content.decode()
    again = signed_in.get(PAGE)
    assert shown_token(again) is None and row.prefix in again.content.decode()
    assert plaintext not in database_text()


def test_the_new_token_is_in_no_url_cookie_or_session(signed_in, user):
    response = create(signed_in)
    plaintext = shown_token(response)
    assert not response.has_header("Location")
    assert plaintext not in str(signed_in.cookies) and plaintext not in str(dict(signed_in.session))


def test_the_page_is_never_stored(signed_in):
    for response in (signed_in.get(PAGE), create(signed_in)):
        assert "no-store" in response["Cache-Control"]


def test_the_page_loads_its_copy_script_and_no_inline_script(signed_in):
    page = create(signed_in).content.decode()
    assert '<script src="/static/api_tokens/api_tokens.js"></script>' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert " style=" not in page and " onclick=" not in page


def test_a_token_made_on_the_page_works_as_its_user(signed_in, user):
    from tests.test_api_token_authentication import call

    plaintext = shown_token(create(signed_in))
    assert call(f"Bearer {plaintext}").data["user"] == user.get_username()


@pytest.mark.parametrize(("lifetime", "days"), [("7", 7), ("30", 30), ("90", 90), ("365", 365)])
def test_it_offers_lifetimes_in_days(signed_in, user, lifetime, days):
    before = timezone.now()
    create(signed_in, lifetime=lifetime)
    expires_at = ApiToken.objects.get(user=user).expires_at
    assert before + timedelta(days=days) <= expires_at <= timezone.now() + timedelta(days=days)


def test_it_offers_a_date(signed_in, user):
    chosen = timezone.localdate() + timedelta(days=10)
    create(signed_in, lifetime="date", expires_on=chosen.isoformat())
    assert timezone.localtime(ApiToken.objects.get(user=user).expires_at).date() == chosen


@pytest.mark.parametrize(
    ("expires_on", "message"),
    [
        ("", "Choose the date the token expires on."),
        (date.today().isoformat(), "The expiry date must be tomorrow or later."),
        ((date.today() + timedelta(days=366)).isoformat(), "A token lives at most one year"),
    ],
)
def test_it_rejects_a_missing_past_or_too_far_date(signed_in, expires_on, message):
    response = create(signed_in, lifetime="date", expires_on=expires_on)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert shown_token(response) is None and not ApiToken.objects.exists()


def test_it_requires_a_name(signed_in):
    response = create(signed_in, name="  ")
    assert response.status_code == 400 and not ApiToken.objects.exists()


def test_it_rejects_a_name_with_a_line_break(signed_in):
    response = create(signed_in, name="Nightly\nexport")
    assert response.status_code == 400
    assert "cannot contain line breaks" in response.content.decode() and not ApiToken.objects.exists()


def test_it_rejects_a_name_already_on_an_active_token(signed_in, user):
    ApiToken.issue(user, "Nightly export")
    response = create(signed_in, name="Nightly export")
    assert response.status_code == 400
    assert "You already have an active token named “Nightly export”" in response.content.decode()
    assert ApiToken.objects.count() == 1 and shown_token(response) is None


def test_it_refuses_a_create_without_the_csrf_token(signed_in):
    assert signed_in.post(PAGE, {"name": "x", "lifetime": "7"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_it_lists_only_the_users_own_tokens_with_their_state(signed_in, user, admin_user):
    ApiToken.issue(user, "Active one")
    expired, _ = ApiToken.issue(user, "Old one")
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    revoked, _ = ApiToken.issue(user, "Gone one")
    revoked.revoke(by=user)
    ApiToken.issue(admin_user, "Administrator's script")
    page = signed_in.get(PAGE).content.decode()
    assert "Administrator&#x27;s script" not in page and "Administrator's script" not in page
    states = re.findall(r"<td class=\"text-break\">([^<]+)</td>.*?badge text-bg-\w+\">(\w+)</span>", page, re.S)
    assert states == [("Gone one", "Revoked"), ("Old one", "Expired"), ("Active one", "Active")]


def test_it_revokes_a_token_and_records_it(signed_in, user):
    row, plaintext = ApiToken.issue(user, "Nightly export")
    response = post(signed_in, f"{PAGE}{row.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == PAGE
    assert ApiToken.objects.get(pk=row.pk).revoked_at is not None
    event = AuditEvent.objects.get(action=Action.TOKEN_REVOKED)
    assert event.actor == user and row.prefix in event.detail and plaintext not in event.detail
    assert "was revoked" in signed_in.get(PAGE).content.decode()


def test_revoking_needs_a_post_with_the_csrf_token(signed_in, user):
    row, _ = ApiToken.issue(user, "Nightly export")
    assert signed_in.get(f"{PAGE}{row.pk}/revoke/").status_code == 405
    assert signed_in.post(f"{PAGE}{row.pk}/revoke/").status_code == 403
    assert ApiToken.objects.get(pk=row.pk).revoked_at is None


def test_another_users_token_cannot_be_revoked(signed_in, admin_user):
    theirs, _ = ApiToken.issue(admin_user, "Administrator's script")
    assert post(signed_in, f"{PAGE}{theirs.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None
    assert not AuditEvent.objects.filter(action=Action.TOKEN_REVOKED).exists()


def test_creating_records_an_audit_event_without_the_token(signed_in, user):
    plaintext = shown_token(create(signed_in))
    event = AuditEvent.objects.get(action=Action.TOKEN_CREATED)
    assert event.actor == user and "Nightly export" in event.target_name
    assert plaintext.split("_")[1] in event.detail and plaintext not in str(vars(event))


def test_the_token_is_never_logged(signed_in, all_logs):
    plaintext = shown_token(create(signed_in))
    signed_in.get(PAGE)
    assert all_logs, "the audit event at least is logged"
    secret = plaintext.split("_")[2]
    assert not [record for record in all_logs if secret in record.getMessage() or secret in str(record.args)]
