"""Issuing a personal API token: stored as a digest only, named, expiring, unique by name among active ones."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from api_tokens import token_text
from api_tokens.models import DEFAULT_LIFETIME, ApiToken, TokenError
from audit.models import Action, AuditEvent
from tests.api_token_helpers import database_text

pytestmark = pytest.mark.django_db


def test_it_returns_a_recognisable_token_and_stores_only_its_digest(user):
    row, plaintext = ApiToken.issue(user, "CI pipeline", timezone.now() + timedelta(days=7))
    assert re.fullmatch(r"gathr_[0-9a-f]{12}_[0-9a-f]{64}", plaintext)
    assert plaintext.split("_")[1] == row.prefix
    stored = ApiToken.objects.get(pk=row.pk)
    assert stored.digest == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.split("_")[2] not in database_text()


def test_it_draws_a_new_secret_and_prefix_for_every_token(user):
    first = ApiToken.issue(user, "one")
    second = ApiToken.issue(user, "two")
    assert first[0].prefix != second[0].prefix
    assert first[1].split("_")[2] != second[1].split("_")[2]


def test_it_expires_in_ninety_days_unless_told(user):
    before = timezone.now()
    row, _ = ApiToken.issue(user, "default")
    assert before + DEFAULT_LIFETIME <= row.expires_at <= timezone.now() + DEFAULT_LIFETIME


@pytest.mark.parametrize(
    ("lifetime", "code"),
    [(timedelta(seconds=-1), "expiry_past"), (timedelta(days=365, minutes=1), "expiry_too_far")],
)
def test_it_rejects_an_expiry_in_the_past_or_beyond_a_year(user, lifetime, code):
    with pytest.raises(TokenError) as refused:
        ApiToken.issue(user, "bad", timezone.now() + lifetime)
    assert refused.value.code == code
    assert not ApiToken.objects.exists()


def test_it_accepts_an_expiry_of_a_year(user):
    row, _ = ApiToken.issue(user, "yearly", timezone.now() + timedelta(days=365))
    assert row.state() == "active"


def test_it_rejects_a_name_the_user_already_has_on_an_active_token(user):
    ApiToken.issue(user, "deploy")
    with pytest.raises(TokenError) as refused:
        ApiToken.issue(user, " deploy ")
    assert refused.value.code == "name_taken"
    assert ApiToken.objects.count() == 1


def test_a_name_is_free_again_once_its_token_is_revoked_or_expired(user):
    revoked, _ = ApiToken.issue(user, "deploy")
    revoked.revoke(by=user)
    expired, _ = ApiToken.issue(user, "nightly")
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    ApiToken.issue(user, "deploy")
    ApiToken.issue(user, "nightly")
    assert ApiToken.objects.count() == 4


def test_another_user_may_use_the_same_name(user, admin_user):
    ApiToken.issue(user, "deploy")
    ApiToken.issue(admin_user, "deploy")
    assert ApiToken.objects.filter(name="deploy").count() == 2


def test_it_records_the_creation_with_name_and_prefix_but_never_the_token(user):
    row, plaintext = ApiToken.issue(user, "CI pipeline")
    event = AuditEvent.objects.get(action=Action.TOKEN_CREATED)
    assert event.actor == user
    assert event.target_type == "api_tokens.apitoken" and event.target_id == str(row.pk)
    assert "CI pipeline" in event.target_name and row.prefix in event.detail
    assert plaintext not in str(vars(event)) and token_text.prefix_of(plaintext) == row.prefix


def test_revoking_records_who_revoked_once(user, admin_user):
    row, _ = ApiToken.issue(user, "deploy")
    assert row.revoke(by=admin_user) is True
    assert row.revoke(by=admin_user) is False
    events = AuditEvent.objects.filter(action=Action.TOKEN_REVOKED)
    assert [(event.actor, event.target_id) for event in events] == [(admin_user, str(row.pk))]
    assert ApiToken.objects.get(pk=row.pk).state() == "revoked"


def test_the_state_reads_active_expired_or_revoked(user):
    row, _ = ApiToken.issue(user, "deploy", timezone.now() + timedelta(days=1))
    assert row.state() == "active"
    assert row.state(now=timezone.now() + timedelta(days=2)) == "expired"
    row.revoke(by=user)
    assert row.state() == "revoked"


def test_a_user_deleted_takes_their_tokens_along(user):
    ApiToken.issue(user, "deploy")
    get_user_model().objects.filter(pk=user.pk).delete()
    assert not ApiToken.objects.exists()
