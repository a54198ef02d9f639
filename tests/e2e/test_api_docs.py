"""In the browser: the REST API's docs (Swagger UI, vendored) render its operations under the strict Content Security
Policy, with no violation in the console, and "Try it out" lists the signed-in administrator's connections."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_render_every_operation_with_no_csp_violation(
    signed_in_page, live_server, make_connection, screenshot
):
    make_connection(name="Contoso from the docs")
    page = signed_in_page
    console, violations = [], []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate(
        "window.__violations = []; document.addEventListener('securitypolicyviolation',"
        " (event) => window.__violations.push(event.violatedDirective + ' ' + event.blockedURI))"
    )
    expect(page.get_by_role("heading", name="Gathr Dynamics CRM connector API")).to_be_visible()
    expect(page.locator(".opblock")).to_have_count(12)
    operation = page.locator("#operations-connections-connections_list")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("Contoso from the docs")
    violations = page.evaluate("window.__violations")
    screenshot("api-docs")
    blocked = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    assert blocked == [] and violations == [], (blocked, violations)
    assert not [line for line in console if line.startswith(("error", "pageerror"))], console
