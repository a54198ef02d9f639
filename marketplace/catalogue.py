"""The marketplace page's view of the catalogue: the filters and which tiles each one shows."""

from marketplace.entitlements import ConnectorStatus, State

# The catalogue's slug of the one connector this application has a connection form for.
DYNAMICS_CRM = "dynamics-crm"

FILTERS = [
    ("all", "All"),
    ("standard", "Standard"),
    ("premium", "Premium"),
    ("trial", "Trial"),
    ("subscribed", "Subscribed"),
]
_TESTS = {
    "all": lambda status: True,
    "standard": lambda status: status.state == State.STANDARD,
    "premium": lambda status: status.connector.is_premium,
    "trial": lambda status: status.state == State.TRIAL,
    "subscribed": lambda status: status.state == State.SUBSCRIBED,
}


def chosen_filter(value: str | None) -> str:
    return value if value in _TESTS else "all"


def filtered(statuses: list[ConnectorStatus], chosen: str) -> list[ConnectorStatus]:
    return [status for status in statuses if _TESTS[chosen](status)]


def in_state(statuses: list[ConnectorStatus], state: State) -> list[ConnectorStatus]:
    return [status for status in statuses if status.state == state]
