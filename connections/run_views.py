"""Views of TESTs in the background: start one from a page, then follow it until its result is there.

A POST validates, queues and answers at once. The page's script then polls the TEST's status (JSON) and shows its
steps as they finish; without JavaScript the TEST's own page refreshes itself until the result is there, then
shows the form again with everything typed but the secret. Only the user who started a TEST may read it.
"""

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from connections import access, access_page, background, history, history_page, rotation_page, schedule_page, throttle
from connections.callback_url import default_callback_url
from connections.form_page import render_form
from connections.forms import SENSITIVE_FIELDS, ConnectionForm
from connections.runs import RunSource, RunState, TestRun
from gathr_connector.negotiation import wants_json
from gathr_connector.redirects import back_to_next
from marketplace import gate

NOT_KEPT = {*SENSITIVE_FIELDS, "csrfmiddlewaretoken", "action"}
SAVED_SOURCES = {"list": RunSource.LIST, "page": RunSource.PAGE}
QUEUE_UNAVAILABLE = (
    "Connection unavailable: TEST could not start, because the task queue is not reachable ({reason}). "
    "Nothing was sent to Microsoft. Try again in a moment; if it persists, an operator should check TASK_QUEUE_URL "
    "and the worker."
)


@require_POST
def connection_test(request: HttpRequest, pk: int) -> HttpResponse:
    """TEST a saved connection (the Connections list, the connection page)."""
    connection = access.usable_or_404(request.user, pk)
    source = SAVED_SOURCES.get(request.POST.get("source", ""), RunSource.PAGE)
    refused = start_or_refuse(request, connection, lambda: background.start_saved(connection, request.user, source))
    if isinstance(refused, HttpResponse):
        return refused
    run = refused
    if wants_json(request):
        return run_json(request, run)
    if not run.finished:
        return redirect("connections:test_run", run.pk)
    result = history.result_of(run)
    (messages.success if result.ok else messages.error)(request, result.summary)
    return back_to_next(request, fallback=connection)


@sensitive_variables("form")
def test_form(request: HttpRequest, form: ConnectionForm) -> HttpResponse:
    """TEST the connection form's data (new or edited); a blank secret uses the stored one."""
    if not form.is_valid():
        if wants_json(request):
            return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)
        return render_form(request, form, status=400)
    values = {name: value for name, value in request.POST.items() if name not in NOT_KEPT}
    refused = start_or_refuse(
        request,
        form.instance,
        lambda: start_form_test(form, request.user, values),
        form=form,
    )
    if isinstance(refused, HttpResponse):
        return refused
    run = refused
    if wants_json(request):
        return run_json(request, run)
    if not run.finished:  # the TEST's own page refreshes itself until the result is there
        return redirect("connections:test_run", run.pk)
    typed = any(form.cleaned_data.get(name) for name in ("client_secret", "windows_password")) or bool(
        form.certificate_credential
    )
    return render_form(request, form, result=history.result_of(run), retype_secret=typed)


@sensitive_variables("form")
def start_form_test(form: ConnectionForm, actor, values: dict):
    """Queue a TEST of a valid connection form's values, its typed credential included (the page's TEST, the API's
    TEST of unsaved values)."""
    return background.start_unsaved(
        form.instance,
        actor,
        values,
        secret=form.cleaned_data.get("client_secret", ""),
        certificate=form.certificate_credential,
        password=form.cleaned_data.get("windows_password", ""),
    )


def start_or_refuse(request, connection, start, form=None):
    """Start the TEST; or the answer that says why it did not start."""
    try:
        return start()
    except gate.ConnectorUnavailableError as unavailable:
        return gate.refuse(request, unavailable.refusal)
    except throttle.TestRefusedError as refused:
        return _refused(request, refused.refusal, connection, form, status=refused.refusal.status)
    except background.QueueUnavailableError as error:
        reason = str(error).split("\n")[0][:120] or "no answer"
        refusal = throttle.ThrottleRefusal(QUEUE_UNAVAILABLE.format(reason=reason), 10)
        return _refused(request, refusal, connection, form, status=503)


