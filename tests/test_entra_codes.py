"""Every AADSTS code the product gives advice for, produced by the simulator's Entra ID and read as the admin
reads it: the TEST answer's message and hint, or the message on the connection page after a sign-in.

One table per place the codes are explained: ENTRA_ADVICE (any TEST), SIGN_IN_AGAIN_CODES (the TEST of an
AzureAD connection refreshing its stored sign-in) and sign_in_error (the sign-in's callback). The directory
reaches most codes by itself; `set_aadsts` answers the others exactly as Entra sends them. AADSTS50011 and
500113 (redirect URI) are not in the table of the callback: Entra shows them on its own page and never sends
the browser back (tests/test_azure_ad.py delivers one by hand).
"""

import datetime as dt
import html
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from connections.dynamics.delegated import SIGN_IN_AGAIN_CODES
from connections.dynamics.errors import ENTRA_ADVICE
from connections.models import Connection
from tests.azure_ad_helpers import add_delegated_connection, sign_in
from tests.helpers import form_data
from tests.simulator import make_certificate
from tests.test_azure_ad import deliver, microsoft_answer, three_hours_later
from tests.test_connection_test import good

pytestmark = pytest.mark.django_db

TOKEN = "/oauth2/v2.0/token"


@dataclass(frozen=True)
class Case:
    arrange: Callable  # (microsoft) -> the form's fields that differ from good(); the simulator set up
    message: str  # what follows "Connection unavailable: Token from Entra ID failed. "
    hint: str


@pytest.fixture(scope="module")
def certificate():
    return make_certificate("gathr-entra-codes")


def with_certificate(microsoft, registered: bool = True) -> dict:
    if registered:
        microsoft.sim.add_certificate(microsoft.app.client_id, microsoft.certificate.cert_pem)
    pem = (microsoft.certificate.key_pem + microsoft.certificate.cert_pem).encode()
    upload = SimpleUploadedFile("gathr.pem", pem, "application/x-pem-file")
    return {"credential_type": "certificate", "client_secret": "", "certificate": upload}


def answered(code: int):
    """Entra answers this TEST's token request with AADSTS`code` (the directory cannot get there itself)."""

    def arrange(microsoft) -> dict:
        microsoft.sim.set_aadsts(code, path=TOKEN)
        return {}

    return arrange


def expired_secret(microsoft) -> dict:
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    return {"client_secret": microsoft.sim.add_secret(microsoft.app.client_id, expires_at=yesterday).value}


def clock_an_hour_ahead(microsoft) -> dict:
    microsoft.sim.advance(3600)  # Entra's clock: the assertion this server signs has expired on arrival
    return with_certificate(microsoft)


def disabled_app(microsoft) -> dict:
    microsoft.sim.disable_app(microsoft.app.client_id)
    return {}


def certificate_answered(code: int):
    def arrange(microsoft) -> dict:
        microsoft.sim.set_aadsts(code, path=TOKEN)
        return with_certificate(microsoft)

    return arrange


