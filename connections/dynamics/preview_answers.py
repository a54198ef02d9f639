"""What a refusal of a preview means and what to do about it: a table that does not exist, a missing read privilege,
an app blocked by the environment's app access control, its IP firewall; the rest as the TEST explains them."""

import re

from connections.dynamics import dataverse, onprem_api
from connections.dynamics.answers import dataverse_error, onprem_error
from connections.dynamics.errors import CheckError
from connections.dynamics.preview_rows import Answer

TABLE_NOT_FOUND = ("0x80060888", "0x80040217", "0x8006088a")  # segment not found, object does not exist
PRIVILEGE_DENIED = "0x80040220"
APP_BLOCKED = "0x80095ffc"
IP_BLOCKED = "0x80095ffe"
_PRIVILEGE = re.compile(r"missing (prv\w+) privilege")
SECURITY_ROLES = (
    "Power Platform admin center > Environments > the environment > Settings > Users + permissions > Security roles"
)
ONPREM_SECURITY_ROLES = "Dynamics CRM > Settings > Security > Security Roles"
ASSIGN_ONLINE = (
    "assign that role to the application user (Users + permissions > Application users > the app > Edit security "
    "roles) or, for AzureAD, to the signed-in user"
)
ASSIGN_ONPREM = "assign that role to the user (Settings > Security > Users > the user > Manage Roles)"


def too_large(table: str, cap: int) -> CheckError:
    return CheckError(
        "too_large",
        f"The first rows of {table} are larger than {cap // 1024} KiB (a column holds long text or a file), so the "
        "preview stopped reading and shows nothing.",
        "Preview another table; the integration reads this one in smaller pages.",
    )


def refusal(answer: Answer, table: str, action: str, on_premises: bool, principal: str = "") -> CheckError:
    """A CheckError for an answer that is not 200; `principal` names who was refused ("application user")."""
    if on_premises:
        said = onprem_api.answer_of(answer.response, answer.body)
        general = onprem_error(said, action)
        code, message = general.details.get("crm_code", ""), general.details.get("crm_says", "")
    else:
        said = dataverse.answer_of(answer.response, answer.body)
        general = dataverse_error(said, action)
        code, message = said.code, said.message
    principal = principal or ("Dynamics CRM user" if on_premises else "application user")
    specific = _specific(answer.status, code.lower(), message, table, on_premises, principal)
    if specific is None:
        return general
    specific.details.update(general.details)
    return specific


def _specific(status: int, code: str, message: str, table: str, on_premises: bool, principal: str):
    if status == 404:
        return CheckError(
            "table_not_found",
            f"There is no table {table} in this {'organization' if on_premises else 'environment'} (HTTP 404).",
            "Enter a table's logical name (singular, lower case, like account or new_widget): in Power Apps > Tables "
            "> the table > Properties > Advanced options > Logical name.",
        )
    if status == 403 and code == PRIVILEGE_DENIED:
        return _missing_privilege(message, table, on_premises, principal)
    if status == 403 and code == APP_BLOCKED:
        return CheckError(
            "app_blocked",
            "The environment's app access control blocks this app (HTTP 403, 0x80095ffc: access to the Dataverse "
            "API is restricted for this application ID).",
            "In the Power Platform admin center open Security > Identity and access > App access control and allow "
            "the app's Client ID in this environment.",
        )
    if status == 403 and (code == IP_BLOCKED or "access to your ip is blocked" in message.lower()):
        return CheckError(
            "ip_blocked",
            "The environment's IP firewall refused this server's address (HTTP 403).",
            "In the Power Platform admin center open Environments > the environment > Settings > Product > Privacy + "
            "Security > IP address settings and allow this server's outbound address (or allow application users).",
        )
    return None


def _missing_privilege(message: str, table: str, on_premises: bool, who: str) -> CheckError:
    found = _PRIVILEGE.search(message)
    privilege = found.group(1) if found else "the Read privilege"
    where = ONPREM_SECURITY_ROLES if on_premises else SECURITY_ROLES
    assign = ASSIGN_ONPREM if on_premises else ASSIGN_ONLINE
    return CheckError(
        "missing_privilege",
        f"The {who} may not read {table}: it is missing {privilege} (HTTP 403, {PRIVILEGE_DENIED}).",
        f"Give Read on the {table} table ({privilege}) in a security role: {where} > the role > its table "
        f"privileges; then {assign}.",
        {"privilege": privilege},
    )
