"""The tasks Huey's worker (`manage.py run_huey`) finds here: TESTs, their sweeper, the schedule, the pruning, the
credential expiry digest, Check access and its sweeper."""

from connections.access_background import end_stale_access_checks, run_access_check
from connections.background import (
    continue_schedule,
    credential_expiry_digest,
    end_stale_tests,
    prune_test_history,
    run_test,
    scheduled_tests,
)

__all__ = [
    "end_stale_access_checks",
    "run_access_check",
    "continue_schedule",
    "credential_expiry_digest",
    "end_stale_tests",
    "prune_test_history",
    "run_test",
    "scheduled_tests",
]
