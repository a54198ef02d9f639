"""What an environment holds: its tables (EntityMetadata), their columns (AttributeMetadata) and rows.

Every environment starts with :func:`default_catalogue`: realistic public tables (account, contact,
lead, opportunity, incident, systemuser, businessunit, team) with a few rows, and private ones
(``IsPrivate`` true) that ``$filter=IsPrivate eq false`` removes. ``Simulator.add_table`` adds more.

Column types are Dataverse's ``AttributeTypeCode`` names: String, Memo, Lookup, Customer, Owner,
Picklist, State, Status, Money, DateTime, Integer, BigInt, Decimal, Double, Boolean, Uniqueidentifier.
A row is a dict by column logical name; a lookup's value is ``(guid, name)`` or ``(guid, name, table)``,
a Picklist's an int (its labels in ``Column.options``), a DateTime's a ``datetime`` or ISO string.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

COLUMN_TYPES = (
    "String",
    "Memo",
    "Lookup",
    "Customer",
    "Owner",
    "Picklist",
    "State",
    "Status",
    "Money",
    "DateTime",
    "Integer",
    "BigInt",
    "Decimal",
    "Double",
    "Boolean",
    "Uniqueidentifier",
)
LOOKUP_TYPES = ("Lookup", "Customer", "Owner")
OPTION_TYPES = ("Picklist", "State", "Status")
# The SchemaName (what OData v2 and the privileges use) of the default catalogue's columns.
SCHEMA_NAMES = {
    name.lower(): name
    for name in (
        "Name AccountNumber Revenue IndustryCode NumberOfEmployees PrimaryContactId DoNotEMail Telephone1 CreatedOn "
        "OwnerId StateCode FullName EMailAddress1 ParentCustomerId BirthDate Subject EstimatedValue CustomerId Title "
        "DomainName AccountId ContactId LeadId OpportunityId IncidentId SystemUserId BusinessUnitId TeamId"
    ).split()
}
_NAMESPACE = uuid.UUID("6f1d3c1e-6b8e-4a52-9d7e-5a4b0c2d1e90")


def stable_guid(*parts: str) -> str:
    """The same GUID for the same names in every run (metadata ids, privilege ids, sample rows)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def label(text: str, language_code: int = 1033) -> dict:
    """Dataverse's Label complex type (``LocalizedLabels`` and ``UserLocalizedLabel``)."""
    localized = {
        "Label": text,
        "LanguageCode": language_code,
        "IsManaged": True,
        "MetadataId": stable_guid("label", text),
        "HasChanged": None,
    }
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": dict(localized)}


@dataclass
class Column:
    logical_name: str
    type: str = "String"
    display_name: str = ""
    target: str = ""  # the table a lookup points to
    options: dict[int, str] = field(default_factory=dict)  # Picklist values and their labels
    schema_name: str = ""

    def __post_init__(self) -> None:
        if self.type == "OptionSet":
            self.type = "Picklist"
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"unknown column type {self.type!r}; one of {COLUMN_TYPES}")
        self.logical_name = self.logical_name.lower()
        self.schema_name = self.schema_name or SCHEMA_NAMES.get(self.logical_name, self.logical_name)
        self.display_name = self.display_name or self.logical_name

    @property
    def property_name(self) -> str:
        """The Web API property: ``_parentcustomerid_value`` for a lookup, else the logical name."""
        return f"_{self.logical_name}_value" if self.type in LOOKUP_TYPES else self.logical_name


@dataclass
class Table:
    logical_name: str
    entity_set_name: str
    display_name: str
    object_type_code: int
    schema_name: str = ""
    primary_name: str = "name"
    is_private: bool = False
    is_custom: bool = False
    display_collection_name: str = ""
    columns: dict[str, Column] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.logical_name = self.logical_name.lower()
        self.schema_name = self.schema_name or self.logical_name.capitalize()
        self.display_collection_name = self.display_collection_name or f"{self.display_name}s"
        key = Column(self.primary_id, "Uniqueidentifier", self.display_name)
        self.columns = {key.logical_name: key, **self.columns}

    @property
    def primary_id(self) -> str:
        return f"{self.logical_name}id"

    @property
    def metadata_id(self) -> str:
        return stable_guid("entity", self.logical_name)

    @property
    def read_privilege(self) -> str:
        """``prvReadAccount``, ``prvReadnew_Widget``; systemuser's is ``prvReadUser``, as in Dataverse."""
        return "prvReadUser" if self.logical_name == "systemuser" else f"prvRead{self.schema_name}"

    def add_row(self, values: dict) -> dict:
        unknown = set(values) - set(self.columns)
        if unknown:
            raise ValueError(f"{self.logical_name} has no column {sorted(unknown)}; add it with columns=")
        row = {name.lower(): value for name, value in values.items()}
        row.setdefault(self.primary_id, str(uuid.uuid4()))
        row.setdefault("@version", 72201545 + len(self.rows))  # the row's etag, W/"<version>"
        self.rows.append(row)
        return row


def _table(logical, entity_set, display, otc, schema, columns=(), **kwargs) -> Table:
    return Table(logical, entity_set, display, otc, schema, columns={c.logical_name: c for c in columns}, **kwargs)


def _common() -> list[Column]:
    return [
        Column("createdon", "DateTime", "Created On"),
        Column("ownerid", "Owner", "Owner", target="systemuser"),
        Column("statecode", "State", "Status", options={0: "Active", 1: "Inactive"}),
    ]


