"""The form that creates a personal API token: a name and an expiry (a number of days, or a date)."""

from datetime import date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from api_tokens.models import MAX_LIFETIME, ApiToken

ON_A_DATE = "date"
LIFETIMES = [("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"), (ON_A_DATE, "On a date…")]


class TokenForm(forms.Form):
    error_messages = {
        "date_required": "Choose the date the token expires on.",
        "date_past": "The expiry date must be tomorrow or later.",
        "date_too_far": "A token lives at most one year: choose %(latest)s or earlier.",
        "name_taken": "You already have an active token named “%(name)s”. Choose another name, or revoke it first.",
        "control_characters": "The name cannot contain line breaks or control characters.",
    }

    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What the token is for, e.g. “Nightly export”. Only you see it.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    lifetime = forms.ChoiceField(label="Expires", choices=LIFETIMES, initial="90")
    expires_on = forms.DateField(
        label="Expiry date",
        required=False,
        help_text="When Expires is “On a date…”: the token stops working at the start of that day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        today = timezone.localdate()
        self.fields["expires_on"].widget.attrs.update(
            min=(today + timedelta(days=1)).isoformat(), max=(today + MAX_LIFETIME).isoformat()
        )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if any(not character.isprintable() for character in name):
            raise ValidationError(self.error_messages["control_characters"], code="control_characters")
        if ApiToken.objects.active().filter(user=self.user, name=name).exists():
            raise ValidationError(self.error_messages["name_taken"], code="name_taken", params={"name": name})
        return name

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("lifetime"):
            cleaned["expires_at"] = self.expiry(cleaned["lifetime"], cleaned.get("expires_on"))
        return cleaned

    def expiry(self, lifetime: str, expires_on: date | None) -> datetime | None:
        now = timezone.now()
        if lifetime != ON_A_DATE:
            return now + timedelta(days=int(lifetime))
        if expires_on is None:
            self.add_error("expires_on", ValidationError(self.error_messages["date_required"], code="date_required"))
            return None
        today = timezone.localdate(now)
        latest = today + MAX_LIFETIME
        if expires_on <= today:
            self.add_error("expires_on", ValidationError(self.error_messages["date_past"], code="date_past"))
        elif expires_on > latest:
            error = ValidationError(self.error_messages["date_too_far"], code="date_too_far", params={"latest": latest})
            self.add_error("expires_on", error)
        return timezone.make_aware(datetime.combine(expires_on, time.min))
