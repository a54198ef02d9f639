"""Many people at once on the embedded database: everyone waits their turn, nobody gets a 503, nothing is lost.

SQLite serializes writers. Its default deferred transaction reads first and cannot wait when it then needs the
write lock: it fails at once with "database is locked". django-axes counting a wrong password is such a
transaction, so without `transaction_mode="IMMEDIATE"` most of these sign-ins get 503 and go uncounted.
"""

import threading

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection, connections
from django.test import Client

PEOPLE = 16
WRONG_PASSWORD = "not the password at all"
LOCKED_OUT = 429


def at_once(count: int, action) -> list:
    """Run `action` in `count` threads released together; their answers, in no particular order."""
    start = threading.Barrier(count, timeout=30)
    answers = []

    def run():
        try:
            browser = Client()
            start.wait()
            answers.append(action(browser))
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.mark.django_db(transaction=True)
def test_sixteen_wrong_passwords_at_once_are_all_counted_and_lock_the_account(user, fast_password_hashing):
    def wrong_password(browser):
        return browser.post("/accounts/login/", {"username": user.username, "password": WRONG_PASSWORD}).status_code

    answers = sorted(at_once(PEOPLE, wrong_password))
    assert len(answers) == PEOPLE
    assert 503 not in answers, answers
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == PEOPLE
    # At most the failures before the limit are answered "wrong password"; the rest find the account locked.
    assert answers.count(200) <= settings.AXES_FAILURE_LIMIT - 1, answers
    assert set(answers) <= {200, LOCKED_OUT}, answers


@pytest.mark.django_db
def test_the_embedded_database_lets_readers_read_while_one_writes_and_waits_for_locks():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's own settings")
    with connection.cursor() as cursor:
        journal_mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        busy_timeout_ms = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
    assert journal_mode == "wal"
    assert busy_timeout_ms == settings.DATABASES["default"]["OPTIONS"]["timeout"] * 1000 == 20_000
