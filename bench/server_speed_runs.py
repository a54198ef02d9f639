"""Run by bench/server_speed.py in `manage.py shell`: the worker's side of the TESTs a minute, from the TestRun rows.

Prints one JSON line about the TESTs of the connections in SPEED_PKS that finished between SPEED_FROM and
SPEED_UNTIL (Unix times): how many, how long each ran on the worker, how long each waited in the queue, and the
worker's threads' busy share (near 1: the worker, not the clients, set the pace).
"""

import json
import os
import statistics
from datetime import UTC, datetime

from django.conf import settings

from connections.runs import TestRun

window = [datetime.fromtimestamp(float(os.environ[name]), tz=UTC) for name in ("SPEED_FROM", "SPEED_UNTIL")]
runs = TestRun.objects.filter(connection_id__in=json.loads(os.environ["SPEED_PKS"]), finished_at__range=window)
times = list(runs.values_list("created_at", "started_at", "finished_at"))
ran = [(finished - started).total_seconds() for _, started, finished in times if started]
waited = [(started - created).total_seconds() for created, started, _ in times if started]
seconds = (window[1] - window[0]).total_seconds()
print(
    json.dumps(
        {
            "finished": len(times),
            "run_p50": statistics.median(ran) * 1000 if ran else 0,
            "wait_p50": statistics.median(waited) * 1000 if waited else 0,
            "busy": sum(ran) / (settings.TEST_WORKERS * seconds),
            "threads": settings.TEST_WORKERS,
        }
    )
)
