"""The issuer's signing keys: created when first needed (once, however many processes ask at once), rotated with the
next key published before it signs, retired keys kept until their last assertion expired, then pruned."""

import threading
from datetime import datetime, timedelta
from io import StringIO

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from audit.models import Action, AuditEvent
from federation import issuer, keyring, rotation
from federation.models import KeyState, SigningKey
from tests.federation_helpers import AUDIENCE, HOUR, JWKS, age_keys, in_threads, states, verify


@pytest.mark.django_db
def test_the_first_assertion_creates_a_current_and_a_next_key_and_audits_them(site):
    assert not SigningKey.objects.exists()
    issuer.sign_assertion("connection:1", AUDIENCE)
    assert {state: len(kids) for state, kids in states().items()} == {"current": 1, "next": 1}
    created = AuditEvent.objects.filter(action=Action.SIGNING_KEY_CREATED)
    assert sorted(created.values_list("outcome", flat=True)) == ["current", "next"]
    assert {event.actor_name for event in created} == {"system"}


@pytest.mark.django_db
@pytest.mark.parametrize("state", [KeyState.CURRENT, KeyState.NEXT])
def test_the_database_refuses_a_second_key_in_the_same_state(state):
    keyring.ensure_keys()
    with pytest.raises(IntegrityError), transaction.atomic():
        keyring.new_key(state, timezone.now()).save()


@pytest.mark.django_db(transaction=True)
def test_two_processes_creating_the_first_keys_at_once_end_with_one_of_each(site, monkeypatch):
    together = threading.Barrier(2, timeout=10)
    generate = keyring.keys.generate

    def generate_then_meet():
        key = generate()
        try:
            together.wait()  # both have seen no key and hold a new one: both insert now
        except threading.BrokenBarrierError:
            pass
        return key

    monkeypatch.setattr(keyring.keys, "generate", generate_then_meet)
    kids = in_threads(2, lambda: jwt.get_unverified_header(issuer.sign_assertion("c", AUDIENCE))["kid"])
    found = states()
    assert {state: len(found[state]) for state in found} == {"current": 1, "next": 1}
    assert kids == found["current"] * 2
    assert AuditEvent.objects.filter(action=Action.SIGNING_KEY_CREATED).count() == 2


@pytest.mark.django_db
def test_the_next_key_is_published_before_it_signs_and_a_cached_jwks_verifies_after_the_rotation(site):
    cached_jwks = Client().get(JWKS).json()  # as Entra ID keeps it
    before = issuer.sign_assertion("connection:1", AUDIENCE)
    upcoming = SigningKey.objects.get(state=KeyState.NEXT).kid
    assert upcoming in [key["kid"] for key in cached_jwks["keys"]]
    assert jwt.get_unverified_header(before)["kid"] != upcoming
    age_keys(2 * HOUR)
    rotated = rotation.rotate()
    after = issuer.sign_assertion("connection:1", AUDIENCE)
    assert jwt.get_unverified_header(after)["kid"] == upcoming == rotated.current.kid
    verify(after, cached_jwks)  # the new signer was in the JWKS fetched before the rotation
    verify(before, Client().get(JWKS).json())  # the retired key is still published


@pytest.mark.django_db
def test_a_rotation_retires_the_current_key_and_publishes_a_new_next_one(site):
    keyring.ensure_keys()
    age_keys(2 * HOUR)
    old = states()
    rotated = rotation.rotate()
    new = states()
    assert new["retired"] == old["current"] and new["current"] == old["next"]
    assert new["next"] == [rotated.next.kid] and rotated.next.kid not in old["current"] + old["next"]
    assert [key["kid"] for key in keyring.published_jwks()] == [*new["current"], *new["next"], *new["retired"]]
    rotated_event = AuditEvent.objects.get(action=Action.SIGNING_KEY_ROTATED)
    assert old["next"][0] in rotated_event.detail and old["current"][0] in rotated_event.detail


@pytest.mark.django_db
def test_a_retired_key_stays_published_until_its_last_assertion_expired_then_is_pruned(site, settings):
    keyring.ensure_keys()
    age_keys(2 * HOUR)
    now = timezone.now()
    retired = rotation.rotate(now=now).retired
    lifetime = timedelta(seconds=settings.FEDERATED_ASSERTION_LIFETIME)
    assert retired.published_until == now + lifetime + timedelta(minutes=5)
    assert retired.kid in [key["kid"] for key in keyring.published_jwks(retired.published_until - timedelta(seconds=1))]
    assert rotation.prune(retired.published_until - timedelta(seconds=1)) == 0
    assert retired.kid not in [key["kid"] for key in keyring.published_jwks(retired.published_until)]
    assert rotation.prune(retired.published_until) == 1
    assert not SigningKey.objects.filter(kid=retired.kid).exists()
    assert {"current", "next"} == set(states())


@pytest.mark.django_db
def test_the_command_refuses_a_next_key_published_too_recently_unless_forced(site, settings):
    settings.FEDERATION_KEY_PUBLISH_AHEAD = 3600
    keyring.ensure_keys()
    age_keys(59 * timedelta(minutes=1))
    before = states()
    with pytest.raises(CommandError, match="FEDERATION_KEY_PUBLISH_AHEAD.*--force"):
        call_command("rotate_signing_key", stdout=StringIO())
    assert states() == before
    out = StringIO()
    call_command("rotate_signing_key", "--force", stdout=out)
    assert f"Rotated: {before['next'][0]} signs now; {before['current'][0]} is retired" in out.getvalue()
    assert states()["current"] == before["next"]


