"""What kind of answer a request wants."""

from django.http import HttpRequest


def wants_json(request: HttpRequest) -> bool:
    """The page's scripts (fetch) ask for JSON; a browser's plain navigation does not."""
    return "application/json" in request.headers.get("Accept", "")
