"""Azure environments (the CData driver's AzureEnvironment values): authority host, Dataverse domains, Graph host."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    authority_host: str
    dataverse_suffixes: tuple[str, ...]  # host must end in ".<suffix>"
    example_url: str
    graph_host: str  # Microsoft Graph of this cloud (the app's own credentials, for their expiry)
    # The audience a federated credential names for this cloud's Entra ID (Microsoft's "Other issuer" page).
    federation_audience: str = "api://AzureADTokenExchange"

    def is_dataverse_host(self, host: str) -> bool:
        return any(host.endswith("." + suffix) for suffix in self.dataverse_suffixes)


# crm, crm2..crm21 regional domains of the commercial cloud (crm9 is GCC); api.crmN hosts too.
_COMMERCIAL = tuple(f"{prefix}crm{n}.dynamics.com" for n in ["", *map(str, range(2, 22))] for prefix in ("", "api."))

CLOUDS = {
    "GLOBAL": Cloud(
        "GLOBAL", "login.microsoftonline.com", _COMMERCIAL, "https://contoso.crm.dynamics.com/", "graph.microsoft.com"
    ),
    "USGOVT": Cloud(
        "USGOVT",
        "login.microsoftonline.us",
        ("crm.microsoftdynamics.us", "api.crm.microsoftdynamics.us"),
        "https://contoso.crm.microsoftdynamics.us/",
        "graph.microsoft.us",
        "api://AzureADTokenExchangeUSGov",
    ),
    "USGOVTDOD": Cloud(
        "USGOVTDOD",
        "login.microsoftonline.us",
        ("crm.appsplatform.us", "api.crm.appsplatform.us"),
        "https://contoso.crm.appsplatform.us/",
        "dod-graph.microsoft.us",
        "api://AzureADTokenExchangeUSGov",
    ),
    "CHINA": Cloud(
        "CHINA",
        "login.chinacloudapi.cn",
        ("crm.dynamics.cn", "api.crm.dynamics.cn"),
        "https://contoso.crm.dynamics.cn/",
        "microsoftgraph.chinacloudapi.cn",
        "api://AzureADTokenExchangeChina",
    ),
}


def cloud_for_host(host: str) -> Cloud | None:
    """The Azure environment whose Dataverse domains contain this host, if any."""
    return next((c for c in CLOUDS.values() if c.is_dataverse_host(host)), None)
