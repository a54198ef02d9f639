"""The Connections page with 10, 1,000 and 100,000 connections: queries and time per case, on SQLite and PostgreSQL.

    .venv/bin/python bench/list_scale.py --write                # both databases, 10 / 1,000 / 100,000: ~10 minutes
    .venv/bin/python bench/list_scale.py --databases sqlite --sizes 10 1000 --runs 5   # a quick look

For each database and size, a fresh database (a temporary SQLite file, or a PostgreSQL database created for the run
and dropped after) and a process of its own (bench/list_scale_run.py: migrate, seed, measure). The goal: the same
number of queries at every size, and every case at most 3× its time at 10 connections. With --write the tables
replace the "Connections list at scale" section of bench/RESULTS.md. Not part of `make test`.
"""

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.list_scale_report import section  # noqa: E402
from bench.load import database  # noqa: E402
from bench.load_report import record  # noqa: E402

RESULTS_DIR = BASE_DIR / "bench" / "results"


def environment(database_url: str, folder: Path) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("DJANGO")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "gathr_connector.settings",
        "APP_ENV": "development",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": database_url,
        "CACHE_URL": "locmemcache://",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(folder),  # whitenoise warns when it is missing; the page's files come from the finders
    }


def run(kind: str, size: int, runs: int, explain: bool) -> dict:
    with tempfile.TemporaryDirectory() as folder, database(kind, Path(folder), "list-scale") as url:
        out = Path(folder) / "result.json"
        command = [sys.executable, "bench/list_scale_run.py", str(size), str(runs), str(out)]
        if explain:
            RESULTS_DIR.mkdir(exist_ok=True)
            plans = RESULTS_DIR / f"list-scale-explain-{kind}-{size}.txt"
            plans.unlink(missing_ok=True)
            command += ["--explain", str(plans)]
        subprocess.run(command, cwd=BASE_DIR, env=environment(url, Path(folder)), check=True)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10, 1000, 100_000])
    parser.add_argument("--runs", type=int, default=15, help="timed requests per case (the median is reported)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE into bench/results/ (PostgreSQL)")
    parser.add_argument("--write", action="store_true", help="replace the section of bench/RESULTS.md")
    args = parser.parse_args()
    results = {}
    for kind in args.databases:
        for size in args.sizes:
            print(f"{kind}, {size:,} connections …", file=sys.stderr, flush=True)
            results[(kind, size)] = run(kind, size, args.runs, args.explain and kind == "postgresql")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = section(results, args.databases, args.sizes, args.runs, machine)
    print(text)
    if args.write:
        record("scale", text, kind="list")


if __name__ == "__main__":
    main()
