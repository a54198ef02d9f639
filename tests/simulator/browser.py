"""A tiny requests-based "browser" for the simulator's sign-in page (no JavaScript needed).

    answer = sign_in(flow["auth_uri"], "maria@contoso.onmicrosoft.com")
    result = app.acquire_token_by_auth_code_flow(flow, answer.params)

``sign_in`` GETs the page, submits its form the way a browser would (the form's
own ``action``, ``loginfmt`` and the pressed button's ``action`` value) and
reads the answer: a 302 (``response_mode`` query or fragment), the form_post
page, Entra's error page, or the sign-in page again (wrong account).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

TIMEOUT = 5


@dataclass
class SignInAnswer:
    status: int
    params: dict[str, str] = field(default_factory=dict)  # what the app's redirect URI receives
    location: str | None = None  # the redirect URI (302 Location, or the form_post target)
    html: str = ""  # the page shown instead, when there is no answer for the app

    @property
    def error_message(self) -> str | None:
        """``AADSTSnnnn: ...`` from Entra's error page, or the alert of the sign-in page."""
        match = re.search(r'id="(?:errorMessage|usernameError)"[^>]*>(.*?)</(?:p|div)>', self.html, re.S)
        return unescape(re.sub(r"<[^>]+>", " ", match[1])).strip() if match else None


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action") or ""
        if tag == "input" and values.get("type") == "hidden":
            self.hidden.append((values.get("name") or "", values.get("value") or ""))


def _parse(html: str) -> _Forms:
    forms = _Forms()
    forms.feed(html)
    return forms


def open_page(auth_uri: str, session: requests.Session | None = None) -> requests.Response:
    return (session or requests).get(auth_uri, allow_redirects=False, timeout=TIMEOUT)


def sign_in(auth_uri: str, upn: str, *, cancel: bool = False, session: requests.Session | None = None) -> SignInAnswer:
    """Open ``auth_uri``, type ``upn`` and press "Sign in" (or "Cancel")."""
    http = session or requests
    page = open_page(auth_uri, session)
    if page.status_code != 200 or 'name="loginfmt"' not in page.text:
        return _read(page)
    action = urljoin(auth_uri, _parse(page.text).action or "")
    data = {"loginfmt": upn, "action": "cancel" if cancel else "signin"}
    return _read(http.post(action, data=data, allow_redirects=False, timeout=TIMEOUT))


def _read(response: requests.Response) -> SignInAnswer:
    if response.status_code in (301, 302, 303):
        location = response.headers["Location"]
        parts = urlsplit(location)
        params = dict(parse_qsl(parts.fragment or parts.query, keep_blank_values=True))
        return SignInAnswer(response.status_code, params, location)
    if 'name="hiddenform"' in response.text:  # response_mode=form_post
        forms = _parse(response.text)
        return SignInAnswer(response.status_code, dict(forms.hidden), forms.action)
    return SignInAnswer(response.status_code, html=response.text)
