"""Scan the running app with wapiti3, signed in, and summarize its findings in bench/SCAN.md.

    .venv/bin/python bench/scan.py --label before     # see bench/README.md to install wapiti3 first

Starts the app for real in a temporary folder (SQLite, migrate, a superuser, collectstatic, a few connections
and a subscription), serves it with gunicorn on a free port of 127.0.0.1 (APP_ENV=development, DEBUG=false),
signs in with requests and hands the session cookie to wapiti. The JSON report goes to bench/results/wapiti/
(ignored by git); the counts by category replace this label's section of bench/SCAN.md. Not part of `make test`.

Nothing leaves this machine: wapiti's out-of-band endpoints point at a closed local port, the modules that
need the internet (ssrf, xxe, log4shell, spring4shell, takeover, nikto, wapp...) are off, and the app runs with its
outbound guard shut (bench/scan_wsgi.py).
"""

import argparse
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests
import trustme
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results" / "wapiti"
SCAN_MD = BASE_DIR / "bench" / "SCAN.md"
WAPITI = BASE_DIR / ".local" / "wapiti" / "bin" / "wapiti"
ADMIN = ("scan-admin", secrets.token_urlsafe(18))
# Every module but those that reach the internet (out-of-band endpoints, or databases they download: nikto,
# wapp, cms, htp), lock accounts (brute_login_form), brute-force paths for long (buster), need TLS (ssl: the
# scan is plain HTTP on loopback), sleep per payload (timesql) or look for other stacks (printers, Java...).
MODULES = (
    "all,-ssrf,-xxe,-log4shell,-spring4shell,-takeover,-wapp,-cms,-wp_enum,-nikto,-htp,-network_device,-printer,"
    "-brute_login_form,-buster,-ssl,-timesql"
)
CLOSED = "http://127.0.0.1:9/"  # the discard port: wapiti's out-of-band endpoint, never answering
SEED = """
import uuid
from django.contrib.auth import get_user_model
from connections.models import Connection
from marketplace.models import Connector, Subscription

admin = get_user_model().objects.get(username="scan-admin")
get_user_model().objects.create_user("scan-user", "user@example.com", "scan-user-password-42")
Subscription.objects.create(connector=Connector.objects.get(slug="dynamics-crm"), billing_day=1)
for name, scheme in [("Contoso Sales", "AzureServicePrincipal"), ("Fabrikam", "AzureServicePrincipal"),
                     ("Contoso Delegated", "AzureAD")]:
    connection = Connection(name=name, client_id=str(uuid.uuid4()), url="https://contoso.crm.dynamics.com/",
                            azure_tenant="contoso.onmicrosoft.com", auth_scheme=scheme, owner=admin)
    connection.set_client_secret("scan-secret-" + uuid.uuid4().hex)
    connection.save()
"""


def environment(folder: Path, args) -> dict:
    """The app's settings for the scan; no proxy variables: the app's requests stay here."""
    keep = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "gathr_connector.settings",
        "APP_ENV": "production" if args.production else "development",
        "EMAIL_URL": "consolemail://",
        "DEBUG": "false",
        "DATABASE_URL": f"sqlite:///{folder / 'scan.sqlite3'}",
        "STATIC_ROOT": str(folder / "static"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SUPERUSER_USERNAME": ADMIN[0],
        "DJANGO_SUPERUSER_PASSWORD": ADMIN[1],
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
    }


def prepare(env: dict) -> None:
    manage = [sys.executable, "manage.py"]
    for command in (
        ["migrate", "--noinput", "--verbosity", "0"],
        ["createsuperuser", "--noinput"],
        ["collectstatic", "--noinput", "--verbosity", "0"],
        ["shell", "--command", SEED],
    ):
        subprocess.run([*manage, *command], cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path, Path]:
    """A certificate for https://127.0.0.1 (the --production scan): its chain, its key and the CA to trust."""
    authority = trustme.CA(organization_name="Gathr scan")
    issued = authority.issue_cert("127.0.0.1")
    paths = folder / "tls-chain.pem", folder / "tls-key.pem", folder / "tls-ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(paths[0]))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(paths[0]), append=True)
    issued.private_key_pem.write_to_path(str(paths[1]))
    authority.cert_pem.write_to_path(str(paths[2]))
    return paths


def serve(env: dict, root: str, log: Path, tls: tuple[Path, Path, Path] | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "bench.scan_wsgi:application", "--bind", root.split("//")[1]]
    command += ["--workers", "2", "--threads", "4", "--worker-class", "gthread", "--timeout", "60"]
    if tls:
        command += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{root}/accounts/login/", timeout=2, verify=str(tls[2]) if tls else True)
            return server
        except requests.ConnectionError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"gunicorn did not start: see {log}")


