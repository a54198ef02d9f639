"""The tasks Huey's worker (`manage.py run_huey`) finds here: TESTs, their sweeper, the schedule, the pruning, the
credential expiry digest."""

from connections.background import (
    continue_schedule,
    credential_expiry_digest,
    end_stale_tests,
    prune_test_history,
    run_test,
    scheduled_tests,
)

__all__ = [
    "continue_schedule",
    "credential_expiry_digest",
    "end_stale_tests",
    "prune_test_history",
    "run_test",
    "scheduled_tests",
]
