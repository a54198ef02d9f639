"""Playwright with Debian's Chromium against pytest-django's live server."""

import os
from pathlib import Path

import pytest

from tests.helpers import in_ci

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, simulator):
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (install chromium or set CHROMIUM_PATH)"
        if in_ci():
            pytest.fail(message + ": browser tests must run in CI.")
        pytest.skip(message)
    # The browser reaches "login.microsoftonline.com" at the simulator, as the app does.
    resolver_rules = f"--host-resolver-rules=MAP login.microsoftonline.com 127.0.0.1:{simulator.port}"
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": [*CHROMIUM_ARGS, resolver_rules]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The simulator's certificate comes from the tests' own CA, which Chromium does not know.
    return {**browser_context_args, "ignore_https_errors": True}


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under test-artifacts/ (looked at by people, kept by CI)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def signed_in_page(page, live_server, admin_user):
    from tests.helpers import ADMIN_PASSWORD

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/connections/")
    return page
