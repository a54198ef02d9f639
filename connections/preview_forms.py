"""The Preview card's one field: a table's logical name (templates/connections/_preview.html writes its input)."""

from django import forms

from connections.table_preview import TABLE_NAME


class PreviewForm(forms.Form):
    error_messages = {
        "table_name": "Enter a table's logical name: lower case letters, digits and underscores, starting with a "
        "letter, at most 64 characters (like account or new_widget).",
    }

    table = forms.CharField(
        label="Table",
        max_length=64,
        error_messages={
            "required": "Enter the logical name of the table to preview, like account.",
            "max_length": "A table's logical name has at most 64 characters.",
        },
    )

    def clean_table(self) -> str:
        table = self.cleaned_data["table"].strip()
        if not TABLE_NAME.fullmatch(table):
            raise forms.ValidationError(self.error_messages["table_name"], code="table_name")
        return table
