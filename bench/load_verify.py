"""Run by bench/load.py in `manage.py shell`: what the app acknowledged during the run and the database lacks.

Prints one JSON line: for each kind of write, how many acknowledged ones are missing (goal: all 0). Wrong
passwords count whatever the answer: one the lockout missed is a free guess.
"""

import json
import os

from axes.models import AccessAttempt, AccessLog
from django.db.models import Sum

from audit.models import Action, AuditEvent
from connections.models import Connection
from marketplace.models import Notification, Trial

expected = json.loads(open(os.environ["LOAD_EXPECTED"]).read())
names = dict(Connection.objects.values_list("pk", "name"))
wanted = {int(pk): name for pk, name in expected["names"].items()}


def failures(username: str) -> int:
    return AccessAttempt.objects.filter(username=username).aggregate(n=Sum("failures_since_start"))["n"] or 0


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


tested = set(expected["tested"])
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
    "TESTs unrecorded": Connection.objects.filter(pk__in=tested, last_tested_at__isnull=True).count()
    + max(0, len(expected["tested"]) - events(Action.CONNECTION_TESTED)),
    "audit events missing": max(0, expected["created"] - events(Action.CONNECTION_CREATED))
    + max(0, expected["edited"] - events(Action.CONNECTION_EDITED)),
    "trials not exactly one": abs(Trial.objects.count() - 1),
    "announcements not exactly once": abs(announcements - (expected["users"] - 1)) if announcements else 0,
}
print(json.dumps(lost))
