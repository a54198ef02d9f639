"""The pure pieces of a preview: which columns it shows, in which order, and how a value becomes a cell."""

from connections.dynamics.preview_rows import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    Cell,
    TableDefinition,
    cell,
    columns_of,
    odata_v2_rows,
)

ACCOUNT = TableDefinition("account", "accounts", "Account", "accountid", "name")


def attribute(name, type_="String", **extra) -> dict:
    return {"LogicalName": name, "AttributeType": type_, "DisplayName": {"UserLocalizedLabel": {"Label": name.title()}},
            "IsValidForRead": True, "AttributeOf": None, **extra}  # fmt: skip


def test_it_leaves_out_helper_and_unreadable_columns_and_puts_the_name_and_key_first():
    attributes = [
        attribute("telephone1"),
        attribute("accountid", "Uniqueidentifier"),
        attribute("primarycontactidname", AttributeOf="primarycontactid"),
        attribute("primarycontactid", "Lookup"),
        attribute("secret_column", IsValidForRead=False),
        attribute("name"),
    ]
    columns, total = columns_of(attributes, ACCOUNT)
    assert [c.logical_name for c in columns] == ["name", "accountid", "primarycontactid", "telephone1"]
    assert total == 4 and columns[2].property_name == "_primarycontactid_value"
    assert columns[0].display_name == "Name"


def test_it_shows_at_most_max_columns_and_says_how_many_there_were():
    columns, total = columns_of([attribute(f"new_c{n:03}") for n in range(MAX_COLUMNS + 30)], ACCOUNT)
    assert len(columns) == MAX_COLUMNS and total == MAX_COLUMNS + 30


def test_a_cell_keeps_the_formatted_value_and_the_stored_one_and_cuts_long_text():
    assert cell(None) == Cell("", empty=True) and cell("") == Cell("", empty=True)
    assert cell(2, "Large") == Cell("Large", "2")
    assert cell(True, "Yes") == Cell("Yes", "true")
    assert cell("plain") == Cell("plain")
    long = cell("x" * (MAX_CELL_CHARS + 5))
    assert long.cut and len(long.text) == MAX_CELL_CHARS


def test_odata_v2_columns_come_from_the_entries_without_their_metadata():
    body = {"d": {"results": [{"__metadata": {"uri": "..."}, "Name": "Litware",
                               "PrimaryContactId": {"Id": "guid-1", "Name": "Yvonne", "LogicalName": "contact"},
                               "Revenue": {"Value": "20000.0000"}, "StateCode": {"Value": 0}}]}}  # fmt: skip
    rows = odata_v2_rows(body)
    assert [c.logical_name for c in rows.columns] == ["Name", "PrimaryContactId", "Revenue", "StateCode"]
    assert rows.rows == [[Cell("Litware"), Cell("Yvonne", "guid-1"), Cell("20000.0000"), Cell("0")]]
