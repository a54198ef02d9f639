"""Run by bench/list_scale.py, one process per database and size, DATABASE_URL set to a fresh database.

    python bench/list_scale_run.py SIZE RUNS OUT.json [--explain FILE]

Migrates, seeds SIZE connections (bench/list_scale_seed.py), ANALYZEs, starts the Premium connector's trial, then
renders the Connections page through Django's test Client for every case, as the administrator and as the plain
user: the queries of one request, then the median of RUNS more. It measures twice: with every migration, then
with connections migrated back to BEFORE_INDEXES (the indexes of the list dropped), analyzed again.
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathr_connector.settings")

import django  # noqa: E402

django.setup()

from django.core.cache import caches  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.urls import reverse  # noqa: E402

from bench.list_scale_seed import FEW, MANY, seed  # noqa: E402
from connections.views import SORTS  # noqa: E402
from marketplace import entitlements  # noqa: E402
from marketplace.models import Connector  # noqa: E402

# The last migration before the indexes of the list: measuring there is "before".
BEFORE_INDEXES = "0005_test_runs"
PLAIN_STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def cases() -> dict[str, dict]:
    """Each case's query string: the first page, every sort both ways, two searches, a late page and the last."""
    found = {"first page": {}}
    for key in SORTS:
        found[f"sort {key}"] = {"sort": key}
        found[f"sort -{key}"] = {"sort": f"-{key}"}
    found[f"search “{FEW.lower()}” (3 rows)"] = {"q": FEW.lower()}
    found[f"search “{MANY.lower()}” (many)"] = {"q": MANY.lower()}
    found["page 100"] = {"page": "100"}
    found["last page"] = {"page": "999999"}  # past the end: Paginator.get_page answers the last
    return found


def measure(client: Client, query: dict, runs: int) -> dict:
    url = reverse("connections:list")
    # The counted request reads the connector's state, as the first request of a second does (a page keeps it
    # for a second): the count is then the same whatever time the cases before it took.
    caches["process"].clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query)
    assert response.status_code == 200, response.status_code
    # Now: the next request's request_started signal empties the log the captured queries are read from.
    sql = [entry["sql"] for entry in captured.captured_queries]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url, query)
        times.append(time.perf_counter() - started)
    return {"queries": len(sql), "ms": statistics.median(times) * 1000, "sql": sql}


def explain(sql: list[str]) -> str:
    """EXPLAIN ANALYZE of the page's queries on the connections table (PostgreSQL)."""
    plans = []
    with connection.cursor() as cursor:
        for statement in sql:
            if "connections_connection" in statement:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
                plans.append(statement + "\n" + "\n".join(row[0] for row in cursor.fetchall()))
    return "\n\n".join(plans)


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def measure_all(people: dict, runs: int, explain_to: Path | None, variant: str) -> dict:
    results, plans = {}, []
    for role, person in people.items():
        client = Client()
        client.force_login(person)
        client.get(reverse("connections:list"))  # warm: templates compiled, connection open
        for case, query in cases().items():
            result = measure(client, query, runs)
            if explain_to and connection.vendor == "postgresql":
                plans.append(f"## {variant}, {role}, {case}\n\n{explain(result['sql'])}")
            results[f"{role}|{case}"] = {key: result[key] for key in ("queries", "ms")}
    if explain_to:
        with explain_to.open("a") as out:
            out.write("\n\n".join(plans) + "\n\n")
    return results


def main(size: int, runs: int, out: Path, explain_to: Path | None) -> None:
    call_command("migrate", verbosity=0, interactive=False)
    admin, plain = seed(size)
    entitlements.start_trial(Connector.objects.get(slug="dynamics-crm"), admin)
    people = {"administrator": admin, "plain user": plain}
    variants = {}
    with override_settings(STORAGES={**django.conf.settings.STORAGES, "staticfiles": PLAIN_STATIC}):
        analyze()
        variants["indexed"] = measure_all(people, runs, explain_to, "indexed")
        call_command("migrate", "connections", BEFORE_INDEXES, verbosity=0, interactive=False)
        analyze()
        variants["no list indexes"] = measure_all(people, runs, explain_to, "no list indexes")
    out.write_text(json.dumps({"vendor": connection.vendor, "size": size, "variants": variants}))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    explain_file = Path(arguments[arguments.index("--explain") + 1]) if "--explain" in arguments else None
    main(int(arguments[0]), int(arguments[1]), Path(arguments[2]), explain_file)
