"""Two organization administrators click START TRIAL at the same moment: one trial starts, and the other admin
gets a page that says so, never an error page, on SQLite (the default database) as on PostgreSQL.

Both requests run through the whole stack at once, each in its own thread with its own test client. On
PostgreSQL the order is pinned: both pass the "no trial yet" check, then the first saves its trial and keeps its
transaction open until the second is writing too, so the second meets the row lock and then the unique trial.
"""

import threading
import time

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection as db_connection
from django.test import Client

from audit.models import AuditEvent
from marketplace import entitlements
from marketplace.models import Trial
from tests.helpers import ADMIN_PASSWORD
from tests.marketplace.helpers import T0, text_of

pytestmark = [pytest.mark.no_entitlement, pytest.mark.usefixtures("fast_password_hashing")]

STARTED = "The Dynamics CRM trial started: it ends on 2026-03-16 09:00 UTC."
ALREADY = "The Dynamics CRM trial was already started on 2026-03-02 09:00 UTC: a trial can be started only once."


@pytest.fixture
def two_admins(transactional_db, dynamics_crm, org_admin):
    other = get_user_model().objects.create_user("omar", "omar@example.com", ADMIN_PASSWORD)
    other.groups.add(Group.objects.get(name="Organization administrators"))
    return [org_admin, other]


def pin_the_order(monkeypatch) -> None:
    """Both requests pass the check; the first one's trial stays uncommitted until the second one inserts."""
    both_checked = threading.Barrier(2, timeout=10)
    first_saved, second_inserting = threading.Event(), threading.Event()
    arrivals = []
    lock = threading.Lock()
    real_check, real_create = entitlements.check_can_start_trial, Trial.objects.create

    def check_then_wait(status):
        real_check(status)
        both_checked.wait()

    def create(**values):
        with lock:
            arrivals.append(threading.get_ident())
            first = len(arrivals) == 1
        if not first:
            assert first_saved.wait(10)
            second_inserting.set()
            return real_create(**values)  # waits for the first one's commit, then meets its trial
        trial = real_create(**values)
        first_saved.set()
        assert second_inserting.wait(10)
        time.sleep(0.3)  # the second request is now blocked on the write lock
        return trial

    monkeypatch.setattr(entitlements, "check_can_start_trial", check_then_wait)
    monkeypatch.setattr(Trial.objects, "create", create)


def test_the_admin_who_loses_the_race_is_told_the_trial_already_started(two_admins, monkeypatch):
    # PostgreSQL: both pass the check, the unique trial refuses the second. SQLite's immediate transactions take
    # the write lock when they begin, so the second waits for the first and its check already sees the trial.
    sqlite = db_connection.vendor == "sqlite"
    if not sqlite:
        pin_the_order(monkeypatch)
    together = threading.Barrier(2, timeout=10)
    pages = {}

    def click_start_trial(admin):
        try:
            if sqlite:
                together.wait()
            browser = Client(raise_request_exception=False)
            browser.force_login(admin)
            response = browser.post("/marketplace/dynamics-crm/trial/", follow=True)
            pages[admin.username] = (response.redirect_chain, response.status_code, response.content.decode())
        finally:
            db_connection.close()

    with time_machine.travel(T0, tick=False):
        threads = [threading.Thread(target=click_start_trial, args=(admin,)) for admin in two_admins]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert len(pages) == 2, pages.keys()
    outcomes = {}
    for name, (chain, status, page) in pages.items():
        assert status == 200 and chain and chain[0][1] == 302, (name, status, text_of(page)[:300])
        text = text_of(page)
        outcomes[name] = "started" if STARTED in text else "already" if ALREADY in text else text[:300]
    assert sorted(outcomes.values()) == ["already", "started"], outcomes
    winner = next(name for name, outcome in outcomes.items() if outcome == "started")
    trial = Trial.objects.get()
    assert trial.started_by.username == winner
    assert list(AuditEvent.objects.values_list("action", "actor_name")) == [("connector.trial_started", winner)]
