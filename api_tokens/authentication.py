"""Django REST framework authentication by personal API token: `Authorization: Bearer gathr_<prefix>_<secret>`.

A token acts exactly as its user: `request.user` is the token's user (with that user's permissions, no more) and
`request.auth` the token's row. The token itself is never logged nor put in an error message.
"""

from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from api_tokens import token_text
from api_tokens.models import ApiToken

KEYWORD = "Bearer"
# last_used_at is written at most this often per token, so that the API is not a database write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenAuthentication(BaseAuthentication):
    """Bearer personal API tokens. No Authorization header, or another scheme: not ours (None)."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid Authorization header: give “Bearer” and the token, nothing else.")
        try:
            presented = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token.") from None
        return self.authenticate_credentials(presented)

    def authenticate_credentials(self, presented: str):
        token = self.matching_token(presented)
        now = timezone.now()
        if token.revoked_at is not None:
            raise AuthenticationFailed("This token has been revoked.")
        if token.expires_at <= now:
            raise AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise AuthenticationFailed("This token's user is inactive.")
        token.touch(now, LAST_USED_RESOLUTION)
        return token.user, token

    def matching_token(self, presented: str) -> ApiToken:
        """The row of `presented` (one indexed query, its user joined), compared in constant time."""
        prefix = token_text.prefix_of(presented)
        token = ApiToken.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
        if token is None or not token_text.matches(presented, token.digest):
            raise AuthenticationFailed("Invalid token.")
        return token

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="api"'
