"""TEST in the browser with a real worker: the page answers at once, shows the steps as they finish, then the
result; without JavaScript the TEST's page refreshes itself and brings the form back with what was typed."""

import signal

import pytest
from huey.contrib.djhuey import HUEY
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path, tasks_run_inline):
    """Huey's consumer, two worker threads, in this process (it shares the tests' hosts mapping to the simulator)."""
    kept_storage, handlers = (
        dict(HUEY.storage_kwargs),
        {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)},
    )
    HUEY.storage_kwargs = {**kept_storage, "filename": str(tmp_path / "tasks.sqlite3")}
    HUEY.immediate = False
    consumer = HUEY.create_consumer(workers=2, worker_type="thread", periodic=False, initial_delay=0.05, max_delay=0.1)
    consumer.start()
    yield consumer
    consumer.stop(graceful=True)
    for number, handler in handlers.items():
        signal.signal(number, handler)
    HUEY.immediate = True
    HUEY.storage_kwargs = kept_storage


def fill(page, microsoft) -> None:
    page.get_by_label("Connection Name").fill("Contoso Sales")
    page.get_by_label("Client ID").fill(microsoft.app.client_id)
    page.get_by_label("Client Secret").fill(microsoft.secret.value)
    page.get_by_label("URL").fill(microsoft.env.url)
    page.get_by_label("AzureTenant").fill(microsoft.tenant.tenant_id)


def test_the_page_shows_the_steps_as_the_worker_finishes_them(
    signed_in_page, live_server, microsoft, worker, screenshot
):
    microsoft.sim.set_delay(1.5, path="/api/data/v9.2/WhoAmI")  # a slow Dataverse: the steps show one by one
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/new/")
    fill(page, microsoft)
    page.get_by_role("button", name="TEST").click()
    progress = page.locator("#test-result")
    expect(progress).to_contain_text("TEST running")
    # WhoAmI is still waiting; RetrieveVersion went out beside it and may be done already.
    expect(progress.locator(".test-step-running").filter(has_text="Dataverse WhoAmI")).to_be_visible()
    expect(progress.locator(".test-step-ok")).to_contain_text(["Outbound check", "Token from Entra ID"])
    screenshot("background-test-running")
    expect(progress.locator(".test-result")).to_contain_text("Connection available", timeout=15000)
    expect(page.get_by_label("Client Secret")).to_have_value(microsoft.secret.value)
    screenshot("background-test-available")


def test_without_javascript_the_test_page_refreshes_until_the_form_comes_back(
    browser, live_server, admin_user, microsoft, worker
):
    from tests.e2e.conftest import ARTIFACTS
    from tests.helpers import ADMIN_PASSWORD

    def screenshot(name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    context = browser.new_context(java_script_enabled=False, ignore_https_errors=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    microsoft.sim.set_delay(2.0, path="/api/data/v9.2/WhoAmI")
    page.goto(f"{live_server.url}/connections/new/")
    fill(page, microsoft)
    page.get_by_role("button", name="TEST").click()
    expect(page.get_by_role("heading", name="TEST")).to_be_visible()
    expect(page.locator("body")).to_contain_text("refreshes itself")
    screenshot("background-test-no-js-running")
    expect(page.locator("#test-result")).to_contain_text("Connection available", timeout=15000)
    expect(page.get_by_label("Connection Name")).to_have_value("Contoso Sales")
    expect(page.get_by_label("Client Secret")).to_have_value("")
    screenshot("background-test-no-js-available")
    context.close()


def test_test_on_the_connections_list_tests_that_row_s_connection(
    signed_in_page, live_server, microsoft, worker, make_connection, screenshot
):
    # Every row's TEST button submits the page's one form to its own connection's address.
    make_connection(name="Contoso Archive", url="https://archive.crm.dynamics.com/")
    make_connection(
        name="Contoso Sales",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
    )
    page = signed_in_page
    page.goto(f"{live_server.url}/connections/")
    page.get_by_role("button", name="TEST Contoso Sales").click()
    expect(page.get_by_role("heading", name="TEST")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Connection available", timeout=15000)
    expect(page.locator("body")).to_contain_text("Contoso Sales")
    screenshot("list-test-available")
    page.goto(f"{live_server.url}/connections/")
    row = page.get_by_role("row").filter(has_text="Contoso Sales")
    expect(row).to_contain_text("Available")
    expect(page.get_by_role("row").filter(has_text="Contoso Archive")).to_contain_text("Never tested")
