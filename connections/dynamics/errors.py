"""Errors of the client layer, and the pure functions that turn Microsoft Entra ID's answers into advice."""

import re
from dataclasses import dataclass

_AADSTS = re.compile(r"AADSTS(\d+)")
_TRACE_TAIL = re.compile(r"\s*(Trace ID:|Correlation ID:|Timestamp:).*$", re.DOTALL)


class CheckError(Exception):
    """A TEST step failed. `code` names the outcome; `message` and `hint` are written for an admin."""

    def __init__(self, code: str, message: str, hint: str = "", details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.details = details or {}


class InputError(ValueError):
    """An input breaks a rule. `template % params` is the message an admin reads next to the field."""

    def __init__(self, template: str, code: str, params: dict | None = None):
        self.template, self.code, self.params = template, code, params or {}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template


class OutboundBlockedError(Exception):
    """The outbound guard refused an address. Deliberately not an OSError: nothing may retry it."""

    def __init__(self, host: str, ip: str, reason: str):
        super().__init__(f"{host} resolves to {ip}, {reason}")
        self.host, self.ip, self.reason = host, ip, reason


class NameNotResolvedError(Exception):
    """The guard found no address for a host it was to tunnel to. Not an OSError: urllib3 would blame the proxy."""

    def __init__(self, host: str):
        super().__init__(f"{host} cannot be resolved")
        self.host = host


class BudgetExceededError(Exception):
    """The TEST used up its total time budget."""


@dataclass(frozen=True)
class Advice:
    code: str
    message: str
    hint: str


# AADSTS code -> (outcome code, what happened, what the admin should do).
ENTRA_ADVICE: dict[int, Advice] = {
    90002: Advice(
        "tenant_not_found",
        "Microsoft Entra ID does not know this tenant in the {cloud} Azure environment.",
        "Check AzureTenant: enter the Directory (tenant) ID from the app registration's Overview page "
        "(or a verified domain of the tenant), and choose the Azure Environment your tenant lives in.",
    ),
    700016: Advice(
        "application_not_found",
        "The application was not found in the tenant.",
        "Check the Client ID (the Application (client) ID on the app registration's Overview page) "
        "and that AzureTenant is the tenant where the app is registered.",
    ),
    7000215: Advice(
        "invalid_client_secret",
        "Microsoft Entra ID rejected the client secret.",
        "Enter the secret's Value, not its Secret ID (Certificates & secrets > Client secrets shows the "
        "Value only once, when the secret is created; create a new secret if you did not copy it).",
    ),
    7000222: Advice(
        "client_secret_expired",
        "The client secret has expired.",
        "Create a new client secret under Certificates & secrets on the app registration, then enter its "
        "Value here (or switch to a certificate).",
    ),
    700027: Advice(
        "certificate_rejected",
        "Microsoft Entra ID rejected the certificate assertion.",
        "Upload this certificate's public part (.cer) under Certificates & secrets on the app registration, "
        "and check that the private key matches it (compare the thumbprints).",
    ),
    700024: Advice(
        "certificate_rejected",
        "The certificate assertion is outside its valid time range.",
        "Check this server's clock (it must be synchronised with NTP).",
    ),
    700023: Advice(
        "certificate_rejected",
        "The certificate assertion was issued for another audience.",
        "Check AzureTenant and the Azure Environment.",
    ),
    50027: Advice(
        "certificate_rejected",
        "Microsoft Entra ID could not read the certificate assertion.",
        "Upload the certificate again (a PFX with its password, or a PEM with the private key).",
    ),
    500011: Advice(
        "resource_not_found",
        "Microsoft Entra ID does not know the Dataverse environment at this URL in the tenant.",
        "Check the URL (Power Platform admin center > Environments > Environment URL) and the Azure Environment.",
    ),
    70011: Advice(
        "invalid_scope",
        "Microsoft Entra ID refused the requested scope.",
        "Check the URL: it must be the environment's root URL, like https://contoso.crm.dynamics.com/.",
    ),
    1002012: Advice(
        "invalid_scope",
        "Microsoft Entra ID refused the requested scope.",
        "Check the URL: it must be the environment's root URL, like https://contoso.crm.dynamics.com/.",
    ),
    7000112: Advice(
        "application_disabled",
        "The application is disabled in the tenant.",
        "Enable the app's enterprise application (Properties > Enabled for users to sign in).",
    ),
    65001: Advice(
        "consent_required",
        "The application has not been granted consent.",
        "On the app registration's API permissions page, grant admin consent for the tenant.",
    ),
}


def aadsts_code(body: dict) -> int | None:
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    match = _AADSTS.search(str(body.get("error_description", "")))
    return int(match.group(1)) if match else None


def entra_error(body: dict, cloud: str, status: int | None = None) -> CheckError:
    """A CheckError for an Entra ID error body (error, error_description, error_codes, trace_id...)."""
    code = aadsts_code(body)
    description = _TRACE_TAIL.sub("", str(body.get("error_description", ""))).strip()
    details = {key: str(body[key]) for key in ("error", "trace_id", "correlation_id", "timestamp") if body.get(key)}
    if status:
        details["http_status"] = str(status)
    advice = ENTRA_ADVICE.get(code) if code else None
    if advice:
        details["entra_says"] = description
        message = advice.message.format(cloud=cloud).removesuffix(".") + f" (AADSTS{code})."
        return CheckError(advice.code, message, advice.hint, details)
    text = description or str(body.get("error") or "no error description")
    status_text = f" (HTTP {status})" if status else ""
    if (status and status >= 500) or body.get("error") == "temporarily_unavailable":
        return CheckError(
            "entra_unavailable",
            f"Microsoft Entra ID could not answer the token request{status_text}: {text}",
            "Microsoft Entra ID may be having an outage: check https://status.azure.com and TEST again later; "
            "the trace and correlation IDs below identify the request for Microsoft support.",
            details,
        )
    return CheckError(
        "entra_error",
        f"Microsoft Entra ID refused the token request{status_text}: {text}",
        "Check the Client ID, the credential and AzureTenant; the trace and correlation IDs below "
        "identify the request for Microsoft support.",
        details,
    )
