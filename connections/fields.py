"""Form fields shared by the connection form and the admin."""

from django import forms

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
