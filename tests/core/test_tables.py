"""Tables as cells: layout, cell values, scale and unit, and cells read back from passage text."""

from __future__ import annotations

from core.tables import TableCells, layout, number_value, parse_table_text, scale_in


def test_cells_carry_row_label_column_header_scale_and_unit() -> None:
    grid = [
        ["", "Three Months Ended", "", "Nine Months Ended", ""],
        ["", "July 1, 2023", "June 25, 2022", "July 1, 2023", "June 25, 2022"],
        ["iPhone", "$ 39,669", "$ 40,665", "$ 156,778", "$ 162,863"],
        ["Mac", "6,840", "7,382", "21,743", "28,669"],
    ]
    table = layout(grid).cells(statement="Net sales by category", context="(In millions)")
    assert table.scale == "million" and table.unit == "$" and table.statement == "Net sales by category"
    first = table.cells[0]
    assert (first.row, first.column, first.text) == ("iPhone", "Three Months Ended July 1, 2023", "$ 39,669")
    assert first.value == 39669.0
    assert table.cells[-1].column == "Nine Months Ended June 25, 2022"
    assert TableCells.from_json(table.to_json()) == table
    only_mac = layout(grid).cells(range(1, 2))
    assert {c.row for c in only_mac.cells} == {"Mac"}


def test_number_values_and_scales() -> None:
    assert number_value("$ (1,234.5)") == -1234.5
    assert number_value("12.5%") == 12.5
    assert number_value("−7") == -7.0
    assert number_value("n/a") is None and number_value("") is None
    assert scale_in("(In millions, except per share amounts)") == "million"
    assert scale_in("($ in thousands)") == "thousand"
    assert scale_in("Amounts in US$'000") == "thousand"
    assert scale_in("Revenue grew strongly") == ""


def test_cells_parsed_from_rendered_rows_and_from_pipe_rows() -> None:
    rendered = (
        "Annual report > Results\nYears Ended September 30,\n"
        "Total sales — 2019: $1,496.5; 2018: $1,202.9\nFixed Price — 2019: $1,452.4; 2018: $1,146.2"
    )
    table = parse_table_text(rendered)
    assert table is not None
    assert [(c.row, c.column, c.text) for c in table.cells][:2] == [
        ("Total sales", "2019", "$1,496.5"),
        ("Total sales", "2018", "$1,202.9"),
    ]
    piped = (
        "($ in millions) |  | \nAt December 31: | 2019 | 2018\n"
        "Specific allowance for credit losses | 177 | 220\nTotal allowance for credit losses | 221 | 292"
    )
    table = parse_table_text(piped)
    assert table is not None and table.scale == "million"
    assert ("Total allowance for credit losses", "2019", "221") in [
        (c.row, c.column, c.text) for c in table.cells
    ]
    assert parse_table_text("Plain prose with no table.") is None
