"""Form fields shared by the connection form and the admin."""

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError

from connections.dynamics.errors import InputError

MAX_SECRET_LENGTH = 1024


def write_only_secret(
    label: str, help_text: str, *, strip: bool, autocomplete: str = "new-password"
) -> forms.CharField:
    """An optional password box that never renders a stored or typed value back into the page."""
    return forms.CharField(
        label=label,
        required=False,
        strip=strip,
        max_length=MAX_SECRET_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": autocomplete}),
        help_text=help_text,
    )


def checked[T](rule: Callable[..., T], *args, **kwargs) -> T:
    """Apply an input rule of the client layer; its InputError becomes the form's ValidationError."""
    try:
        return rule(*args, **kwargs)
    except InputError as error:
        raise ValidationError(error.template, code=error.code, params=error.params or None) from error
