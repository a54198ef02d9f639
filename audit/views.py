from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.models import Action, AuditEvent

PAGE_SIZE = 50


@permission_required("audit.view_audit_trail", raise_exception=True)
def trail(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.select_related(None)
    action = request.GET.get("action", "")
    if action in Action.values:
        events = events.filter(action=action)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/trail.html", {"page": page, "actions": Action.choices, "action": action})
