"""The API's browsable documentation: Swagger UI from drf-spectacular-sidecar's vendored files, served by our static
files, and started by a static script (static/api/docs.js): the Content Security Policy allows no inline script or
style, which drf-spectacular's own template has."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET


@login_not_required
@require_GET
def docs(request: HttpRequest) -> HttpResponse:
    return render(request, "api/docs.html", {"schema_url": reverse("api:schema")})