def _public_tables() -> list[Table]:
    industry = {1: "Accounting", 2: "Agriculture and Non-petrol Natural Resource Extraction", 7: "Consulting"}
    return [
        _table(
            "account",
            "accounts",
            "Account",
            1,
            "Account",
            [
                Column("name", "String", "Account Name"),
                Column("accountnumber", "String", "Account Number"),
                Column("revenue", "Money", "Annual Revenue"),
                Column("industrycode", "Picklist", "Industry", options=industry),
                Column("numberofemployees", "Integer", "Number of Employees"),
                Column("primarycontactid", "Lookup", "Primary Contact", target="contact"),
                Column("donotemail", "Boolean", "Do not allow Emails", options={0: "Allow", 1: "Do Not Allow"}),
                Column("telephone1", "String", "Main Phone"),
                *_common(),
            ],
        ),
        _table(
            "contact",
            "contacts",
            "Contact",
            2,
            "Contact",
            [
                Column("fullname", "String", "Full Name"),
                Column("emailaddress1", "String", "Email"),
                Column("parentcustomerid", "Customer", "Company Name", target="account"),
                Column("birthdate", "DateTime", "Birthday"),
                *_common(),
            ],
            primary_name="fullname",
        ),
        _table(
            "lead",
            "leads",
            "Lead",
            4,
            "Lead",
            [Column("subject", "String", "Topic"), Column("fullname", "String", "Name"), *_common()],
            primary_name="fullname",
        ),
        _table(
            "opportunity",
            "opportunities",
            "Opportunity",
            3,
            "Opportunity",
            [
                Column("name", "String", "Topic"),
                Column("estimatedvalue", "Money", "Est. Revenue"),
                Column("customerid", "Customer", "Potential Customer", target="account"),
                *_common(),
            ],
            display_collection_name="Opportunities",
        ),
        _table(
            "incident",
            "incidents",
            "Case",
            112,
            "Incident",
            [
                Column("title", "String", "Case Title"),
                Column("customerid", "Customer", "Customer", target="account"),
                *_common(),
            ],
            primary_name="title",
        ),
        _table(
            "systemuser",
            "systemusers",
            "User",
            8,
            "SystemUser",
            [Column("fullname", "String", "Full Name"), Column("domainname", "String", "User Name")],
            primary_name="fullname",
        ),
        _table(
            "businessunit", "businessunits", "Business Unit", 10, "BusinessUnit", [Column("name", "String", "Name")]
        ),
        _table("team", "teams", "Team", 9, "Team", [Column("name", "String", "Team Name")]),
    ]


def _private_tables() -> list[Table]:
    names = [
        ("principalobjectaccess", "principalobjectaccessset", "Principal Object Access", 11, "PrincipalObjectAccess"),
        ("subscription", "subscriptions", "Subscription", 29, "Subscription"),
        ("internaladdress", "internaladdresses", "Internal Address", 1003, "InternalAddress"),
        ("imagedescriptor", "imagedescriptors", "Image Descriptor", 1007, "ImageDescriptor"),
    ]
    return [_table(*spec, is_private=True) for spec in names]


def _sample_rows(tables: dict[str, Table]) -> None:
    contact_id = stable_guid("row", "contact", "1")
    account_id = stable_guid("row", "account", "1")
    owner = (stable_guid("row", "systemuser", "1"), "Maria Garcia")
    tables["systemuser"].add_row({"systemuserid": owner[0], "fullname": owner[1], "domainname": "maria@contoso.com"})
    tables["contact"].add_row(
        {
            "contactid": contact_id,
            "fullname": "Yvonne McKay (sample)",
            "emailaddress1": "someone_a@example.com",
            "parentcustomerid": (account_id, "Litware, Inc. (sample)", "account"),
            "createdon": "2024-03-01T10:00:00Z",
            "ownerid": owner,
            "statecode": 0,
        }
    )
    tables["account"].add_row(
        {
            "accountid": account_id,
            "name": "Litware, Inc. (sample)",
            "accountnumber": "ABC28UU7",
            "revenue": 20000.0,
            "industrycode": 1,
            "numberofemployees": 1200,
            "primarycontactid": (contact_id, "Yvonne McKay (sample)"),
            "donotemail": False,
            "createdon": "2024-03-01T09:30:00Z",
            "ownerid": owner,
            "statecode": 0,
        }
    )
    # An account with most columns empty: an app that lists columns from the rows alone misses them.
    tables["account"].add_row({"name": "Adventure Works (sample)", "ownerid": owner, "statecode": 0})
    tables["lead"].add_row({"subject": "New store opened", "fullname": "Susanna Stubberod (sample)", "statecode": 0})
    tables["businessunit"].add_row({"name": "contoso"})
    tables["team"].add_row({"name": "contoso"})


def default_catalogue() -> dict[str, Table]:
    tables = {t.logical_name: t for t in _public_tables() + _private_tables()}
    _sample_rows(tables)
    return tables


class Catalogue:
    """The tables of every environment (or on-premises organization), created on first use; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._tables: dict[str, dict[str, Table]] = {}

    def tables(self, env_key: str) -> dict[str, Table]:
        with self._lock:
            if env_key not in self._tables:
                self._tables[env_key] = default_catalogue()
            return self._tables[env_key]

    def find(self, env_key: str, logical_name: str) -> Table | None:
        return self.tables(env_key).get(logical_name.lower())

    def by_entity_set(self, env_key: str, entity_set: str) -> Table | None:
        return next((t for t in self.tables(env_key).values() if t.entity_set_name == entity_set), None)
