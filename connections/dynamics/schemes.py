"""The names of CRM versions and Auth Schemes, as the product page spells them; the models' choices reuse them."""

CRM_ONLINE = "CRMOnline"
CRM_2011 = "CRM2011+"  # on-premises Dynamics CRM 2011 and newer

SERVICE_PRINCIPAL = "AzureServicePrincipal"
AZURE_AD = "AzureAD"
NTLM = "NTLM"
ADFS = "ADFS"

ONLINE_SCHEMES = (SERVICE_PRINCIPAL, AZURE_AD)
ON_PREMISES_SCHEMES = (NTLM, ADFS)
