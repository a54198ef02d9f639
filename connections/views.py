"""Views of the connections app: thin, each parses the request, calls one function and renders."""

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Lower, Replace
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from audit import trail
from audit.models import Action
from connections import access, testing, throttle
from connections.callback_url import default_callback_url
from connections.forms import SENSITIVE_FIELDS, ConnectionForm
from connections.models import Connection
from gathr_connector.negotiation import wants_json
from gathr_connector.redirects import back_to_next
from marketplace import gate

# Each column sorts by what the user reads in it: names in any case, the URL's host without its scheme.
SORTS = {
    "name": Lower("name"),
    "version": F("crm_version"),
    "url": Replace(Replace("url", Value("https://"), Value("")), Value("http://"), Value("")),
    "tenant": F("azure_tenant"),
    "owner": Lower("owner__username"),
    "tested": F("last_tested_at"),
}
SORT_COLUMNS = [
    ("name", "Name"),
    ("version", "CRM Version"),
    ("url", "URL host"),
    ("tenant", "AzureTenant"),
    ("owner", "Owner"),
    ("tested", "Last TEST"),
]
PAGE_SIZE = 25


def connection_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    sort = request.GET.get("sort", "name")
    if sort.removeprefix("-") not in SORTS:
        sort = "name"
    column = SORTS[sort.removeprefix("-")]
    # Never tested counts as the oldest TEST, on every database.
    order = column.desc(nulls_last=True) if sort.startswith("-") else column.asc(nulls_first=True)
    connections = access.visible_to(request.user, Connection.objects.with_owner()).order_by(order, "pk")
    if query:
        connections = connections.filter(
            Q(name__icontains=query)
            | Q(url__icontains=query)
            | Q(azure_tenant__icontains=query)
            | Q(owner__username__icontains=query)
        )
    page = Paginator(connections, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "query": query,
        "sort": sort,
        "sort_columns": SORT_COLUMNS,
        "is_administrator": access.is_administrator(request.user),
    }
    return render(request, "connections/connection_list.html", context)


def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.usable_or_404(request.user, pk, Connection.objects.with_owner())
    can_manage = access.can_manage(request.user, connection)
    return render(request, "connections/connection_detail.html", {"connection": connection, "can_manage": can_manage})


@sensitive_post_parameters(*SENSITIVE_FIELDS)
@require_http_methods(["GET", "POST"])
def connection_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = ConnectionForm(
            initial={"creation_token": Connection.new_creation_token()},
            default_callback_url=default_callback_url(request),
        )
        return _render_form(request, form)
    form = ConnectionForm(request.POST, request.FILES, default_callback_url=default_callback_url(request))
    if request.POST.get("action") == "test":
        return _test_form(request, form)
    already = _created_by_token(request)
    if already is not None:
        messages.info(request, f"The connection “{already.name}” was already created.")
        return redirect(already)
    if not form.is_valid():
        return _render_form(request, form, status=400)
    connection = _save_new(request, form)
    if connection is None:
        twin = _created_by_token(request)
        return redirect(twin) if twin else _render_form(request, form, status=400)
    messages.success(request, f"The connection “{connection.name}” was created.")
    return redirect(connection)


@sensitive_post_parameters(*SENSITIVE_FIELDS)
@require_http_methods(["GET", "POST"])
def connection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk)
    if request.method == "GET":
        return _render_form(
            request, ConnectionForm(instance=connection, default_callback_url=default_callback_url(request))
        )
    form = ConnectionForm(
        request.POST, request.FILES, instance=connection, default_callback_url=default_callback_url(request)
    )
    if request.POST.get("action") == "test":
        return _test_form(request, form)
    if not form.is_valid():
        return _render_form(request, form, status=400)
    try:
        with transaction.atomic():
            form.save()
    except IntegrityError:
        form.add_error("name", form.error_messages["name_taken"] % {"name": form.cleaned_data["name"]})
        return _render_form(request, form, status=400)
    trail.record(request.user, Action.CONNECTION_EDITED, form.instance, detail=", ".join(form.changed_data))
    messages.success(request, f"The connection “{form.instance.name}” was saved.")
    return redirect(form.instance)


