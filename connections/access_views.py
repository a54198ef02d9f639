"""Views of Check access: start one (POST), then follow it (JSON for the page's script, or a page that refreshes
itself until the result is there). Whoever may TEST the connection may check its access and see the result."""

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from connections import access, access_background, access_page, throttle, views
from connections.access_checks import AccessCheck
from connections.access_forms import AccessCheckForm
from connections.models import Connection
from gathr_connector.negotiation import wants_json
from marketplace import gate


@require_POST
def check_access(request: HttpRequest, pk: int) -> HttpResponse:
    """Start Check access for a connection the user may TEST."""
    connection = access.usable_or_404(request.user, pk, Connection.objects.with_owner())
    form = AccessCheckForm(request.POST)
    if not form.is_valid():
        if wants_json(request):
            return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)
        return views.render_detail(request, connection, access_form=form, status=400)
    try:
        run = access_background.start(connection, request.user, form.cleaned_data["tables"])
    except gate.ConnectorUnavailableError as unavailable:
        return gate.refuse(request, unavailable.refusal)
    except throttle.TestRefusedError as refused:
        return _refused(request, connection, refused.refusal.message, refused.refusal.status)
    except access_background.QueueUnavailableError:
        text = "Check access could not start: the task queue is not reachable. Try again in a moment."
        return _refused(request, connection, text, 503)
    if wants_json(request):
        return status_json(request, run)
    if not run.finished:
        return redirect("connections:access_check", run.pk)
    return _back_to_card(run.connection)


def _refused(request: HttpRequest, connection: Connection, text: str, status: int) -> HttpResponse:
    if wants_json(request):
        html = render_to_string("partials/alert.html", {"text": text, "level": "warning"})
        return JsonResponse({"ok": False, "message": text, "html": html}, status=status)
    messages.error(request, text)
    response = redirect(f"{connection.get_absolute_url()}#access")
    response.status_code = 303  # as TEST's refusals: the browser GETs the page
    return response


@require_GET
def access_check(request: HttpRequest, check_id: uuid.UUID) -> HttpResponse:
    """A check's progress and result, for whoever may see its connection (anyone else: 404)."""
    run = AccessCheck.objects.select_related("connection").filter(pk=check_id).first()
    if run is None:
        raise Http404("No such check.")
    access.usable_or_404(request.user, run.connection_id)
    if run.is_stale():
        access_background.end_stale(run)
        run.refresh_from_db()
    if wants_json(request):
        return status_json(request, run)
    if not run.finished:
        return render(request, "connections/access_run.html", {"run": run, "connection": run.connection})
    return _back_to_card(run.connection)


def _back_to_card(connection: Connection) -> HttpResponse:
    return redirect(f"{connection.get_absolute_url()}#access")


def status_json(request: HttpRequest, run: AccessCheck) -> JsonResponse:
    """The check as the page's script reads it: its state and the Check access card's HTML."""
    connection = run.connection
    context = {"connection": connection, **access_page.context(connection, running=None if run.finished else run)}
    html = render_to_string("connections/_access_card.html", context, request=request)
    answer = {"id": str(run.pk), "state": run.state, "done": run.finished, "html": html}
    answer["status_url"] = reverse("connections:access_check", args=[run.pk])
    answer["ok"] = (run.result or {}).get("ok") if run.finished else None
    return JsonResponse(answer)
