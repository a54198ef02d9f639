"""Run by bench/load.py in `manage.py shell`: what the app acknowledged during the run and the database lacks.

Prints one JSON line: for each kind of write, how many acknowledged ones are missing (goal: all 0). Wrong
passwords count whatever the answer: one the lockout missed is a free guess. Every acknowledged TEST (its POST
answered with a run id) must have finished exactly once on the worker: its TestRun row finished with a result, a
saved TEST's outcome on its connection, and one audit event per TEST.
"""

import json
import os
from collections import Counter
from datetime import datetime

from axes.models import AccessAttempt, AccessLog
from django.db.models import Sum

from audit.models import Action, AuditEvent
from connections.models import Connection, TestStatus
from connections.runs import RunState, TestRun
from marketplace.models import Notification, Trial

expected = json.loads(open(os.environ["LOAD_EXPECTED"]).read())
names = dict(Connection.objects.values_list("pk", "name"))
wanted = {int(pk): name for pk, name in expected["names"].items()}


def failures(username: str) -> int:
    return AccessAttempt.objects.filter(username=username).aggregate(n=Sum("failures_since_start"))["n"] or 0


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def tests_unfinished(tests: list[dict]) -> int:
    runs = TestRun.objects.filter(pk__in=[test["id"] for test in tests], state=RunState.FINISHED)
    return len(tests) - runs.exclude(result=None).exclude(finished_at=None).count()


def tests_unrecorded(tests: list[dict]) -> int:
    """Saved TESTs whose connection does not show its last one (its time and an outcome)."""
    last = {}
    for run in TestRun.objects.filter(pk__in=[test["id"] for test in tests if test["saved"]]).exclude(result=None):
        finished = datetime.fromisoformat(run.result["finished_at"])
        last[run.connection_id] = max(last.get(run.connection_id, finished), finished)
    shown = Connection.objects.filter(pk__in={test["pk"] for test in tests if test["saved"]})
    return sum(
        connection.last_test_status == TestStatus.NEVER or connection.last_tested_at != last.get(connection.pk)
        for connection in shown
    )


def test_events_not_one_each(tests: list[dict]) -> int:
    """Per connection, how far the TEST audit events are from one per acknowledged TEST."""
    wanted = Counter(str(test["pk"]) for test in tests)
    found = Counter(AuditEvent.objects.filter(action=Action.CONNECTION_TESTED).values_list("target_id", flat=True))
    return sum(abs(found[pk] - wanted[pk]) for pk in wanted.keys() | found.keys())


announcements = Notification.objects.filter(text__contains="is available").count()
lost = {
    "connections missing": sum(pk not in names for pk in wanted),
    "edits missing": sum(pk in names and names[pk] != name for pk, name in wanted.items()),
    "wrong passwords the lockout missed": sum(
        max(0, n - failures(user)) for user, n in expected["wrong_passwords"].items()
    ),
    "sign-ins unlogged": sum(
        max(0, n - AccessLog.objects.filter(username=user).count()) for user, n in expected["sign_ins"].items()
    ),
    "TESTs unfinished": tests_unfinished(expected["tests"]),
    "TESTs not on their connection": tests_unrecorded(expected["tests"]),
    "TEST audit events not one each": test_events_not_one_each(expected["tests"]),
    "audit events missing": max(0, expected["created"] - events(Action.CONNECTION_CREATED))
    + max(0, expected["edited"] - events(Action.CONNECTION_EDITED)),
    "trials not exactly one": abs(Trial.objects.count() - 1),
    "announcements not exactly once": abs(announcements - (expected["users"] - 1)) if announcements else 0,
}
print(json.dumps(lost))