@require_http_methods(["GET", "POST"])
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk)
    if request.method == "GET":
        return render(request, "connections/connection_confirm_delete.html", {"connection": connection})
    trail.record(request.user, Action.CONNECTION_DELETED, connection)
    connection.delete()
    messages.success(request, f"The connection “{connection.name}” was deleted.")
    return redirect("connections:list")


@require_POST
def connection_test(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.usable_or_404(request.user, pk)
    try:
        result = testing.test_saved(connection, request.user)
    except gate.ConnectorUnavailableError as unavailable:
        return gate.refuse(request, unavailable.refusal)
    except throttle.TestRefusedError as refused:
        return _refused(request, refused.refusal, connection)
    if wants_json(request):
        return _result_json(request, result, connection, recorded=True)
    (messages.success if result.ok else messages.error)(request, result.summary)
    return back_to_next(request, fallback=connection)


def _save_new(request: HttpRequest, form: ConnectionForm) -> Connection | None:
    connection = form.save(commit=False)
    connection.owner = request.user
    connection.creation_token = form.cleaned_data.get("creation_token")
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        # A concurrent twin of this POST (same token) or a name taken meanwhile.
        if not _created_by_token(request):
            form.add_error("name", form.error_messages["name_taken"] % {"name": connection.name})
        return None
    trail.record(request.user, Action.CONNECTION_CREATED, connection)
    return connection


def _refused(request: HttpRequest, refusal, connection: Connection, form=None) -> HttpResponse:
    """A TEST refused by the rate limits or because one is running: 429, said plainly."""
    if wants_json(request):
        response = JsonResponse(
            {"ok": False, "message": refusal.message, "hint": "", "html": _alert(refusal.message)}, status=429
        )
    elif form is not None:
        messages.error(request, refusal.message)
        response = _render_form(request, form, status=429)
    else:
        messages.error(request, refusal.message)
        response = redirect(connection)
        response.status_code = 303
        return response
    response["Retry-After"] = str(refusal.retry_after)
    return response


def _alert(text: str) -> str:
    return render_to_string("partials/alert.html", {"text": text, "level": "warning"})


def _created_by_token(request: HttpRequest) -> Connection | None:
    try:
        token = uuid.UUID(request.POST.get("creation_token", ""))
    except ValueError:
        return None
    return Connection.objects.filter(creation_token=token, owner=request.user).first()


@sensitive_variables("form", "typed_password")
def _test_form(request: HttpRequest, form: ConnectionForm) -> HttpResponse:
    """TEST the unsaved form data; for edit, a blank secret uses the stored one."""
    if not form.is_valid():
        if wants_json(request):
            return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)
        return _render_form(request, form, status=400)
    typed_password = form.cleaned_data.get("windows_password", "")  # CRM2011+ with NTLM (on-premises)
    try:
        result = testing.test_unsaved(
            form.instance,
            request.user,
            secret=form.cleaned_data.get("client_secret", ""),
            certificate=form.certificate_credential,
            password=typed_password,
        )
    except gate.ConnectorUnavailableError as unavailable:
        return gate.refuse(request, unavailable.refusal)
    except throttle.TestRefusedError as refused:
        return _refused(request, refused.refusal, form.instance, form=form)
    if wants_json(request):
        return _result_json(request, result, form.instance)
    retype = bool(form.cleaned_data.get("client_secret") or form.certificate_credential or typed_password)
    return _render_form(request, form, result=result, retype_secret=retype)


def _render_form(request, form, *, status: int = 200, result=None, retype_secret: bool = False) -> HttpResponse:
    # form.instance already holds the typed (maybe rejected) values: the title shows the saved name.
    saved_name = form.initial.get("name", "")
    context = {
        "form": form,
        "result": result,
        "retype_secret": retype_secret,
        "connection": form.instance,
        "saved_name": saved_name,
    }
    return render(request, "connections/connection_form.html", context, status=status)


def _result_json(request: HttpRequest, result, connection: Connection | None = None, recorded=False) -> JsonResponse:
    context = {"result": result, "connection": connection}
    html = render_to_string("connections/_test_result.html", context, request=request)
    if recorded:  # the connection page's "Last TEST" card, brought up to date
        last_test = render_to_string("connections/_last_test.html", context, request=request)
        return JsonResponse(
            {"ok": result.ok, "message": result.message, "hint": result.hint, "html": html, "last_test_html": last_test}
        )
    return JsonResponse({"ok": result.ok, "message": result.message, "hint": result.hint, "html": html})
