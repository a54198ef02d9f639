"""The Preview card's button: a POST (CSRF, never a cached GET) by the owner or an administrator, answered with the
connection page and the preview on it. The response is never stored by a browser or a proxy (no-store)."""

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_POST

from connections import access, table_preview, views
from connections.models import Connection
from connections.preview_forms import PreviewForm
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM


@require_POST
def preview_table(request: HttpRequest, pk: int) -> HttpResponse:
    connection = access.manageable_or_403(request.user, pk, Connection.objects.with_owner())
    refusal = gate.check(DYNAMICS_CRM)
    if refusal is not None:
        return gate.refuse(request, refusal)
    form = PreviewForm(request.POST)
    if not form.is_valid():
        return _page(request, connection, form, status=400)
    try:
        result = table_preview.preview_saved(connection, request.user, form.cleaned_data["table"])
    except gate.ConnectorUnavailableError as error:  # the trial ended since the check above
        return gate.refuse(request, error.refusal)
    except table_preview.PreviewRefusedError as refused:
        response = _page(request, connection, form, refused=refused.message, status=refused.status)
        response["Retry-After"] = str(refused.retry_after)
        return response
    return _page(request, connection, form, preview=result)


def _page(request: HttpRequest, connection: Connection, form: PreviewForm, status: int = 200, **shown) -> HttpResponse:
    extra = {"preview_form": form, "preview_refused": shown.get("refused", ""), "preview": shown.get("preview")}
    response = views.render_detail(request, connection, status=status, extra=extra)
    patch_cache_control(response, no_store=True, private=True)
    return response