def sign_in(root: str, tls: tuple[Path, Path, Path] | None) -> str:
    """The cookies of a signed-in admin, as wapiti's --cookie-value takes them."""
    browser = requests.Session()
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE would win over `verify`, and proxies would apply
    browser.verify = str(tls[2]) if tls else True
    page = browser.get(f"{root}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    data = {"username": ADMIN[0], "password": ADMIN[1], "csrfmiddlewaretoken": token}
    headers = {"Referer": f"{root}/accounts/login/"}  # Django checks it on HTTPS
    signed_in = browser.post(f"{root}/accounts/login/", data, headers=headers, timeout=10, allow_redirects=False)
    if signed_in.status_code != 302 or "sessionid" not in browser.cookies:
        raise SystemExit(f"could not sign in: HTTP {signed_in.status_code}")
    return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


def scan(args, root: str, cookies: str, report: Path, folder: Path, log: Path) -> None:
    # Signing out would end the scan's session; the admin's password and user pages, and deleting, would end
    # the admin or the data. The admin's filter and sort permutations (query strings) are thousands of pages.
    excluded = ["/accounts/logout/", "/admin/logout/", "/admin/password_change/*", "/admin/auth/*", "*/delete/*"]
    excluded.append("/admin/*?*")
    command = [str(args.wapiti), "-u", f"{root}/", "--scope", "folder", "-m", args.modules, "-C", cookies]
    command += [arg for path in excluded for arg in ("-x", root + path)]
    command += ["--flush-session", "--store-session", str(folder / "session"), "--store-config", str(folder)]
    command += ["--max-scan-time", str(args.max_scan_time), "--max-attack-time", str(args.max_attack_time)]
    # Only ssrf and xxe (off) ask the internal endpoint; the external one only appears inside payloads.
    command += ["--external-endpoint", CLOSED, "--dns-endpoint", "localhost"]
    command += ["--no-bugreport", "-f", "json", "-o", str(report), "-d", "4", "--tasks", "8"]
    with log.open("w") as output:
        subprocess.run(command, cwd=folder, check=True, stdout=output, stderr=subprocess.STDOUT)


def counts(report: Path) -> dict[str, Counter]:
    """Findings by kind (vulnerabilities, anomalies, additionals) and category; empty categories left out."""
    data = json.loads(report.read_text())
    return {
        kind: Counter({category: len(found) for category, found in data.get(kind, {}).items() if found})
        for kind in ("vulnerabilities", "anomalies", "additionals")
    }


def section(label: str, found: dict[str, Counter], report: Path, args) -> str:
    lines = [f"<!-- scan:{label}:begin -->", f"### Scan “{label}” ({time.strftime('%Y-%m-%d %H:%M')})", ""]
    served = "settings"
    mode = "APP_ENV=production over HTTPS" if args.production else "APP_ENV=development over HTTP"
    lines.append(f"Served: gathr_connector.{served}, {mode}, DEBUG=false. ")
    lines[-1] += f"Report: `{report.relative_to(BASE_DIR)}`; modules `{args.modules}`; "
    lines[-1] += f"crawl at most {args.max_scan_time:g} s, then at most {args.max_attack_time:g} s per module."
    lines += ["", "| Kind | Category | Findings |", "|---|---|---|"]
    for kind, categories in found.items():
        lines += [f"| {kind} | {category} | {count} |" for category, count in sorted(categories.items())]
        if not categories:
            lines.append(f"| {kind} | (none) | 0 |")
    total = sum(sum(categories.values()) for categories in found.values())
    lines += ["", f"Total: **{total}**.", f"<!-- scan:{label}:end -->"]
    return "\n".join(lines)


def record(label: str, text: str) -> None:
    """Replace this label's section of SCAN.md (or add it at the end); the rest of the file is left as written."""
    current = SCAN_MD.read_text() if SCAN_MD.exists() else "# Security scan (wapiti3)\n"
    pattern = re.compile(rf"<!-- scan:{re.escape(label)}:begin -->.*?<!-- scan:{re.escape(label)}:end -->", re.S)
    updated = pattern.sub(lambda _: text, current) if pattern.search(current) else current.rstrip() + "\n\n" + text
    SCAN_MD.write_text(updated.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="latest", help="the section of SCAN.md to write, e.g. before or after")
    parser.add_argument("--wapiti", type=Path, default=WAPITI)
    parser.add_argument("--modules", default=MODULES)
    parser.add_argument("--production", action="store_true", help="APP_ENV=production, over HTTPS (self-signed)")
    parser.add_argument("--max-scan-time", type=float, default=120, help="seconds for the crawl")
    parser.add_argument("--max-attack-time", type=float, default=30, help="seconds per attack module")
    args = parser.parse_args()
    if not args.wapiti.exists():
        raise SystemExit(f"{args.wapiti} is missing: install wapiti3 as bench/README.md says.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = RESULTS / f"scan-{args.label}.json"
    with tempfile.TemporaryDirectory(prefix="gathr-scan-") as tmp:
        folder = Path(tmp)
        env = environment(folder, args)
        prepare(env)
        tls = self_signed(folder) if args.production else None
        root = f"{'https' if tls else 'http'}://127.0.0.1:{free_port()}"
        server = serve(env, root, RESULTS / f"gunicorn-{args.label}.log", tls)
        try:
            scan(args, root, sign_in(root, tls), report, folder, RESULTS / f"wapiti-{args.label}.log")
        finally:
            server.terminate()
            server.wait(timeout=30)
    found = counts(report)
    record(args.label, section(args.label, found, report, args))
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