SCOPE_HINT = "Check the URL: it must be the environment's root URL, like https://contoso.crm.dynamics.com/."
APP_CASES = {
    90002: Case(
        lambda m: {"azure_tenant": str(uuid.uuid4())},
        "Microsoft Entra ID does not know this tenant in the GLOBAL Azure environment (AADSTS90002).",
        "Check AzureTenant: enter the Directory (tenant) ID",
    ),
    700016: Case(
        lambda m: {"client_id": str(uuid.uuid4())},
        "The application was not found in the tenant (AADSTS700016).",
        "Check the Client ID (the Application (client) ID",
    ),
    7000215: Case(
        lambda m: {"client_secret": m.secret.secret_id},
        "Microsoft Entra ID rejected the client secret (AADSTS7000215).",
        "Enter the secret's Value, not its Secret ID",
    ),
    7000222: Case(
        expired_secret,
        "The client secret has expired (AADSTS7000222).",
        "Create a new client secret under Certificates & secrets",
    ),
    700027: Case(
        lambda m: with_certificate(m, registered=False),
        "Microsoft Entra ID rejected the certificate assertion (AADSTS700027).",
        "Upload this certificate's public part (.cer) under Certificates & secrets",
    ),
    700024: Case(
        clock_an_hour_ahead,
        "The certificate assertion is outside its valid time range (AADSTS700024).",
        "Check this server's clock (it must be synchronised with NTP).",
    ),
    700023: Case(
        certificate_answered(700023),
        "The certificate assertion was issued for another audience (AADSTS700023).",
        "Check AzureTenant and the Azure Environment.",
    ),
    50027: Case(
        certificate_answered(50027),
        "Microsoft Entra ID could not read the certificate assertion (AADSTS50027).",
        "Upload the certificate again (a PFX with its password, or a PEM with the private key).",
    ),
    500011: Case(
        lambda m: {"url": "https://fabrikam.crm.dynamics.com/"},
        "Microsoft Entra ID does not know the Dataverse environment at this URL in the tenant (AADSTS500011).",
        "Check the URL (Power Platform admin center > Environments > Environment URL)",
    ),
    70011: Case(answered(70011), "Microsoft Entra ID refused the requested scope (AADSTS70011).", SCOPE_HINT),
    1002012: Case(answered(1002012), "Microsoft Entra ID refused the requested scope (AADSTS1002012).", SCOPE_HINT),
    7000112: Case(
        disabled_app,
        "The application is disabled in the tenant (AADSTS7000112).",
        "Enable the app's enterprise application (Properties > Enabled for users to sign in).",
    ),
    65001: Case(
        answered(65001),
        "The application has not been granted consent (AADSTS65001).",
        "On the app registration's API permissions page, grant admin consent for the tenant.",
    ),
}


def test_every_code_of_the_advice_table_has_a_case():
    assert set(APP_CASES) == set(ENTRA_ADVICE)


@pytest.mark.parametrize("code", APP_CASES)
def test_it_explains_each_entra_code_on_test(admin_client, microsoft, certificate, code):
    case = APP_CASES[code]
    microsoft.certificate = certificate
    fields = good(microsoft, **case.arrange(microsoft))
    response = admin_client.post(
        "/connections/new/", form_data(action="test", **fields), HTTP_ACCEPT="application/json"
    )
    answer = response.json()
    assert answer["ok"] is False
    assert answer["message"] == f"Connection unavailable: Token from Entra ID failed. {case.message}"
    assert case.hint in answer["hint"]
    shown = html.unescape(answer["html"])
    assert case.message in shown and case.hint in shown
    assert "correlation_id" in shown and "entra_says" in shown  # Entra's own words and ids, for support


# --- The TEST of an AzureAD connection: a refused refresh asks to sign in again ---------------------------

REFRESH_REFUSED = "Microsoft Entra ID refused to refresh the stored sign-in"


def restored_from_a_backup(microsoft, client):
    """A refresh under revoke-old rotation, then the database restored from before it: the old token is spent."""
    microsoft.sim.set_refresh_token_rotation(rotate=True, revoke_old=True)
    backup = Connection.objects.get(pk=microsoft.saved.pk).token_cache_encrypted
    assert click_test(client, microsoft)["ok"] is True
    Connection.objects.filter(pk=microsoft.saved.pk).update(token_cache_encrypted=backup)


def refresh_answered(code: int):
    return lambda microsoft, client: microsoft.sim.set_aadsts(code, path=TOKEN)


