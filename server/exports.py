"""Tables as downloadable files: CSV (UTF-8 with a BOM, so Excel reads Vietnamese) and XLSX.

A view builds a list of ``Column`` and an iterable of row mappings and calls
``render_table(fmt, filename, columns, rows)``; the same rows serve JSON, CSV and XLSX.

Every text cell is neutralised against formula injection: a spreadsheet treats a cell that
starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) as a formula, so a household
head named ``=HYPERLINK(...)`` typed on a phone would run on a supervisor's desktop. In CSV
such text gets a leading apostrophe (OWASP's advice); in XLSX the cell is written as a plain
string, which Excel and LibreOffice never evaluate, so the text stays exactly as typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TYPE_STRING
from openpyxl.utils import get_column_letter

FORMATS = ("csv", "xlsx")
CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One column of an export: the row key it reads and the header it shows."""

    key: str
    header: str | None = None

    @property
    def title(self) -> str:
        return self.header or self.key


def neutralise_text(text: str) -> str:
    """Text a spreadsheet will not run as a formula (CSV cells)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: Any) -> str:
    """One value as CSV text: ISO dates and timestamps, lowercase booleans, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return neutralise_text(str(value))


def render_csv(columns: list[Column], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The table as UTF-8 CSV bytes with a byte-order mark and CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise_text(c.title) for c in columns])
    for row in rows:
        writer.writerow([csv_cell(row.get(c.key)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_xlsx(columns: list[Column], rows: Iterable[Mapping[str, Any]], sheet: str = "data") -> bytes:
    """The table as an XLSX workbook of one sheet; numbers stay numbers, dates stay dates."""
    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]  # Excel's limit on sheet names
    write_xlsx_row(ws, 1, [c.title for c in columns])
    for r, row in enumerate(rows, start=2):
        write_xlsx_row(ws, r, [row.get(c.key) for c in columns])
    for i, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(column.title) + 2))
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_xlsx_row(ws, row_number: int, values: list[Any]) -> None:
    for col, value in enumerate(values, start=1):
        cell = ws.cell(row=row_number, column=col)
        if isinstance(value, datetime):
            # openpyxl cannot store a time zone; the ISO text keeps the offset.
            cell.value = value.isoformat()
        elif isinstance(value, date):
            cell.value = value
            cell.number_format = "yyyy-mm-dd"
        elif isinstance(value, str):
            # XML 1.0 cannot hold most control characters; a stray one must not fail the export.
            cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cell.data_type = TYPE_STRING  # never a formula, whatever the text starts with
        else:
            cell.value = value


def render_table(
    fmt: str, filename: str, columns: list[Column], rows: Iterable[Mapping[str, Any]], sheet: str = "data"
) -> Response:
    """A download response of the table in ``fmt`` (``csv`` or ``xlsx``); ``filename`` has no suffix."""
    if fmt == "csv":
        body, mimetype = render_csv(columns, rows), CSV_MIMETYPE
    elif fmt == "xlsx":
        body, mimetype = render_xlsx(columns, rows, sheet), XLSX_MIMETYPE
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
