"""The connection form's page, as the create and edit views and a finished no-JavaScript TEST show it."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from connections.forms import ConnectionForm


def render_form(
    request: HttpRequest, form: ConnectionForm, *, status: int = 200, result=None, retype_secret: bool = False
) -> HttpResponse:
    # form.instance already holds the typed (maybe rejected) values: the title shows the saved name.
    pk = form.instance.pk
    context = {
        "form": form,
        "result": result,
        "retype_secret": retype_secret,
        "connection": form.instance,
        "saved_name": form.initial.get("name", ""),
        # Explicit: the form is shown again by a TEST's own page too, and must post to create or edit.
        "form_action": reverse("connections:edit", args=[pk]) if pk else reverse("connections:create"),
    }
    return render(request, "connections/connection_form.html", context, status=status)