def _refused(request, refusal, connection, form, status: int = 429) -> HttpResponse:
    """A TEST refused by the rate limits, because one is running, or because the queue is down: said plainly."""
    if wants_json(request):
        html = render_to_string("partials/alert.html", {"text": refusal.message, "level": "warning"})
        response = JsonResponse({"ok": False, "message": refusal.message, "hint": "", "html": html}, status=status)
    elif form is not None:
        messages.error(request, refusal.message)
        response = render_form(request, form, status=status)
    else:
        messages.error(request, refusal.message)
        response = redirect(connection)
        response.status_code = 303
        return response
    response["Retry-After"] = str(refusal.retry_after)
    return response


@require_GET
def test_run(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    """A TEST's progress and result, for the user who started it (anyone else: 404)."""
    run = own_run(request, run_id)
    if wants_json(request):
        return run_json(request, run)
    if not run.finished:
        context = {"run": run, "position": _position(run), "connection": run.connection}
        return render(request, "connections/test_run.html", context)
    if run.source == RunSource.FORM:
        return _form_again(request, run)
    result = history.result_of(run)
    (messages.success if result.ok else messages.error)(request, result.summary)
    if run.source == RunSource.LIST or not run.connection:
        return redirect("connections:list")
    return redirect(run.connection)


def own_run(request: HttpRequest, run_id: uuid.UUID) -> TestRun:
    """The TEST `run_id` if `request.user` started it (the pages and the API: anyone else gets 404)."""
    run = TestRun.objects.select_related("connection").filter(pk=run_id, started_by=request.user).first()
    if run is None:
        raise Http404("No such TEST.")
    if run.is_stale():
        background.end_stale(run)
        run.refresh_from_db()
    return run


def _position(run: TestRun) -> int | None:
    return TestRun.objects.queued_before(run) if run.state == RunState.QUEUED else None


def run_json(request: HttpRequest, run: TestRun) -> JsonResponse:
    """The TEST as the page's script reads it: its state, and the HTML of its steps or its result."""
    answer = {
        "id": str(run.pk),
        "state": run.state,
        "done": run.finished,
        "status_url": reverse("connections:test_run", args=[run.pk]),
    }
    result = history.result_of(run)
    if result is None:
        position = _position(run)
        context = {"run": run, "position": position}
        html = render_to_string("connections/_test_progress.html", context, request=request)
        return JsonResponse({**answer, "ok": None, "position": position, "message": "", "hint": "", "html": html})
    context = {"result": result, "connection": run.connection}
    answer |= {"ok": result.ok, "message": result.message, "hint": result.hint}
    answer["html"] = render_to_string("connections/_test_result.html", context, request=request)
    if run.connection and run.source != RunSource.FORM:  # the connection page's state, Last TEST and history
        run.connection.refresh_from_db()
        answer["last_test_html"] = render_to_string("connections/_last_test.html", context, request=request)
        answer["health_html"] = render_to_string("connections/_health.html", context, request=request)
        context["history"] = history_page.summary(run.connection)
        answer["history_html"] = render_to_string("connections/_history.html", context, request=request)
        context["schedule"] = schedule_page.summary(run.connection)
        answer["schedule_html"] = render_to_string("connections/_schedule.html", context, request=request)
        context |= access_page.context(run.connection)  # a good TEST offers Check access
        answer["access_html"] = render_to_string("connections/_access_card.html", context, request=request)
    if run.connection and run.source == RunSource.NEW_CREDENTIAL:  # the new credential's result on its panel
        answer["credentials_html"] = rotation_page.panel_html(request, run.connection)
    return JsonResponse(answer)


def _form_again(request: HttpRequest, run: TestRun) -> HttpResponse:
    """No JavaScript: the form as it was typed (but the secret), with the TEST's result above it."""
    instance = access.manageable_or_403(request.user, run.connection.pk) if run.connection else None
    form = ConnectionForm(run.form_values, instance=instance, default_callback_url=default_callback_url(request))
    form.is_valid()
    return render_form(request, form, result=history.result_of(run), retype_secret=True)
