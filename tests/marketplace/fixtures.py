"""Fixtures of the Connector Marketplace: the Premium Dynamics CRM connector, the catalogue, an organization
administrator, and the subscription that opens the gate for every database test unless it is marked
`no_entitlement` (the tests under tests/marketplace/ run with the gate closed: see their conftest)."""

import pytest
from django.contrib.auth import get_user_model

from tests.helpers import ADMIN_PASSWORD

DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}


@pytest.fixture
def dynamics_crm(db):
    """The Premium Dynamics CRM connector of the catalogue (a transactional test's flush empties the catalogue)."""
    from marketplace.models import Connector

    connector, _ = Connector.objects.get_or_create(
        slug="dynamics-crm",
        defaults={
            "name": "Dynamics CRM",
            "description": "Microsoft's customer relationship management.",
            "tier": "premium",
            "connection_form": "connections:create",
            "position": 10,
        },
    )
    return connector


@pytest.fixture
def catalogue(db):
    """The data migrations' catalogue and group. Migrations made them, but a transactional test's flush empties
    the database, and pytest-playwright's browser parameter runs the browser tests amid the others."""
    import importlib

    from django.apps import apps

    importlib.import_module("marketplace.migrations.0002_catalogue").add_catalogue(apps, None)
    importlib.import_module("marketplace.migrations.0003_organization_administrators").add_group(apps, None)


@pytest.fixture(autouse=True)
def dynamics_crm_subscription(request):
    """Every test that uses the database has a Dynamics CRM subscription, unless marked no_entitlement."""
    uses_db = request.node.get_closest_marker("django_db") or DB_FIXTURES & set(request.fixturenames)
    if not uses_db or request.node.get_closest_marker("no_entitlement"):
        return None
    import datetime as dt

    from marketplace.models import Subscription

    connector = request.getfixturevalue("dynamics_crm")
    started = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return Subscription.objects.create(connector=connector, started_at=started, billing_day=1)


@pytest.fixture
def org_admin(db):
    """An organization administrator who is not a superuser: a member of the group the migration creates."""
    from django.contrib.auth.models import Group, Permission

    permission = Permission.objects.get(codename="manage_connectors", content_type__app_label="marketplace")
    # get_or_create: a transactional test's flush removes the migration's group.
    group, _ = Group.objects.get_or_create(name="Organization administrators")
    group.permissions.add(permission)
    user = get_user_model().objects.create_user("olga", "olga@example.com", ADMIN_PASSWORD)
    user.groups.add(group)
    return user
