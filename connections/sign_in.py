"""Views of the AzureAD sign-in: start it, take Microsoft's answer at the callback, sign out.

The flow msal prepares (PKCE verifier, state, nonce) stays in the signed-in user's session, keyed by
its state and bound to one connection; the callback accepts each state once, within ten minutes.
"""

import json
import time

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from audit import trail
from audit.models import Action
from connections import access, azure_ad, crypto
from connections.callback_url import default_callback_url
from connections.dynamics.errors import CheckError
from connections.models import AuthScheme, Connection

SESSION_KEY = "microsoft_sign_in_flows"
FLOW_LIFETIME = 600  # seconds
MAX_PENDING_FLOWS = 5
ANSWER_FIELDS = ("code", "state", "session_state", "error", "error_description", "error_subcode", "error_uri")


@require_POST
def sign_in(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk, Connection.objects.filter(auth_scheme=AuthScheme.AZURE_AD))
    redirect_uri = connection.callback_url or default_callback_url(request)
    try:
        flow = azure_ad.start_sign_in(connection, redirect_uri)
    except CheckError as error:
        messages.error(request, f"Sign in with Microsoft could not start: {error.message} {error.hint}")
        return redirect(connection)
    _remember(request, flow, connection)
    return HttpResponseRedirect(flow["auth_uri"])


@csrf_exempt  # Entra's form_post comes from login.microsoftonline.com; state and PKCE protect it
@login_not_required  # ...and, cross-site, without our Lax session cookie: see below
@require_http_methods(["GET", "POST"])
def oauth_callback(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # Hand the answer to a same-site GET, which carries the session that holds the flow.
        answer = {key: value[:4096] for key, value in request.POST.items() if key in ANSWER_FIELDS}
        sealed = crypto.encrypt(json.dumps(answer))
        return HttpResponseRedirect(f"{reverse('connections:oauth_callback')}?answer={sealed}", status=303)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    response = _answer(request)
    pending = _take(request, response.get("state", "")) if response else None
    if pending is None:
        return render(request, "connections/sign_in_failed.html", status=400)
    connection = access.manageable_or_403(request.user, pending["connection"])
    try:
        signed_in = azure_ad.finish_sign_in(connection, pending["flow"], response)
    except CheckError as error:
        messages.error(request, f"Sign in with Microsoft failed: {error.message} {error.hint}")
        return redirect(connection)
    who = f"{signed_in.name} ({signed_in.username})" if signed_in.name else signed_in.username
    trail.record(request.user, Action.MICROSOFT_SIGNED_IN, connection, detail=signed_in.username)
    messages.success(request, f"Signed in to Microsoft as {who}. TEST now uses this sign-in.")
    return redirect(connection)


@require_POST
def sign_out(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk)
    azure_ad.sign_out(connection)
    trail.record(request.user, Action.MICROSOFT_SIGNED_OUT, connection)
    messages.success(request, "Signed out: the stored Microsoft tokens of this connection were deleted.")
    return redirect(connection)


def _answer(request: HttpRequest) -> dict | None:
    """Microsoft's answer: sealed by our form_post hand-over (minutes old at most), or a plain query."""
    sealed = request.GET.get("answer")
    if sealed is None:
        return {key: value for key, value in request.GET.items() if key in ANSWER_FIELDS}
    try:
        return json.loads(crypto.decrypt(sealed, ttl=FLOW_LIFETIME))
    except (crypto.SecretDecryptionError, ValueError):
        return None


def _remember(request: HttpRequest, flow: dict, connection: Connection) -> None:
    now = time.time()
    flows = {
        state: entry
        for state, entry in request.session.get(SESSION_KEY, {}).items()
        if now - entry["started"] < FLOW_LIFETIME
    }
    flows[flow["state"]] = {"flow": flow, "connection": connection.pk, "started": now}
    newest = sorted(flows.items(), key=lambda item: item[1]["started"])[-MAX_PENDING_FLOWS:]
    request.session[SESSION_KEY] = dict(newest)


def _take(request: HttpRequest, state: str) -> dict | None:
    """The pending flow for this state, removed so that it cannot be replayed; None if unknown or stale."""
    flows = request.session.get(SESSION_KEY, {})
    entry = flows.pop(state, None) if state else None
    request.session[SESSION_KEY] = flows
    if entry is None or time.time() - entry["started"] >= FLOW_LIFETIME:
        return None
    return entry
