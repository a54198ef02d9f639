"""CPU time of one Connections page request, in-process: no server, no network, no other client.

    .venv/bin/python bench/list_cpu.py                 # 50 connections, 12 TESTs each, 200 requests: about 10 s
    .venv/bin/python bench/list_cpu.py --requests 500 --tests 30 --profile

A fresh SQLite file in a temporary folder (bench/list_scale.py's environment), `migrate`, 50 connections of
bench/list_scale_seed.py each with `--tests` finished TESTs (mixed outcomes and times), the Premium connector's trial;
then the administrator's first page (25 rows) through Django's test Client, signed in with `force_login`, `--requests`
times after a warm-up. Reports the CPU time (`time.process_time`) and the wall time per request, mean and median.
A figure to compare before and after a change on the same machine; server_speed.py gives the one that counts.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def seed_tests(per_connection: int) -> None:
    import datetime as dt

    from bench.list_scale_seed import NOW
    from connections.models import Connection
    from connections.runs import RunSource, RunState, TestRun

    runs = []
    for connection in Connection.objects.only("pk", "crm_version"):
        for number in range(per_connection):
            when = NOW - dt.timedelta(hours=number * 7 + connection.pk % 5)
            ok = (number + connection.pk) % 4 != 0
            result = {"ok": ok, "step": "" if ok else "token", "code": "" if ok else "invalid_client"}
            result |= {"message": "", "hint": "", "details": "", "elapsed": 0.3 + (number % 6) * 0.2}
            runs.append(
                TestRun(
                    connection=connection,
                    source=RunSource.LIST,
                    state=RunState.FINISHED,
                    lock_key=f"connection:{connection.pk}",
                    crm_version=connection.crm_version,
                    auth_scheme="AzureServicePrincipal",
                    steps=[{"key": "token", "label": "Token from Entra ID", "status": "ok", "elapsed": 0.2}],
                    result=result,
                    created_at=when,
                    deadline=when,
                    finished_at=when,
                )
            )
    TestRun.objects.bulk_create(runs, batch_size=2000)


def measure(requests: int, tests: int, profile: bool, path: str = "") -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    from bench.list_scale_seed import seed
    from marketplace import entitlements
    from marketplace.models import Connector

    call_command("migrate", verbosity=0, interactive=False)
    admin, _ = seed(50)
    seed_tests(tests)
    entitlements.start_trial(Connector.objects.get(slug="dynamics-crm"), admin)
    plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**django.conf.settings.STORAGES, "staticfiles": plain_static}):
        client = Client()
        client.force_login(admin)
        url = path or reverse("connections:list")
        for _ in range(20):  # warm: templates compiled, the database connection open
            assert client.get(url).status_code == 200
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cpu, wall = [], []
        for _ in range(requests):
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            client.get(url)
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started_wall)
        if profiler:
            profiler.disable()
            profiler.print_stats(os.environ.get("PROFILE_SORT", "cumulative"))
    print(f"{requests} requests of {url} (25 of 50 connections, {tests} TESTs each):")
    print(f"  CPU  mean {statistics.mean(cpu) * 1000:.2f} ms, median {statistics.median(cpu) * 1000:.2f} ms")
    print(f"  wall mean {statistics.mean(wall) * 1000:.2f} ms, median {statistics.median(wall) * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--tests", type=int, default=12, help="finished TESTs per connection")
    parser.add_argument("--profile", action="store_true", help="print cProfile's statistics of the timed requests")
    parser.add_argument("--path", default="", help="another page to measure, e.g. /api/v1/connections/?page_size=25")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args.requests, args.tests, args.profile, args.path)
        return
    from bench.list_scale import environment

    with tempfile.TemporaryDirectory() as folder:
        env = environment(f"sqlite:///{Path(folder) / 'list-cpu.sqlite3'}", Path(folder))
        command = [sys.executable, __file__, "--child", "--requests", str(args.requests), "--tests", str(args.tests)]
        command += ["--path", args.path] if args.path else []
        subprocess.run(command + (["--profile"] if args.profile else []), cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathr_connector.settings")
    main()
