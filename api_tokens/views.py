"""The API tokens page: a user's own tokens, a form to create one (shown once, in the POST's answer), Revoke."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from api_tokens.forms import TokenForm
from api_tokens.models import ApiToken, TokenError

# Where an error of ApiToken.issue (a race the form's own checks lost) is shown.
ERROR_FIELDS = {"name_taken": "name", "expiry_past": "expires_on", "expiry_too_far": "expires_on"}


# The new token exists only in this response, which no cache may keep (never_cache: no-store) and whose
# local variables error reports hide.
@never_cache
@sensitive_variables("plaintext", "created")
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None, user=request.user)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            row, plaintext = ApiToken.issue(request.user, form.cleaned_data["name"], form.cleaned_data["expires_at"])
        except TokenError as error:
            form.add_error(ERROR_FIELDS.get(error.code), ValidationError(str(error), code=error.code))
        else:
            created = {"token": row, "plaintext": plaintext}
            form = TokenForm(user=request.user)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "api_tokens/token_list.html", context(request, form, created), status=status)


def context(request: HttpRequest, form: TokenForm, created: dict | None) -> dict:
    now = timezone.now()
    tokens = [(token, token.state(now)) for token in ApiToken.objects.filter(user=request.user)]
    return {"form": form, "tokens": tokens, "created": created}


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if token.revoke(by=request.user):
        messages.success(request, f"The token “{token.name}” was revoked: it no longer works.")
    else:
        messages.info(request, f"The token “{token.name}” was already revoked.")
    return redirect("api_tokens:list")
