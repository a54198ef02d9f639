"""Behind nginx every sign-in reaches gunicorn from nginx's address: the lockout must count each client's own
address (from X-Forwarded-For, through trusted proxies only), and a client must not choose the address it is
counted by."""

import ipaddress

import pytest
from django.test import Client

from tests.helpers import ADMIN_PASSWORD

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
NGINX = "127.0.0.1"


def sign_in(forwarded_for: str | None, password: str) -> int:
    headers = {"REMOTE_ADDR": NGINX} | ({"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {})
    response = Client().post("/accounts/login/", {"username": "admin", "password": password}, **headers)
    return response.status_code


@pytest.fixture
def behind_nginx(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]


def test_behind_a_trusted_proxy_one_clients_wrong_passwords_do_not_lock_out_another(admin_user, behind_nginx, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("203.0.113.7", "wrong password")
    assert sign_in("203.0.113.7", ADMIN_PASSWORD) == 429  # the guesser is locked out
    assert sign_in("198.51.100.20", ADMIN_PASSWORD) == 302  # the admin at another address signs in


def test_a_client_cannot_choose_its_address_by_sending_x_forwarded_for(admin_user, behind_nginx, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):  # a new spoofed first hop each time, nginx's own last
        sign_in(f"10.9.9.{attempt}, 203.0.113.7", "wrong password")
    assert sign_in("203.0.113.7", ADMIN_PASSWORD) == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(admin_user, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(f"203.0.113.{attempt}", "wrong password")  # every "address" is a lie: all count as REMOTE_ADDR
    assert sign_in(None, ADMIN_PASSWORD) == 429
