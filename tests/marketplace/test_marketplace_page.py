"""The Connector Marketplace page: linked from every page, tiles with a legend and filters that work without
JavaScript, honest about the connectors this application has no form for."""

import re
from pathlib import Path

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from marketplace import entitlements
from marketplace.models import Connector
from tests.marketplace.helpers import DAY, T0, section, signed_in_at, text_of, tile

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.no_entitlement,
    pytest.mark.usefixtures("fast_password_hashing", "catalogue"),
]
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
STANDARD = ["Amazon S3", "Azure Blob Storage", "PostgreSQL", "MySQL", "Apache Kafka", "SFTP"]


def tile_names(page: str) -> list[str]:
    return [text_of(name) for name in re.findall(r'<h3 class="h5 card-title"[^>]*>(.*?)</h3>', page)]


def nav_links(page: str) -> dict[str, str]:
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", page, re.S).group(1)
    return {text_of(label): href for href, label in re.findall(r'<a[^>]*href="([^"]+)"[^>]*>(.*?)</a>', nav)}


@pytest.mark.parametrize(
    "url",
    ["/connections/", "/connections/new/", "/marketplace/", "/marketplace/notifications/", "/connections/{pk}/"],
)
def test_every_page_links_to_the_marketplace_and_notifications(admin_client, make_connection, url):
    page = admin_client.get(url.format(pk=make_connection().pk)).content.decode()
    links = nav_links(page)
    assert links["Connector Marketplace"] == "/marketplace/"
    assert links["Notifications"] == "/marketplace/notifications/"
    assert links["Connections"] == "/connections/" and links["New connection"] == "/connections/new/"


def test_the_marketplace_link_is_the_current_page_on_the_marketplace(admin_client):
    page = admin_client.get("/marketplace/").content.decode()
    assert 'class="nav-link active" aria-current="page" href="/marketplace/">Connector Marketplace</a>' in page


def test_it_shows_dynamics_crm_as_premium_and_the_standard_connectors(admin_client):
    page = admin_client.get("/marketplace/").content.decode()
    assert tile_names(page) == ["Dynamics CRM", *STANDARD]
    assert tile(page, "dynamics-crm").startswith("Premium Dynamics CRM")
    for slug in ("amazon-s3", "sftp"):
        shown = tile(page, slug)
        assert shown.startswith("Standard ") and "Free for everyone." in shown
        assert "No connection form in this application: set up" in shown
        assert "New connection" not in shown and "START TRIAL" not in shown


def test_it_has_a_legend_of_the_four_badges(admin_client):
    page = admin_client.get("/marketplace/").content.decode()
    legend = text_of(re.search(r'<div class="connector-legend.*?</dl>', page, re.S).group(0))
    assert legend == (
        "Legend Standard free for everyone Premium a 14-day free trial once, then a monthly subscription "
        "Trial on its free trial, with the days left Subscribed a monthly subscription is active"
    )


@pytest.mark.parametrize(
    ("chosen", "shown"),
    [
        ("all", ["Dynamics CRM", *STANDARD]),
        ("standard", STANDARD),
        ("premium", ["Dynamics CRM"]),
        ("trial", ["Dynamics CRM"]),
        ("subscribed", []),
        ("nonsense", ["Dynamics CRM", *STANDARD]),
    ],
)
def test_the_filters_show_the_matching_tiles_and_mark_the_current_one(dynamics_crm, admin_user, chosen, shown):
    entitlements.start_trial(dynamics_crm, admin_user, now=T0)
    with signed_in_at(T0 + DAY, admin_user) as client:
        page = client.get("/marketplace/", {"filter": chosen}).content.decode()
    assert tile_names(page) == shown
    filters = re.search(r'<nav aria-label="Filter connectors">(.*?)</nav>', page, re.S).group(1)
    labels = [text_of(label) for label in re.findall(r"<a[^>]*>(.*?)</a>", filters)]
    assert labels == ["All", "Standard", "Premium", "Trial", "Subscribed"]
    current = re.findall(r'aria-current="page" href="\?filter=(\w+)"', filters)
    assert current == [chosen if chosen != "nonsense" else "all"]
    if not shown:
        assert "No connector matches this filter." in page


def test_the_sections_list_trial_and_subscribed_connectors(dynamics_crm, admin_user):
    premium = Connector.objects.create(slug="netsuite", name="NetSuite", description="ERP.", tier="premium")
    entitlements.start_trial(dynamics_crm, admin_user, now=T0)
    entitlements.subscribe(premium, admin_user, now=T0 - 3 * DAY)
    with signed_in_at(T0 + 4 * DAY, admin_user) as client:
        page = client.get("/marketplace/").content.decode()
    assert section(page, "trial-connectors") == (
        "Trial Connectors Dynamics CRM Trial · 10 days left Free trial until 2026-03-16 09:00 UTC"
    )
    assert section(page, "subscribed-connectors") == (
        "Subscribed Connectors NetSuite Subscribed Since 2026-02-27, billed monthly on day 27 (next: 2026-03-27)"
    )
    # A Premium connector without a form here says so, and its tile has no New connection.
    assert "set up NetSuite connections in the Gathr platform" in tile(page, "netsuite")
    assert "New connection" not in tile(page, "netsuite")


def test_it_reads_the_catalogue_in_the_same_number_of_queries_for_any_size(admin_client, django_assert_num_queries):
    with CaptureQueriesContext(db) as few:
        admin_client.get("/marketplace/")
    for number in range(20):
        Connector.objects.create(slug=f"extra-{number}", name=f"Extra {number}", description="x", tier="premium")
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(tile_names(admin_client.get("/marketplace/").content.decode())) == 27


def test_the_page_is_structured_for_assistive_technology(admin_client):
    page = admin_client.get("/marketplace/").content.decode()
    headings = [text_of(h) for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", page)]
    assert headings[:5] == [
        "Connector Marketplace",
        "Trial Connectors",
        "Subscribed Connectors",
        "Connectors",
        "Legend",
    ]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    for slug in ("dynamics-crm", "sftp"):
        assert f'aria-labelledby="connector-{slug}-name"' in page


@pytest.mark.parametrize("template", sorted((TEMPLATES / "marketplace").glob("*.html")), ids=lambda path: path.name)
def test_no_template_has_inline_script_or_style(template):
    text = template.read_text()
    assert "style=" not in text and "<style" not in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert not re.search(r"\son[a-z]+=", text)
