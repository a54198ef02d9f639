"""Views of the Connector Marketplace: thin, each parses the request, calls one function and renders."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit import trail
from audit.models import Action
from gathr_connector.redirects import back_to_next
from marketplace import access_requests, catalogue, entitlements, notify
from marketplace.entitlements import TRIAL_DAYS, EntitlementError, State, when
from marketplace.models import Connector, Notification
from marketplace.roles import MANAGE_CONNECTORS

manager_only = permission_required(MANAGE_CONNECTORS, raise_exception=True)
ACCESS_MESSAGES = {
    access_requests.RequestOutcome.SENT: (messages.SUCCESS, "Your request was sent to your administrators."),
    access_requests.RequestOutcome.ALREADY_SENT_TODAY: (
        messages.INFO,
        "Your request was already sent to your administrators today: they have it.",
    ),
    access_requests.RequestOutcome.ALREADY_AVAILABLE: (messages.INFO, "{name} is available already: you can use it."),
}


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    chosen = catalogue.chosen_filter(request.GET.get("filter"))
    statuses = entitlements.catalogue()
    context = {
        "tiles": catalogue.filtered(statuses, chosen),
        "filters": catalogue.FILTERS,
        "chosen": chosen,
        "trials": catalogue.in_state(statuses, State.TRIAL),
        "subscriptions": catalogue.in_state(statuses, State.SUBSCRIBED),
        "can_manage": request.user.has_perm(MANAGE_CONNECTORS),
        "requested_today": access_requests.requested_today(request.user),
        "trial_days": TRIAL_DAYS,
    }
    return render(request, "marketplace/index.html", context)


@manager_only
@require_http_methods(["GET", "POST"])
def start_trial(request: HttpRequest, slug: str) -> HttpResponse:
    connector = get_object_or_404(Connector, slug=slug)
    if request.method == "GET":
        now = timezone.now()
        return _confirm(
            request,
            connector,
            entitlements.check_can_start_trial,
            "marketplace/confirm_trial.html",
            trial_days=TRIAL_DAYS,
            starts_at=now,
            ends_at=entitlements.trial_end(now),
        )
    try:
        trial = entitlements.start_trial(connector, request.user)
    except EntitlementError as error:
        messages.error(request, str(error))
        return redirect(connector)
    trail.record(request.user, Action.TRIAL_STARTED, connector, detail=f"ends {trial.ends_at:%Y-%m-%d %H:%M %Z}")
    messages.success(request, f"The {connector.name} trial started: it ends on {when(trial.ends_at)}.")
    return redirect("marketplace:notify_users", slug)


@manager_only
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, slug: str) -> HttpResponse:
    connector = get_object_or_404(Connector, slug=slug)
    if request.method == "GET":
        now = timezone.now()
        day = entitlements.billing_day_of(now)
        return _confirm(
            request,
            connector,
            entitlements.check_can_subscribe,
            "marketplace/confirm_subscribe.html",
            starts_at=now,
            billing_day=day,
            next_billing_date=entitlements.next_billing_date(day, timezone.localdate(now)),
        )
    was_active = entitlements.status_of(connector).active
    try:
        subscription = entitlements.subscribe(connector, request.user)
    except EntitlementError as error:
        messages.error(request, str(error))
        return redirect(connector)
    trail.record(request.user, Action.SUBSCRIBED, connector, detail=f"billing day {subscription.billing_day}")
    messages.success(
        request,
        f"Subscribed to {connector.name} from {when(subscription.started_at)}, "
        f"billed monthly on day {subscription.billing_day}.",
    )
    # During a trial the users have it already: there is nothing new to tell them.
    return redirect(connector) if was_active else redirect("marketplace:notify_users", slug)


@manager_only
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, slug: str) -> HttpResponse:
    connector = get_object_or_404(Connector, slug=slug)
    if request.method == "GET":
        return _confirm(request, connector, entitlements.check_can_unsubscribe, "marketplace/confirm_unsubscribe.html")
    try:
        entitlements.unsubscribe(connector, request.user)
    except EntitlementError as error:
        messages.error(request, str(error))
        return redirect(connector)
    trail.record(request.user, Action.UNSUBSCRIBED, connector)
    messages.success(
        request,
        f"Unsubscribed from {connector.name}, effective now. Saved connections stay, disabled, "
        "until a new subscription brings them back.",
    )
    return redirect(connector)


@manager_only
@require_http_methods(["GET", "POST"])
def notify_users(request: HttpRequest, slug: str) -> HttpResponse:
    connector = get_object_or_404(Connector, slug=slug)
    status = entitlements.status_of(connector)
    if request.method == "GET":
        if entitlements.unannounced(status) is None:
            return redirect(connector)
        return render(
            request, "marketplace/notify_users.html", {"status": status, "connector": connector, **_audience(request)}
        )
    outcome = notify.announce(status, request.user, notify.site_root(request))
    if outcome is None:
        messages.info(request, f"The users were already told that {connector.name} is available.")
    elif outcome.email_failed:
        messages.warning(
            request,
            f"Notified {_users(outcome.notified)} in the app, but the email could not be sent: "
            "check EMAIL_URL (see the server log).",
        )
    else:
        messages.success(request, f"Notified {_users(outcome.notified)} in the app and {outcome.emailed} by email.")
    return redirect(connector)


@require_POST
def request_access(request: HttpRequest, slug: str) -> HttpResponse:
    connector = get_object_or_404(Connector, slug=slug)
    if request.user.has_perm(MANAGE_CONNECTORS):
        messages.info(request, "As an organization administrator you can start the trial or subscribe yourself.")
        return redirect(connector)
    outcome = access_requests.request_access(connector, request.user, notify.site_root(request))
    level, text = ACCESS_MESSAGES[outcome]
    messages.add_message(request, level, text.format(name=connector.name))
    return back_to_next(request, fallback=connector.get_absolute_url())


@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    page = Paginator(request.user.notifications.all(), 25).get_page(request.GET.get("page"))
    return render(request, "marketplace/notifications.html", {"page": page})


@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    Notification.objects.filter(pk=notification.pk).update(read=True)
    return back_to_next(request, fallback="marketplace:notifications")


@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    request.user.notifications.unread().update(read=True)
    return redirect("marketplace:notifications")


def _confirm(request: HttpRequest, connector: Connector, check, template: str, **context) -> HttpResponse:
    """The confirmation page of an action, or back to the tile with the reason it cannot be done."""
    status = entitlements.status_of(connector)
    try:
        check(status)
    except EntitlementError as error:
        messages.error(request, str(error))
        return redirect(connector)
    return render(request, template, {"status": status, "connector": connector, **context})


def _audience(request: HttpRequest) -> dict:
    users = notify.everyone_but(request.user)
    return {"user_count": users.count(), "email_count": users.exclude(email="").count()}


def _users(count: int) -> str:
    return f"{count} user{pluralize(count)}"
