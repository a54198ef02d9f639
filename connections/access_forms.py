"""The Check access form: the extra tables an admin names, beside the common ones."""

import re

from django import forms

from connections.dynamics.access_check import MAX_NAMED

LOGICAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class AccessCheckForm(forms.Form):
    error_messages = {
        "bad_name": "“%(name)s” is not a table's logical name: lower-case letters, digits and _, starting with a "
        "letter, at most 64 characters (for example new_project).",
        "too_many": "Name at most %(max)d tables; you named %(count)d.",
    }
    tables = forms.CharField(
        label="Other tables to read",
        required=False,
        max_length=2000,
        help_text="Logical names, separated by commas or spaces (for example new_project, incident).",
        widget=forms.TextInput(attrs={"placeholder": "new_project, incident", "autocomplete": "off"}),
    )

    def clean_tables(self) -> list[str]:
        names = list(dict.fromkeys(name for name in re.split(r"[\s,]+", self.cleaned_data["tables"]) if name))
        for name in names:
            if not LOGICAL_NAME.fullmatch(name):
                raise forms.ValidationError(self.error_messages["bad_name"], code="bad_name", params={"name": name})
        if len(names) > MAX_NAMED:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": MAX_NAMED, "count": len(names)}
            )
        return names
