"""The on-premises test network's names and Windows password, and a valid POST for an NTLM connection."""

from tests.helpers import form_data

ONPREM_PASSWORD = "Pa55w.rd on-premises 42!"
ONPREM_HTTP_HOSTS = ("crm.contoso.local", "crm2016.contoso.local", "crm2011.contoso.local", "www.contoso.local")
ONPREM_HTTPS_HOSTS = ("crm.contoso.com", "adfs.contoso.com")


def onprem_form_data(**overrides) -> dict:
    """A valid POST for a CRM2011+ connection with NTLM (the account of the `onprem` fixture)."""
    values = {
        "client_id": "",
        "client_secret": "",
        "azure_tenant": "",
        "url": "http://crm.contoso.local/Contoso/",
        "crm_version": "CRM2011+",
        "auth_scheme": "NTLM",
        "windows_user": "CONTOSO\\maria",
        "windows_password": ONPREM_PASSWORD,
        **overrides,
    }
    return form_data(**values)
