"""The fast paths of the two busiest pages render the same HTML as the slow ones they replaced.

The connection form's fields are drawn by one Jinja2 template (jinja2/connections/connection_fields.html) instead
of crispy-forms and crispy-bootstrap5's Django templates; the Connections page's rows through
jinja2/connections/list_rows.html.
"""

import re

import pytest
from crispy_forms.utils import render_crispy_form
from django.forms.renderers import DjangoTemplates

from connections.forms import ConnectionForm
from gathr_connector.jinja2 import crispy_widget

pytestmark = pytest.mark.django_db


def crispy_bootstrap5(form: ConnectionForm) -> str:
    """The form's layout (its FormHelper) as crispy-bootstrap5 (the project's field.html) and Django's widget
    templates draw it."""
    form.renderer = DjangoTemplates()
    return render_crispy_form(form)


def same_markup(html: str) -> str:
    html = html.replace("&#x27;", "&#39;")
    html = re.sub(r"\s+", " ", html)
    html = re.sub(r"\s*(<|>)\s*", r"\1", html)
    return re.sub(r"(<[a-z]+) +", r"\1 ", html)


CASES = {
    "new": {},
    "errors": {"name": "", "client_id": "zz", "url": "ftp://x", "crm_version": "CRMOnline"},
    "azure ad": {"auth_scheme": "AzureAD", "credential_type": "certificate", "url": "https://x.crm.dynamics.com/"},
    "ntlm": {"crm_version": "CRM2011+", "auth_scheme": "NTLM", "windows_user": "<b>CONTOSO\\maria</b>"},
}


@pytest.mark.parametrize("case", CASES)
def test_the_fields_render_exactly_as_crispy_bootstrap5_draws_them(case, monkeypatch):
    from connections import secretless

    # Each form gets a new federated subject (and its signed token): the same one for both renderings here.
    monkeypatch.setattr(secretless, "new_subject", lambda: secretless.SUBJECT_PREFIX + "0" * 36)
    monkeypatch.setattr(secretless, "subject_token", lambda subject: "signed:" + subject)

    def form() -> ConnectionForm:
        data = CASES[case]
        made = ConnectionForm(data) if data else ConnectionForm()
        if data:
            made.is_valid()
        return made

    fast = form().fields_html()
    assert same_markup(fast) == same_markup(crispy_bootstrap5(form()))
    assert "&lt;b&gt;CONTOSO" in fast or case != "ntlm"  # what was typed is escaped


def test_a_kind_of_field_the_template_does_not_lay_out_is_an_error_not_a_wrong_page():
    from django import forms

    class WithCheckbox(forms.Form):
        agree = forms.BooleanField()

    with pytest.raises(TypeError, match="CheckboxInput"):
        crispy_widget(WithCheckbox()["agree"], "form-check-input")


def test_the_list_rows_escape_what_users_typed(admin_client, make_connection):
    make_connection(name="<script>alert(1)</script>", azure_tenant="contoso.onmicrosoft.com")
    html = admin_client.get("/connections/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