@pytest.mark.django_db
def test_the_command_rotates_once_the_next_key_has_been_published_long_enough(site):
    keyring.ensure_keys()
    age_keys(HOUR + timedelta(seconds=1))
    before = states()
    call_command("rotate_signing_key", stdout=StringIO())
    assert states()["retired"] == before["current"]


@pytest.mark.django_db
def test_the_status_shows_each_key_and_the_next_rotation(site, settings):
    settings.FEDERATION_KEY_ROTATION_DAYS = 90
    keyring.ensure_keys()
    age_keys(2 * HOUR)
    rotation.rotate()
    out = StringIO()
    call_command("rotate_signing_key", "--status", stdout=out)
    found, text = states(), out.getvalue()
    assert "Source: Generated by this application" in text
    assert f"Current: {found['current'][0]}, signing since" in text
    assert f"Next: {found['next'][0]}, published since" in text and "may sign from" in text
    assert f"Retired: {found['retired'][0]} since" in text and "published until" in text
    status = issuer.signing_status()
    current = SigningKey.objects.get(state=KeyState.CURRENT)
    assert status.next_rotation_due == current.activated_at + timedelta(days=90)
    assert f"Next automatic rotation: {status.next_rotation_due:%Y-%m-%d}" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("current_age_days", "next_age", "rotates"),
    [
        (89, timedelta(days=89), False),  # not due yet
        (91, timedelta(days=91), True),  # due, next published long ago
        (91, timedelta(minutes=30), False),  # due, but the next key is too new: waits for it
    ],
)
def test_automatic_rotation_happens_when_due_and_the_next_key_is_published_long_enough(
    site, settings, current_age_days, next_age, rotates
):
    settings.FEDERATION_KEY_ROTATION_DAYS = 90
    keyring.ensure_keys()
    now = timezone.now()
    SigningKey.objects.filter(state=KeyState.CURRENT).update(activated_at=now - timedelta(days=current_age_days))
    SigningKey.objects.filter(state=KeyState.NEXT).update(created_at=now - next_age)
    before = states()
    assert bool(rotation.rotate_if_due(now)) is rotates
    assert (states()["current"] == before["next"]) is rotates


@pytest.mark.django_db
def test_automatic_rotation_is_off_at_zero_days(site, settings):
    settings.FEDERATION_KEY_ROTATION_DAYS = 0
    keyring.ensure_keys()
    age_keys(timedelta(days=3650))
    assert rotation.rotate_if_due() is None
    assert issuer.signing_status().next_rotation_due is None


@pytest.mark.django_db(transaction=True)
def test_two_workers_rotating_at_once_rotate_once(site, settings, monkeypatch):
    settings.FEDERATION_KEY_ROTATION_DAYS = 90
    keyring.ensure_keys()
    age_keys(timedelta(days=91))
    together = threading.Barrier(2, timeout=10)
    new_key = keyring.new_key

    def new_key_then_meet(*args):
        row = new_key(*args)
        together.wait()  # both have read the same current and next keys and are about to rotate them
        return row

    monkeypatch.setattr(keyring, "new_key", new_key_then_meet)
    rotations = in_threads(2, rotation.rotate_if_due)
    assert sum(1 for done in rotations if done) == 1
    assert {state: len(kids) for state, kids in states().items()} == {"current": 1, "next": 1, "retired": 1}
    assert AuditEvent.objects.filter(action=Action.SIGNING_KEY_ROTATED).count() == 1


@pytest.mark.django_db
def test_the_hourly_upkeep_creates_keys_rotates_when_due_and_prunes(site, settings):
    from federation.tasks import signing_key_upkeep

    settings.FEDERATION_KEY_ROTATION_DAYS = 90
    signing_key_upkeep.call_local()
    first = states()
    assert set(first) == {"current", "next"}
    age_keys(timedelta(days=91))
    signing_key_upkeep.call_local()
    assert states()["retired"] == first["current"]
    SigningKey.objects.filter(state=KeyState.RETIRED).update(retired_at=timezone.now() - HOUR)
    signing_key_upkeep.call_local()
    assert "retired" not in states()


@pytest.mark.django_db
def test_a_rotation_in_another_process_is_seen_within_a_minute_while_the_old_key_stays_published(site, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(keyring.time, "monotonic", lambda: clock[0])
    old = jwt.get_unverified_header(issuer.sign_assertion("c", AUDIENCE))["kid"]
    age_keys(2 * HOUR)
    with monkeypatch.context() as elsewhere:  # another process rotates: this one's loaded key is not forgotten
        elsewhere.setattr(keyring, "forget_signer", lambda: None)
        new = rotation.rotate().current.kid
    clock[0] += keyring.SIGNER_CACHE_SECONDS - 1
    still = issuer.sign_assertion("c", AUDIENCE)
    assert jwt.get_unverified_header(still)["kid"] == old
    verify(still, Client().get(JWKS).json())
    clock[0] += 2
    assert jwt.get_unverified_header(issuer.sign_assertion("c", AUDIENCE))["kid"] == new
    assert keyring.SIGNER_CACHE_SECONDS < 5 * 60  # within the retired key's clock-skew margin


def test_the_worker_runs_the_upkeep_every_hour():
    from django.utils.module_loading import autodiscover_modules
    from huey.api import PeriodicTask
    from huey.contrib.djhuey import HUEY

    autodiscover_modules("tasks")  # as manage.py run_huey does
    task = HUEY._registry.string_to_task("federation.tasks.signing_key_upkeep")()
    assert isinstance(task, PeriodicTask)
    assert [task.validate_datetime(datetime(2027, 1, 1, 5, minute)) for minute in (40, 41)] == [False, True]
