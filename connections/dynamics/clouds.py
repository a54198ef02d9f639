"""Azure environments (the CData driver's AzureEnvironment values): authority host and Dataverse domains."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    authority_host: str
    dataverse_suffixes: tuple[str, ...]  # host must end in ".<suffix>"
    example_url: str

    def is_dataverse_host(self, host: str) -> bool:
        return any(host.endswith("." + suffix) for suffix in self.dataverse_suffixes)


# crm, crm2..crm21 regional domains of the commercial cloud (crm9 is GCC); api.crmN hosts too.
_COMMERCIAL = tuple(f"{prefix}crm{n}.dynamics.com" for n in ["", *map(str, range(2, 22))] for prefix in ("", "api."))

CLOUDS = {
    "GLOBAL": Cloud("GLOBAL", "login.microsoftonline.com", _COMMERCIAL, "https://contoso.crm.dynamics.com/"),
    "USGOVT": Cloud(
        "USGOVT",
        "login.microsoftonline.us",
        ("crm.microsoftdynamics.us", "api.crm.microsoftdynamics.us"),
        "https://contoso.crm.microsoftdynamics.us/",
    ),
    "USGOVTDOD": Cloud(
        "USGOVTDOD",
        "login.microsoftonline.us",
        ("crm.appsplatform.us", "api.crm.appsplatform.us"),
        "https://contoso.crm.appsplatform.us/",
    ),
    "CHINA": Cloud(
        "CHINA",
        "login.chinacloudapi.cn",
        ("crm.dynamics.cn", "api.crm.dynamics.cn"),
        "https://contoso.crm.dynamics.cn/",
    ),
}


def cloud_for_host(host: str) -> Cloud | None:
    """The Azure environment whose Dataverse domains contain this host, if any."""
    return next((c for c in CLOUDS.values() if c.is_dataverse_host(host)), None)
