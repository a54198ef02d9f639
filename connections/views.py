"""Views of the connections app: thin, each parses the request, calls one function and renders."""

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import F, Value
from django.db.models.functions import Lower, Replace
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from connections import (
    access,
    access_page,
    changes,
    expiry,
    history_page,
    list_rows,
    list_search,
    rotation_page,
    run_views,
    schedule_page,
    secretless_page,
    sparklines,
)
from connections.callback_url import default_callback_url
from connections.form_page import render_form
from connections.forms import SENSITIVE_FIELDS, ConnectionForm
from connections.models import Connection
from marketplace.entitlements import shown_status

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
    visible = access.visible_to(request.user, Connection.objects.all())
    connections = visible.order_by(order, "pk")
    if query:
        connections = list_search.matching(connections, query)
    page = Paginator(connections, PAGE_SIZE).get_page(request.GET.get("page"))
    is_administrator = access.is_administrator(request.user)
    crm = shown_status("dynamics-crm")
    # The page's rows as plain values, the owner's name joined in; the pager's count has no join.
    shown = list(page.object_list.annotate(recent_tests=sparklines.recent_tests()).values(*list_rows.COLUMNS))
    rows_html = list_rows.table_body(
        shown, user=request.user, is_administrator=is_administrator, crm_active=bool(crm and crm.active)
    )
    context = {
        "page": page,
        "crm": crm,
        "rows_html": rows_html,
        "has_rows": bool(shown),
        "query": query,
        "sort": sort,
        "sort_columns": SORT_COLUMNS,
    }
    return render(request, "connections/connection_list.html", context)


def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.usable_or_404(request.user, pk, Connection.objects.with_owner())
    return render_detail(request, connection)


def render_detail(
    request: HttpRequest,
    connection: Connection,
    new_credential_form=None,
    status: int = 200,
    access_form=None,
    extra=None,
):
    """The connection page; with the Credentials panel's or Check access's form as it was posted when refused, and
    `extra` (the Preview card's form and result)."""
    context = rotation_page.context(request, connection, new_credential_form)
    context |= access_page.context(connection, access_form)
    context.update(extra or {})
    context["history"] = history_page.summary(connection)
    context["schedule"] = schedule_page.summary(connection)
    context["expiry"] = expiry.shown(connection, timezone.now())
    context |= secretless_page.context(request, connection)
    return render(request, "connections/connection_detail.html", context, status=status)


@sensitive_post_parameters(*SENSITIVE_FIELDS)
@require_http_methods(["GET", "POST"])
def connection_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = ConnectionForm(
            initial={"creation_token": Connection.new_creation_token()},
            default_callback_url=default_callback_url(request),
        )
        return render_form(request, form)
    form = ConnectionForm(request.POST, request.FILES, default_callback_url=default_callback_url(request))
    if request.POST.get("action") == "test":
        return run_views.test_form(request, form)
    already = _created_by_token(request)
    if already is not None:
        messages.info(request, f"The connection “{already.name}” was already created.")
        return redirect(already)
    if not form.is_valid():
        return render_form(request, form, status=400)
    connection = _save_new(request, form)
    if connection is None:
        twin = _created_by_token(request)
        return redirect(twin) if twin else render_form(request, form, status=400)
    messages.success(request, f"The connection “{connection.name}” was created.")
    return redirect(connection)


@sensitive_post_parameters(*SENSITIVE_FIELDS)
@require_http_methods(["GET", "POST"])
def connection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk)
    if request.method == "GET":
        return render_form(
            request, ConnectionForm(instance=connection, default_callback_url=default_callback_url(request))
        )
    form = ConnectionForm(
        request.POST, request.FILES, instance=connection, default_callback_url=default_callback_url(request)
    )
    if request.POST.get("action") == "test":
        return run_views.test_form(request, form)
    if not form.is_valid():
        return render_form(request, form, status=400)
    try:
        changes.save(form, request.user)
    except changes.NameTakenError:
        return render_form(request, form, status=400)
    except changes.DeletedMeanwhileError:
        raise Http404("The connection was deleted meanwhile.") from None
    messages.success(request, f"The connection “{form.instance.name}” was saved.")
    return redirect(form.instance)


@require_http_methods(["GET", "POST"])
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk)
    if request.method == "GET":
        return render(request, "connections/connection_confirm_delete.html", {"connection": connection})
    changes.delete(connection, request.user)
    messages.success(request, f"The connection “{connection.name}” was deleted.")
    return redirect("connections:list")


def _save_new(request: HttpRequest, form: ConnectionForm) -> Connection | None:
    try:
        return changes.create(form, request.user, form.cleaned_data.get("creation_token"))
    except (changes.NameTakenError, IntegrityError):  # a name taken meanwhile, or a concurrent twin of this POST
        return None


def _created_by_token(request: HttpRequest) -> Connection | None:
    try:
        token = uuid.UUID(request.POST.get("creation_token", ""))
    except ValueError:
        return None
    return Connection.objects.filter(creation_token=token, owner=request.user).first()
