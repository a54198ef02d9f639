"""The tasks Huey's worker (`manage.py run_huey`) finds here: the background TEST and its sweeper."""

from connections.background import end_stale_tests, run_test

__all__ = ["end_stale_tests", "run_test"]
