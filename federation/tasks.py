"""The task Huey's worker finds here: the signing keys' hourly upkeep."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from federation import rotation


@db_periodic_task(crontab(minute="41"))
def signing_key_upkeep() -> None:
    """Every hour, on every worker: keys exist (the next one published long before it signs), a due rotation
    happens once (federation/rotation.py), retired keys past their publication are deleted."""
    rotation.maintain()
