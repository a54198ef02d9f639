"""Who may do what: every marketplace URL for each role (anonymous, user, organization administrator), who
counts as an administrator, and the Django admin of the catalogue, entitlements and access requests."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from marketplace import entitlements
from marketplace.models import AccessRequest, Connector, Notification, Subscription, Trial
from marketplace.notify import administrators
from marketplace.roles import MANAGE_CONNECTORS
from tests.marketplace.helpers import T0, given, signed_in_at

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.no_entitlement,
    pytest.mark.usefixtures("fast_password_hashing", "catalogue"),
]

LOGIN = "/accounts/login/?next="
STANDARD = ["Amazon S3", "Azure Blob Storage", "PostgreSQL", "MySQL", "Apache Kafka", "SFTP"]
# (method, url, the state it needs, what an administrator gets, what a user gets)
ROUTES = [
    ("get", "/marketplace/", "no entitlement", 200, 200),
    ("get", "/marketplace/?filter=premium", "no entitlement", 200, 200),
    ("get", "/marketplace/notifications/", "no entitlement", 200, 200),
    ("post", "/marketplace/notifications/read/", "no entitlement", 302, 302),
    ("post", "/marketplace/notifications/{notification}/read/", "no entitlement", 302, 302),
    ("get", "/marketplace/dynamics-crm/trial/", "no entitlement", 200, 403),
    ("post", "/marketplace/dynamics-crm/trial/", "no entitlement", 302, 403),
    ("get", "/marketplace/dynamics-crm/subscribe/", "trial expired", 200, 403),
    ("post", "/marketplace/dynamics-crm/subscribe/", "trial expired", 302, 403),
    ("get", "/marketplace/dynamics-crm/unsubscribe/", "subscribed", 200, 403),
    ("post", "/marketplace/dynamics-crm/unsubscribe/", "subscribed", 302, 403),
    ("get", "/marketplace/dynamics-crm/notify-users/", "trial day 1", 200, 403),
    ("post", "/marketplace/dynamics-crm/notify-users/", "trial day 1", 302, 403),
    ("post", "/marketplace/dynamics-crm/request-access/", "no entitlement", 302, 302),
    ("get", "/marketplace/dynamics-crm/request-access/", "no entitlement", 405, 405),
    ("put", "/marketplace/dynamics-crm/trial/", "no entitlement", 405, 403),
]


def entitlement_rows() -> tuple:
    return (
        Trial.objects.count(),
        Subscription.objects.count(),
        Subscription.objects.filter(cancelled_at__isnull=False).count(),
        Notification.objects.filter(text__contains="is available").count(),
    )


@pytest.mark.parametrize("role", ["anonymous", "user", "administrator"])
@pytest.mark.parametrize(("method", "url", "state", "for_admin", "for_user"), ROUTES)
def test_every_marketplace_url_for_every_role(
    role, method, url, state, for_admin, for_user, dynamics_crm, user, org_admin
):
    moment = given(state, dynamics_crm, org_admin)
    who = {"anonymous": None, "user": user, "administrator": org_admin}[role]
    mine = Notification.objects.create(recipient=who or user, text="Mine", created=T0)
    url = url.format(notification=mine.pk)
    before = entitlement_rows()
    with signed_in_at(moment, who) as client:
        response = getattr(client, method)(url)
    if role == "anonymous":
        assert (response.status_code, response["Location"]) == (
            302,
            LOGIN + url.replace("?", "%3F").replace("=", "%3D"),
        )
    else:
        assert response.status_code == (for_admin if role == "administrator" else for_user)
    if role != "administrator":
        # Nobody but an administrator changes an entitlement or tells the users.
        assert entitlement_rows() == before


def test_a_user_gets_a_clear_forbidden_page(client, user, dynamics_crm):
    client.force_login(user)
    response = client.get("/marketplace/dynamics-crm/trial/")
    assert response.status_code == 403
    assert "START TRIAL" not in response.content.decode()


def test_an_unknown_connector_is_not_found(admin_client):
    assert admin_client.get("/marketplace/no-such-connector/trial/").status_code == 404
    assert admin_client.post("/marketplace/no-such-connector/request-access/").status_code == 404


def test_administrators_are_superusers_and_holders_of_the_permission(admin_user, org_admin, user):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    direct = get_user_model().objects.create_user("direct")
    direct.user_permissions.add(Permission.objects.get(codename="manage_connectors"))
    get_user_model().objects.create_superuser("retired", is_active=False)
    assert [person.username for person in administrators()] == ["admin", "olga", "direct"]
    assert admin_user.has_perm(MANAGE_CONNECTORS) and org_admin.has_perm(MANAGE_CONNECTORS)
    assert not user.has_perm(MANAGE_CONNECTORS)


@pytest.mark.django_db(transaction=True)
def test_the_migrations_make_the_catalogue_and_the_administrators_group():
    call_command("migrate", "marketplace", "0001", verbosity=0)
    Connector.objects.all().delete()  # as on a new installation
    assert not Group.objects.filter(name="Organization administrators").exists()
    call_command("migrate", "marketplace", verbosity=0)
    group = Group.objects.get(name="Organization administrators")
    assert [(p.content_type.app_label, p.codename) for p in group.permissions.all()] == [
        ("marketplace", "manage_connectors")
    ]
    catalogue = list(Connector.objects.values_list("name", "tier", "connection_form"))
    assert catalogue[0] == ("Dynamics CRM", "premium", "connections:create")
    assert catalogue[1:] == [(name, "standard", "") for name in STANDARD]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/marketplace/connector/",
        "/admin/marketplace/connector/add/",
        "/admin/marketplace/trial/",
        "/admin/marketplace/subscription/",
        "/admin/marketplace/subscription/?status=active",
        "/admin/marketplace/accessrequest/",
        "/admin/marketplace/notification/",
    ],
)
def test_the_django_admin_manages_the_marketplace(admin_client, dynamics_crm, admin_user, user, url):
    entitlements.start_trial(dynamics_crm, admin_user, now=T0)
    entitlements.subscribe(dynamics_crm, admin_user, now=T0)
    AccessRequest.objects.create(requester=user, connector=dynamics_crm, requested_on=T0.date())
    assert admin_client.get(url).status_code == 200


def test_the_django_admin_edits_the_catalogue_but_keeps_dynamics_crm_and_its_slug(admin_client, dynamics_crm):
    sftp = Connector.objects.get(slug="sftp")
    change = admin_client.get(f"/admin/marketplace/connector/{dynamics_crm.pk}/change/").content.decode()
    assert 'name="slug"' not in change
    assert admin_client.get(f"/admin/marketplace/connector/{dynamics_crm.pk}/delete/").status_code == 403
    response = admin_client.post(
        f"/admin/marketplace/connector/{sftp.pk}/change/",
        {"name": "SFTP", "description": "Files over SSH.", "tier": "standard", "connection_form": "", "position": 5},
    )
    assert response.status_code == 302
    assert Connector.objects.get(slug="sftp").description == "Files over SSH."
    assert admin_client.post(f"/admin/marketplace/connector/{sftp.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Connector.objects.filter(slug="sftp").exists()


def test_the_django_admin_lists_access_requests_by_user_and_day(admin_client, dynamics_crm, user):
    AccessRequest.objects.create(requester=user, connector=dynamics_crm, requested_on=T0.date())
    page = admin_client.get("/admin/marketplace/accessrequest/").content.decode()
    assert re.search(r"maria.*Dynamics CRM.*March 2, 2026", page, re.S)
