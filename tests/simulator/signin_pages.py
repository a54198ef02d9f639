"""The HTML the authorize endpoint shows: the sign-in page, its error page, form_post.

Plain HTML with one inline ``<style>``; nothing is loaded from elsewhere. Names
a browser test can rely on (Playwright ``get_by_label`` / ``get_by_role``):

* title "Sign in to your account", heading "Sign in", "to continue to {app}";
* text field labelled "Email, phone, or Skype" (``name="loginfmt"``, ``id="i0116"``);
* buttons "Sign in" (``value="signin"``, the default on Enter) and "Cancel";
* a wrong account shows an alert (role ``alert``, ``id="usernameError"``).

The error page has heading "Sorry, but we're having trouble signing you in."
and the ``AADSTSnnnnn: ...`` message in an element with ``id="errorMessage"``.
"""

from __future__ import annotations

from html import escape

from .messages import Response

HTML = "text/html; charset=utf-8"
NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", "X-Frame-Options": "DENY"}

_STYLE = """
body{margin:0;background:#f2f2f2;font-family:"Segoe UI",Helvetica,Arial,sans-serif;color:#1b1b1b}
main{box-sizing:border-box;width:440px;max-width:calc(100% - 40px);margin:8vh auto;padding:44px;
background:#fff;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.logo{font-weight:600;color:#737373;font-size:1.1rem;margin-bottom:16px}
h1{font-size:1.5rem;font-weight:600;margin:0 0 4px}
.app{margin:0 0 16px}
label{display:block;margin:12px 0 4px}
input[type=email],input[type=text]{width:100%;box-sizing:border-box;border:0;border-bottom:1px solid #666;
padding:6px 0;font-size:1rem;outline-offset:2px}
.error{color:#e81123;margin:8px 0}
.buttons{display:flex;flex-direction:row-reverse;gap:8px;margin-top:24px}
button{min-width:108px;padding:6px 12px;font-size:.95rem;border:0;cursor:pointer}
.primary{background:#0067b8;color:#fff}.secondary{background:#ccc;color:#000}
.accounts{margin-top:28px;font-size:.85rem;color:#444}.accounts h2{font-size:.9rem;margin:0 0 4px}
.details{font-size:.8rem;color:#444;word-break:break-all}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><div class="logo" aria-hidden="true">Microsoft</div>{body}</main></body></html>'
    )


def sign_in_page(
    *,
    action: str,
    app_name: str,
    login_hint: str,
    accounts: list[tuple[str, str]],
    directory_name: str,
    error: str | None = None,
    error_code: str | None = None,
) -> Response:
    """The account page; ``accounts`` is (upn, display name) for the hint list at the bottom."""
    alert = ""
    if error:
        detail = f'<div class="details">{escape(error_code)}</div>' if error_code else ""
        alert = f'<div id="usernameError" class="error" role="alert">{escape(error)}{detail}</div>'
    invalid = ' aria-invalid="true" aria-describedby="usernameError"' if error else ""
    listed = "".join(f"<li>{escape(upn)} ({escape(name)})</li>" for upn, name in accounts)
    hint_list = (
        f'<section class="accounts" aria-labelledby="accountsHeading"><h2 id="accountsHeading">'
        f"Accounts in {escape(directory_name)} (simulator)</h2><ul>{listed}</ul></section>"
        if accounts
        else ""
    )
    body = (
        f'<h1 id="loginHeader">Sign in</h1><p class="app">to continue to <strong>{escape(app_name)}</strong></p>'
        f'{alert}<form method="post" action="{escape(action)}" novalidate>'
        '<label for="i0116">Email, phone, or Skype</label>'
        f'<input type="email" id="i0116" name="loginfmt" value="{escape(login_hint)}" '
        f'autocomplete="username" autofocus{invalid}>'
        '<div class="buttons">'
        '<button type="submit" id="idSIButton9" class="primary" name="action" value="signin">Sign in</button>'
        '<button type="submit" id="idBtn_Back" class="secondary" name="action" value="cancel">Cancel</button>'
        f"</div></form>{hint_list}"
    )
    return Response(200, {"Content-Type": HTML, **NO_STORE}, _page("Sign in to your account", body).encode())


def error_page(*, message: str, trace_id: str, correlation_id: str, timestamp: str, status: int = 400) -> Response:
    """Entra's own error page, for requests it cannot redirect back (bad tenant, app, redirect URI)."""
    body = (
        "<h1>Sorry, but we&#39;re having trouble signing you in.</h1>"
        f'<p id="errorMessage" role="alert">{escape(message)}</p>'
        '<section class="details" aria-label="Troubleshooting details"><h2>Troubleshooting details</h2>'
        f"<p>Request Id: {escape(trace_id)}<br>Correlation Id: {escape(correlation_id)}<br>"
        f"Timestamp: {escape(timestamp)}<br>Message: {escape(message)}</p></section>"
    )
    return Response(status, {"Content-Type": HTML, **NO_STORE}, _page("Sign in to your account", body).encode())


def form_post_page(redirect_uri: str, params: list[tuple[str, str]]) -> Response:
    """``response_mode=form_post``: a form that posts the answer to the app."""
    fields = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params)
    page = (
        "<html><head><title>Working...</title></head><body>"
        f'<form method="POST" name="hiddenform" action="{escape(redirect_uri)}">{fields}'
        '<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>'
        "</form><script>document.forms[0].submit();</script></body></html>"
    )
    return Response(200, {"Content-Type": HTML, **NO_STORE}, page.encode())
