"""The Django admin edits every kind of connection; its secrets stay write-only."""

import pytest
from django.urls import reverse

from connections.models import Connection

pytestmark = pytest.mark.django_db


def admin_post(connection: Connection, **changes) -> dict:
    data = {
        "name": connection.name,
        "client_id": connection.client_id,
        "url": connection.url,
        "crm_version": connection.crm_version,
        "azure_tenant": connection.azure_tenant,
        "auth_scheme": connection.auth_scheme,
        "azure_environment": connection.azure_environment,
        "credential_type": connection.credential_type,
        "scope": connection.scope,
        "owner": connection.owner_id,
        "client_secret": "",
        **changes,
    }
    return data


def test_an_ntlm_connection_is_editable_in_the_admin(admin_client, make_connection):
    onprem = make_connection(
        name="On-premises",
        crm_version="CRM2011+",
        auth_scheme="NTLM",
        url="http://crm.contoso.local/Contoso/",
        client_id="",
        azure_tenant="",
        client_secret="",
    )
    url = reverse("admin:connections_connection_change", args=[onprem.pk])
    assert admin_client.get(url).status_code == 200
    changes = {"name": "On-premises renamed", "windows_user": "CONTOSO\\svc-crm", "windows_password": "W1ndows!pass"}
    response = admin_client.post(url, admin_post(onprem, **changes))
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Connection.objects.get(pk=onprem.pk)
    assert (saved.name, saved.windows_user, saved.get_windows_password()) == (
        "On-premises renamed",
        "CONTOSO\\svc-crm",
        "W1ndows!pass",
    )
    assert "W1ndows!pass" not in admin_client.get(url).content.decode()


def test_the_admin_refuses_a_scheme_of_the_other_crm_version(admin_client, make_connection):
    online = make_connection(name="Online")
    url = reverse("admin:connections_connection_change", args=[online.pk])
    response = admin_client.post(url, admin_post(online, auth_scheme="NTLM"))
    assert response.status_code == 200
    assert "NTLM is for CRM2011+ (on-premises) servers: for CRMOnline choose" in response.content.decode()


def test_the_admin_requires_the_tenant_for_crmonline(admin_client, make_connection):
    online = make_connection(name="Online")
    url = reverse("admin:connections_connection_change", args=[online.pk])
    response = admin_client.post(url, admin_post(online, azure_tenant=""))
    assert "Enter the AzureTenant (the Directory (tenant) ID)." in response.content.decode()
    assert Connection.objects.get(pk=online.pk).azure_tenant == online.azure_tenant
