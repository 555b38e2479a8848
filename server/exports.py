"""Tables as downloadable files: CSV (UTF-8 with a BOM, so Excel reads Vietnamese) and XLSX.

A view builds a list of ``Column`` and an iterable of row mappings and calls
``render_table(fmt, filename, columns, rows)``; the same rows serve JSON, CSV and XLSX.
A report laid out like a printed appendix adds a ``title`` line, column ``group`` headings
merged above their columns, a number format per column ``kind`` and bold ``totals`` rows.

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
from decimal import Decimal
from typing import Any

from flask import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TYPE_STRING
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

FORMATS = ("csv", "xlsx")
CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel display formats by column kind: the cell holds the number, only its display differs.
NUMBER_FORMATS = {"int": "#,##0", "vnd": "#,##0", "pct": "0.00", "days": "0.0"}
BOLD = Font(bold=True)
CENTRED = Alignment(horizontal="center", vertical="center", wrap_text=True)


@dataclass(frozen=True)
class Column:
    """One column of an export: the row key it reads and the header it shows.

    ``kind`` (``int``, ``vnd``, ``pct`` - 88.96 meaning 88.96 % -, ``days``) sets the XLSX
    number format; ``group`` is a heading shared by neighbouring columns (``Hộ nghèo``
    over ``Số hộ``, ``Số khẩu`` …), merged above them in XLSX and prefixed in CSV.
    """

    key: str
    header: str | None = None
    kind: str | None = None
    group: str | None = None
    width: int | None = None

    @property
    def title(self) -> str:
        return self.header or self.key

    @property
    def flat_title(self) -> str:
        """The header of a one-line header row (CSV): group and header together."""
        return f"{self.group} - {self.title}" if self.group else self.title


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
    if isinstance(value, int | float | Decimal):
        return str(value)
    return neutralise_text(str(value))


def render_csv(
    columns: list[Column], rows: Iterable[Mapping[str, Any]], totals: Iterable[Mapping[str, Any]] = ()
) -> bytes:
    """The table as UTF-8 CSV bytes with a byte-order mark and CRLF line ends; totals last."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise_text(c.flat_title) for c in columns])
    for row in (*rows, *totals):
        writer.writerow([csv_cell(row.get(c.key)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_xlsx(
    columns: list[Column],
    rows: Iterable[Mapping[str, Any]],
    sheet: str = "data",
    *,
    title: str | None = None,
    totals: Iterable[Mapping[str, Any]] = (),
) -> bytes:
    """The table as an XLSX workbook of one sheet; numbers stay numbers, dates stay dates.

    With a ``title``, a bold title line and a blank line come first; with column groups,
    a row of merged group headings sits above the column headers; ``totals`` rows are bold.
    """
    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]  # Excel's limit on sheet names
    header = 1
    if title:
        write_xlsx_row(ws, 1, [title])
        ws.cell(row=1, column=1).font = Font(bold=True, size=13)
        header = 3
    if any(c.group for c in columns):
        write_group_headings(ws, header, columns)
        header += 1
    write_xlsx_row(ws, header, [c.title for c in columns])
    for cell in ws[header]:
        cell.font, cell.alignment = BOLD, CENTRED
    r = header
    for font, group in ((None, rows), (BOLD, totals)):
        for row in group:
            r += 1
            write_xlsx_row(ws, r, [row.get(c.key) for c in columns], columns, font)
    for i, column in enumerate(columns, start=1):
        width = column.width or max(10, min(40, len(column.title) + 2))
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = ws.cell(row=header + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_xlsx_row(
    ws, row_number: int, values: list[Any], columns: list[Column] | None = None, font: Font | None = None
) -> None:
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
            kind = columns[col - 1].kind if columns else None
            if kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[kind]
        if font is not None:
            cell.font = font


def write_group_headings(ws, row_number: int, columns: list[Column]) -> None:
    """Each run of neighbouring columns sharing a group gets one merged, bold heading."""
    start = 0
    for end in range(1, len(columns) + 1):
        if end < len(columns) and columns[end].group == columns[start].group:
            continue
        group = columns[start].group
        if group:
            cell = ws.cell(row=row_number, column=start + 1, value=group)
            cell.data_type, cell.font, cell.alignment = TYPE_STRING, BOLD, CENTRED
            if end - start > 1:
                ws.merge_cells(
                    start_row=row_number, start_column=start + 1, end_row=row_number, end_column=end
                )
        start = end


def render_table(
    fmt: str,
    filename: str,
    columns: list[Column],
    rows: Iterable[Mapping[str, Any]],
    sheet: str = "data",
    *,
    title: str | None = None,
    totals: Iterable[Mapping[str, Any]] = (),
) -> Response:
    """A download response of the table in ``fmt`` (``csv`` or ``xlsx``); ``filename`` has no suffix.

    ``title`` appears in XLSX only (a CSV is one table: header then rows, totals last).
    """
    if fmt == "csv":
        body, mimetype = render_csv(columns, rows, totals), CSV_MIMETYPE
    elif fmt == "xlsx":
        body, mimetype = render_xlsx(columns, rows, sheet, title=title, totals=totals), XLSX_MIMETYPE
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
