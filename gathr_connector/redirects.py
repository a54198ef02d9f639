"""Where a POST sends the browser back to: the form's `next` field, when it stays on this site."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def back_to_next(request: HttpRequest, fallback) -> HttpResponse:
    """Redirect to POST["next"] if it is a URL of this site, else to `fallback` (a URL, view name or model)."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        # Never redirect(target): it would look "0" or "list" up as a view name and fail with a 500.
        return HttpResponseRedirect(target)
    return redirect(fallback)
