"""Exports read back as the table they were given, and never carry a live formula."""

import csv
import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from server.exports import Column, render_csv, render_table, render_xlsx

COLUMNS = [Column("name", "Tên chủ hộ"), Column("amount"), Column("due"), Column("at"), Column("ok")]
ROWS = [
    {"name": "Hồ Văn Thương", "amount": 5_000_000, "due": date(2020, 9, 30), "at": None, "ok": True},
    {
        "name": '=HYPERLINK("http://x")',
        "amount": None,
        "due": None,
        "at": datetime(2020, 6, 1, 2, 0, tzinfo=UTC),
        "ok": False,
    },
    {"name": "-1+2\x07", "amount": -3, "due": None, "at": None, "ok": None},
]


def test_csv_has_a_bom_and_neutralises_formulas():
    body = render_csv(COLUMNS, ROWS)
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["Tên chủ hộ", "amount", "due", "at", "ok"]
    assert rows[1] == ["Hồ Văn Thương", "5000000", "2020-09-30", "", "true"]
    assert rows[2][0] == '\'=HYPERLINK("http://x")'
    assert rows[2][3] == "2020-06-01T02:00:00+00:00"
    assert rows[3][0].startswith("'-1+2") and rows[3][1] == "-3"


def test_xlsx_keeps_types_and_writes_formulas_as_text():
    ws = load_workbook(io.BytesIO(render_xlsx(COLUMNS, ROWS, sheet="delays"))).active
    assert ws.title == "delays"
    assert [c.value for c in ws[1]] == ["Tên chủ hộ", "amount", "due", "at", "ok"]
    assert ws["A2"].value == "Hồ Văn Thương" and ws["B2"].value == 5_000_000
    assert ws["C2"].value.date() == date(2020, 9, 30)
    assert ws["A3"].value == '=HYPERLINK("http://x")' and ws["A3"].data_type == "s"
    assert ws["D3"].value == "2020-06-01T02:00:00+00:00"
    assert ws["A4"].value == "-1+2"  # the control character is dropped, not a crash


def test_render_table_is_a_named_download(app):
    with app.test_request_context():
        resp = render_table("xlsx", "delays-2020-10-01", COLUMNS, ROWS)
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="delays-2020-10-01.xlsx"'
