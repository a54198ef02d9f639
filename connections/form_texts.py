"""The connection form's help texts and field messages, in the product page's words (connections/forms.py)."""

HELP_TEXTS = {
    "auth_scheme": "CRMOnline: AzureServicePrincipal, the app signs in as itself (application permissions "
    "and an application user), or AzureAD, an admin signs in once with Microsoft (delegated permissions, "
    "InitiateOAuth=GETANDREFRESH) and the connection refreshes its token by itself. CRM2011+: NTLM, a "
    "Windows domain account, or ADFS, an AD FS server application (AD FS 2016 or newer).",
    "windows_user": "The Windows account TEST and the platform sign in with, as DOMAIN\\name or "
    "name@domain. It needs a Dynamics CRM user with a security role.",
    "adfs_url": "The address of your AD FS, like https://adfs.contoso.com/adfs (AD FS 2016 or newer).",
    "adfs_resource": "The identifier of the Dynamics CRM relying party trust in AD FS. Leave empty for the "
    "server's root URL (like https://crm.contoso.com/); with IFD it is often https://auth.crm.contoso.com/.",
    "name": "The name shown in the list of available connections.",
    "client_id": "The Application (client) ID on the app registration's Overview page "
    "(Microsoft Entra admin center > App registrations).",
    "url": "The root URL of the organization. CRMOnline: https://contoso.crm.dynamics.com/ "
    "(Power Platform admin center > Environments > Environment URL). "
    "CRM2011+: http://MySite/MyOrganization.",
    "crm_version": "CRMOnline for Dynamics 365 / Dataverse (Office 365 STS); CRM2011+ for an on-premises server.",
    "azure_tenant": "The Directory (tenant) ID on the app registration's Overview page, "
    "or a domain of the tenant such as contoso.onmicrosoft.com.",
    "azure_environment": "The Azure cloud of the tenant: GLOBAL for commercial and GCC "
    "(crm9), USGOVT for GCC High, USGOVTDOD for DoD, CHINA for 21Vianet.",
    "credential_type": "Authenticate the app with its client secret, with a certificate uploaded to the app "
    "registration (OAuthJWTCert), with no secret at all (Federated: the app registration trusts this "
    "site's assertions), or with the managed identity of the Azure machine this app runs on.",
    "managed_identity_type": "The identity of the Azure VM, App Service, AKS cluster or Arc server this app "
    "runs on. It needs an application user in the Dataverse environment, like any app.",
    "managed_identity_id": "User-assigned only: the identity's Client ID or Resource ID (its Properties "
    "page in the Azure portal).",
}

FIELD_ERRORS = {
    "name": {"required": "Enter a Connection Name."},
    "client_id": {"required": "Enter the Client ID (the app registration's Application (client) ID)."},
    "url": {"required": "Enter the URL of the organization, like https://contoso.crm.dynamics.com/."},
    "azure_tenant": {"required": "Enter the AzureTenant (the Directory (tenant) ID)."},
    "windows_user": {"required": "Enter the User, as DOMAIN\\name or name@domain."},
    "adfs_url": {"required": "Enter the AD FS Server, like https://adfs.contoso.com/adfs."},
}
