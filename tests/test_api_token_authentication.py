"""The API's token authentication, through a small DRF view: a token acts as its user, and nothing else gets in."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from api_tokens.authentication import TokenAuthentication
from api_tokens.models import ApiToken

pytestmark = pytest.mark.django_db


class WhoAmI(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get(self, request):
        return Response(
            {"user": request.user.get_username(), "token": request.auth.pk, "superuser": request.user.is_superuser}
        )


def call(authorization: str | None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = WhoAmI.as_view()(APIRequestFactory().get("/api/v1/whoami/", **headers))
    response.render()
    return response


@pytest.fixture
def issued(user):
    return ApiToken.issue(user, "CI pipeline", timezone.now() + timedelta(days=7))


def assert_refused(response, message: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.data["detail"] == message


def test_a_valid_token_acts_as_its_user(issued, user):
    row, plaintext = issued
    response = call(f"Bearer {plaintext}")
    assert response.status_code == 200
    assert response.data == {"user": user.get_username(), "token": row.pk, "superuser": False}


def test_the_scheme_is_read_in_any_case(issued):
    assert call(f"bearer {issued[1]}").status_code == 200


def test_a_superusers_token_is_their_user_and_no_one_else(admin_user):
    _, plaintext = ApiToken.issue(admin_user, "admin script")
    assert call(f"Bearer {plaintext}").data["user"] == admin_user.get_username()


def test_it_requires_a_token(issued):
    response = call(None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_rejects_a_wrong_secret(issued):
    row, plaintext = issued
    wrong = plaintext[:-1] + ("0" if plaintext[-1] != "0" else "1")
    assert_refused(call(f"Bearer {wrong}"), "Invalid token.")


def test_it_rejects_an_unknown_prefix(issued):
    _, plaintext = issued
    scheme, _, secret = plaintext.split("_")
    assert_refused(call(f"Bearer {scheme}_{'f' * 12}_{secret}"), "Invalid token.")


@pytest.mark.parametrize("presented", ["gathr_123", "not-a-token", "gathr_ÿ", "Basic dXNlcjpwYXNz"])
def test_it_rejects_what_is_not_a_token(issued, presented):
    response = call(f"Bearer {presented}" if not presented.startswith("Basic") else presented)
    assert response.status_code == 401


def test_it_rejects_a_header_with_no_token_or_more_than_one_part(issued):
    assert_refused(call("Bearer"), "Invalid Authorization header: give “Bearer” and the token, nothing else.")
    assert call(f"Bearer {issued[1]} extra").status_code == 401


def test_it_rejects_a_revoked_token(issued, user):
    row, plaintext = issued
    row.revoke(by=user)
    assert_refused(call(f"Bearer {plaintext}"), "This token has been revoked.")


def test_it_rejects_an_expired_token(issued):
    row, plaintext = issued
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_refused(call(f"Bearer {plaintext}"), "This token has expired.")


def test_it_rejects_the_token_of_an_inactive_user(issued, user):
    user.is_active = False
    user.save()
    assert_refused(call(f"Bearer {issued[1]}"), "This token's user is inactive.")


def test_it_finds_the_token_and_its_user_in_one_query(issued):
    row, plaintext = issued
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        user, token = TokenAuthentication().authenticate_credentials(plaintext)
        assert user.get_username() == "maria"
    assert len(queries) == 1
    assert '"prefix" = ' in queries[0]["sql"]


def test_it_notes_the_last_use_at_most_once_a_minute(issued, monkeypatch):
    row, plaintext = issued
    start = timezone.now()
    for offset, expected in ((0, 0), (30, 0), (61, 61)):
        monkeypatch.setattr(timezone, "now", lambda offset=offset: start + timedelta(seconds=offset))
        assert call(f"Bearer {plaintext}").status_code == 200
        assert ApiToken.objects.get(pk=row.pk).last_used_at == start + timedelta(seconds=expected)


def test_a_repeated_use_within_the_minute_writes_nothing(issued):
    _, plaintext = issued
    call(f"Bearer {plaintext}")
    with CaptureQueriesContext(connection) as queries:
        assert call(f"Bearer {plaintext}").status_code == 200
    assert [query["sql"] for query in queries if not query["sql"].startswith("SELECT")] == []


def test_the_token_is_never_logged(issued, all_logs):
    row, plaintext = issued
    call(f"Bearer {plaintext}")
    call(f"Bearer {plaintext[:-1]}0")
    row.revoke(by=row.user)
    call(f"Bearer {plaintext}")
    assert all_logs, "the revocation at least is logged"
    needle = plaintext.split("_")[2][:24]  # in the wrong token too
    assert not [record for record in all_logs if needle in record.getMessage() or needle in str(record.args)]


class Echo(APIView):
    """As the API is meant to be configured: tokens first (401 with Bearer), then the browser's session."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def post(self, request):
        return Response({"user": request.user.get_username()})


def post_echo(**headers):
    return APIRequestFactory(enforce_csrf_checks=True).post("/api/v1/echo/", {}, format="json", **headers)


def test_a_token_request_needs_no_csrf_token(issued):
    response = Echo.as_view()(post_echo(HTTP_AUTHORIZATION=f"Bearer {issued[1]}"))
    assert response.status_code == 200


def test_a_session_request_still_needs_its_csrf_token(user):
    request = post_echo()
    request.user = user  # signed in by the session, as AuthenticationMiddleware would set it
    response = Echo.as_view()(request)
    assert response.status_code == 403
    assert "CSRF" in str(response.data["detail"])


def test_with_sessions_too_an_anonymous_request_is_told_to_bring_a_bearer_token():
    response = Echo.as_view()(post_echo())
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"'
