"""The tasks Huey's worker (`manage.py run_huey`) finds here: the background TEST, its sweeper, the pruning."""

from connections.background import end_stale_tests, prune_test_history, run_test

__all__ = ["end_stale_tests", "prune_test_history", "run_test"]
