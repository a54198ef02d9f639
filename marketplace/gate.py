"""The gate in front of a Premium connector: without an active trial or subscription its connections can be
seen but not created, edited or TESTed. Used by the connections URLs, the admin action and the command."""

from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from gathr_connector.negotiation import wants_json
from marketplace import access_requests
from marketplace.entitlements import ConnectorStatus, State, shown_status, status_for, when
from marketplace.roles import MANAGE_CONNECTORS

# What a refused POST was trying to do: by the view's URL name, else by the connection form's "action" button.
REFUSED_VIEWS = {
    "sign_in": "Sign in with Microsoft",
    "test": "TEST",
    "preview": "Preview",
    "check_access": "Check access",
}
REFUSED_ACTIONS = {"test": "TEST", "create": "CREATE", "save": "SAVE"}


@dataclass(frozen=True)
class GateRefusal:
    slug: str
    status: ConnectorStatus | None

    @property
    def name(self) -> str:
        return self.status.connector.name if self.status else self.slug

    @property
    def reason(self) -> str:
        status, name = self.status, self.name
        if status is None:
            return f"The connector “{self.slug}” is missing from the Connector Marketplace catalogue."
        if status.state == State.TRIAL_EXPIRED:
            return f"The {name} trial ended on {when(status.trial.ends_at)}."
        if status.state == State.UNSUBSCRIBED:
            return f"The {name} subscription was cancelled on {when(status.subscription.cancelled_at)}."
        return f"{name} is a Premium connector and this organization has no trial or subscription for it."

    @property
    def rule(self) -> str:
        return f"Creating, editing and testing {self.name} connections needs an active trial or subscription"

    @property
    def marketplace_url(self) -> str:
        return f"{reverse('marketplace:index')}#connector-{self.slug}"

    @property
    def message(self) -> str:
        """Plain text, for JSON answers and the command line."""
        where = settings.SITE_URL.rstrip("/") + self.marketplace_url
        return f"{self.reason} {self.rule}: see the Connector Marketplace ({where})."

    @property
    def html(self) -> str:
        """The same, with a link to the marketplace (for the admin's messages)."""
        return format_html(
            '{} {}: see the <a href="{}">Connector Marketplace</a>.', self.reason, self.rule, self.marketplace_url
        )


class ConnectorUnavailableError(Exception):
    """Connections of a Premium connector were used without an active trial or subscription."""

    def __init__(self, refusal: GateRefusal):
        super().__init__(refusal.reason)
        self.refusal = refusal


def check(slug: str, *, shown: bool = False) -> GateRefusal | None:
    """None when connections of `slug` may be used now, else why not (`shown`: for a page that only shows a form;
    actions always read the state afresh)."""
    status = shown_status(slug) if shown else status_for(slug)
    return None if status and status.active else GateRefusal(slug, status)


def require(slug: str) -> None:
    """Raise ConnectorUnavailableError unless connections of `slug` may be used now."""
    refusal = check(slug)
    if refusal is not None:
        raise ConnectorUnavailableError(refusal)


def requires_connector(slug: str, *, pages: bool = True):
    """Refuse a view (with the reason and what the user can do) unless `slug` is usable now. `pages`: the view's
    GET only shows a page (a form), so the state a second old will do; its POSTs always read it afresh."""

    def decorator(view):
        @wraps(view)
        def gated(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            refusal = check(slug, shown=pages and request.method in ("GET", "HEAD"))
            if refusal is None:
                return view(request, *args, **kwargs)
            return refuse(request, refusal)

        return gated

    return decorator


def notice_context(request: HttpRequest, refusal: GateRefusal) -> dict:
    status = refusal.status
    return {
        "refusal": refusal,
        "status": status,
        "can_manage": request.user.has_perm(MANAGE_CONNECTORS),
        "requested_today": bool(status) and status.connector.pk in access_requests.requested_today(request.user),
        # After "Request access" the user comes back here; a refused POST returns to the page it came from.
        "next": request.get_full_path() if request.method == "GET" else request.headers.get("Referer", ""),
    }


def refuse(request: HttpRequest, refusal: GateRefusal) -> HttpResponse:
    context = notice_context(request, refusal)
    if wants_json(request):
        html = render_to_string("marketplace/_gate_notice.html", context, request=request)
        return JsonResponse({"ok": False, "message": refusal.message, "html": html}, status=403)
    if request.method == "POST":
        view = request.resolver_match.url_name if request.resolver_match else ""
        context["refused_action"] = REFUSED_VIEWS.get(view) or REFUSED_ACTIONS.get(request.POST.get("action"), "TEST")
    return render(request, "marketplace/gate.html", context, status=403)
