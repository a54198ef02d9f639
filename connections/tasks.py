"""The tasks Huey's worker (`manage.py run_huey`) finds here: the background TEST, its sweeper, the pruning, the
credential expiry digest."""

from connections.background import credential_expiry_digest, end_stale_tests, prune_test_history, run_test

__all__ = ["credential_expiry_digest", "end_stale_tests", "prune_test_history", "run_test"]
