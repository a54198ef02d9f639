"""The Credentials panel's buttons: add a new secret or certificate, TEST it, promote it, discard one. Each is a POST
(CSRF) by the owner or an administrator, answered with a message on the connection page."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from connections import access, history, rotation, run_views, views
from connections.credential_slots import SlotRole
from connections.rotation_forms import SENSITIVE_FIELDS, NewCredentialForm
from gathr_connector.negotiation import wants_json


@sensitive_post_parameters(*SENSITIVE_FIELDS)
@require_POST
def add_credential(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk)
    form = NewCredentialForm(request.POST, request.FILES, connection=connection)
    if not form.is_valid():
        return views.render_detail(request, connection, new_credential_form=form, status=400)
    try:
        rotation.add(connection, request.user, new_secret=form.credential)
    except rotation.RotationError as error:
        form.add_error(None, str(error))
        return views.render_detail(request, connection, new_credential_form=form, status=400)
    noun = rotation.noun(connection)
    messages.success(
        request, f"The new {noun} was added beside the current one. TEST it, then Promote it to make it current."
    )
    return redirect(connection)


@require_POST
def test_new_credential(request: HttpRequest, pk: int) -> HttpResponse:
    """TEST the connection with its new credential, in the background like any TEST (gate, rate limits, progress)."""
    connection = access.manageable_or_403(request.user, pk)
    try:
        started = run_views.start_or_refuse(request, connection, lambda: rotation.start_test(connection, request.user))
    except rotation.RotationError as error:
        return _refused(request, connection, str(error))
    if isinstance(started, HttpResponse):
        return started
    if wants_json(request):
        return run_views.run_json(request, started)
    if not started.finished:
        return redirect("connections:test_run", started.pk)
    result = history.result_of(started)
    (messages.success if result.ok else messages.error)(request, f"New {rotation.noun(connection)}: {result.summary}")
    return redirect(connection)


@require_POST
def promote_credential(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk)
    noun = rotation.noun(connection)
    try:
        rotation.promote(connection.pk, request.user)
    except rotation.RotationError as error:
        messages.error(request, str(error))
        return redirect(connection)
    messages.success(
        request,
        f"The new {noun} is now current: every TEST uses it. The previous {noun} is kept until you discard it "
        f"(delete it from the app registration too once nothing uses it).",
    )
    return redirect(connection)


@require_POST
def discard_credential(request: HttpRequest, pk: int, role: str) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk)
    if role not in SlotRole.values:
        return _refused(request, connection, "There is no such credential to discard.")
    try:
        slot = rotation.discard(connection.pk, request.user, role)
    except rotation.RotationError as error:
        messages.error(request, str(error))
        return redirect(connection)
    messages.success(request, f"The {slot.role} {slot.label} was discarded. The current {slot.label} is unchanged.")
    return redirect(connection)


def _refused(request: HttpRequest, connection, message: str) -> HttpResponse:
    if wants_json(request):
        html = render_to_string("partials/alert.html", {"text": message, "level": "warning"})
        return JsonResponse({"ok": False, "message": message, "hint": "", "html": html}, status=409)
    messages.error(request, message)
    return redirect(connection)