REFRESH_CASES = {
    700082: (
        lambda m, c: m.sim.set_refresh_token_lifetime(3600),
        "The stored sign-in expired after a long time without use (AADSTS700082).",
    ),
    50173: (
        lambda m, c: m.sim.revoke_refresh_tokens(m.person.object_id),
        "The stored sign-in was revoked (a password change or an administrator's action) (AADSTS50173).",
    ),
    70008: (restored_from_a_backup, f"{REFRESH_REFUSED} (AADSTS70008)."),
    50076: (lambda m, c: m.sim.require_interaction(m.person.object_id), f"{REFRESH_REFUSED} (AADSTS50076)."),
    65001: (lambda m, c: m.sim.require_admin_consent(m.app.client_id), f"{REFRESH_REFUSED} (AADSTS65001)."),
    70000: (refresh_answered(70000), f"{REFRESH_REFUSED} (AADSTS70000)."),
    54005: (refresh_answered(54005), f"{REFRESH_REFUSED} (AADSTS54005)."),
    50078: (refresh_answered(50078), f"{REFRESH_REFUSED} (AADSTS50078)."),
    50079: (refresh_answered(50079), f"{REFRESH_REFUSED} (AADSTS50079)."),
    50158: (refresh_answered(50158), f"{REFRESH_REFUSED} (AADSTS50158)."),
    53003: (refresh_answered(53003), f"{REFRESH_REFUSED} (AADSTS53003)."),
}


@pytest.fixture
def delegated(microsoft, settings, make_connection, admin_client):
    add_delegated_connection(microsoft, settings, make_connection)
    assert "Signed in to Microsoft as Maria Garcia" in sign_in(admin_client, microsoft)
    return microsoft


def click_test(client, microsoft) -> dict:
    return client.post(f"/connections/{microsoft.saved.pk}/test/", HTTP_ACCEPT="application/json").json()


def test_every_sign_in_again_code_has_a_case():
    assert set(REFRESH_CASES) == SIGN_IN_AGAIN_CODES


@pytest.mark.parametrize("code", REFRESH_CASES)
def test_it_asks_to_sign_in_again_for_each_refresh_only_a_person_can_cure(admin_client, delegated, code):
    arrange, message = REFRESH_CASES[code]
    with three_hours_later():  # the access token expired: TEST must redeem the refresh token
        arrange(delegated, admin_client)
        answer = click_test(admin_client, delegated)
    assert answer["ok"] is False
    assert answer["message"] == f"Connection unavailable: Token from Entra ID failed. {message}"
    assert answer["hint"] == (
        "Click “Sign in again” and sign in with an account that can use this Dataverse environment."
    )
    assert "Sign in again</button>" in answer["html"]


# --- The sign-in's callback ------------------------------------------------------------------------------

SIGN_IN_CASES = {
    65004: (
        lambda m: None,
        {"cancel": True},
        "Sign in with Microsoft failed: The sign-in was cancelled. Click “Sign in with Microsoft” to try again.",
    ),
    65001: (
        lambda m: m.sim.require_admin_consent(m.app.client_id),
        {},
        "Sign in with Microsoft failed: The app has not been granted consent to use Dynamics CRM on behalf of "
        "users (AADSTS65001). On the app registration's API permissions page, add the Dynamics CRM delegated "
        "permission user_impersonation and click “Grant admin consent” for the tenant.",
    ),
    500112: (
        lambda m: m.sim.set_aadsts(500112, path=TOKEN),
        {},
        "Sign in with Microsoft failed: The redirect URI does not match the app registration (AADSTS500112). "
        "On the app registration's Authentication page add a Web redirect URI equal to the Callback URL shown "
        "on this connection, exactly",
    ),
}


@pytest.fixture
def not_signed_in(microsoft, settings, make_connection):
    return add_delegated_connection(microsoft, settings, make_connection)


@pytest.mark.parametrize("code", SIGN_IN_CASES)
def test_it_explains_each_code_the_sign_in_can_end_with(admin_client, not_signed_in, code):
    arrange, options, message = SIGN_IN_CASES[code]
    arrange(not_signed_in)
    page = html.unescape(deliver(admin_client, microsoft_answer(admin_client, not_signed_in.saved, **options)))
    assert message in page
    assert not Connection.objects.get(pk=not_signed_in.saved.pk).is_signed_in
