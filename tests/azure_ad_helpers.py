"""An AzureAD (delegated) connection in the simulator's tenant, and the admin's sign-in for it."""

from tests.test_azure_ad import CALLBACK, SITE, UPN, deliver, microsoft_answer


def add_delegated_connection(microsoft, settings, make_connection):
    """Maria (a Dataverse user), the app's callback, and a saved AzureAD connection: microsoft.saved."""
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["testserver", "gathr.example.com"]
    sim = microsoft.sim
    microsoft.person = sim.add_user(microsoft.tenant.tenant_id, upn=UPN, display_name="Maria Garcia")
    sim.add_redirect_uri(microsoft.app.client_id, CALLBACK)
    microsoft.member = sim.add_dataverse_user(microsoft.env.url, microsoft.person.object_id)
    microsoft.saved = make_connection(
        name="Contoso delegated",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
        auth_scheme="AzureAD",
        callback_url=CALLBACK,
    )
    return microsoft


def sign_in(client, microsoft) -> str:
    """Sign in with Microsoft as Maria; the connection page the admin lands on."""
    return deliver(client, microsoft_answer(client, microsoft.saved))
