"""Appendix-style downloads (title, grouped headings, totals) and the reports' arithmetic."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from server.exports import Column, neutralise_text, render_csv, render_xlsx
from server.reports.figures import percent, quota_status

DANGEROUS = ['=HYPERLINK("http://x","bấm")', "+84 905 000 000", "-1+2", "@SUM(A1)", "\t=1"]
COLUMNS = [
    Column("head", "Họ tên chủ hộ"),
    Column("members", "Số khẩu", "int", "Kết quả"),
    Column("pct", "Tỷ lệ %", "pct", "Kết quả"),
]
ROWS = [{"head": name, "members": 4, "pct": Decimal("88.96")} for name in DANGEROUS] + [
    {"head": "Hồ Văn Thương", "members": -3, "pct": None}
]
TOTALS = [{"head": "Tổng cộng", "members": 17, "pct": Decimal("12.50")}]


@pytest.mark.parametrize("value", DANGEROUS)
def test_formula_like_text_becomes_plain_text(value):
    assert neutralise_text(value) == "'" + value


def test_csv_puts_group_in_the_header_and_totals_last():
    lines = list(csv.reader(io.StringIO(render_csv(COLUMNS, ROWS, TOTALS).decode("utf-8-sig"))))

    assert lines[0] == ["Họ tên chủ hộ", "Kết quả - Số khẩu", "Kết quả - Tỷ lệ %"]
    assert [line[0] for line in lines[1:6]] == ["'" + v for v in DANGEROUS]
    assert lines[1][2] == "88.96"
    assert lines[6] == ["Hồ Văn Thương", "-3", ""]  # a negative number is a number, not a formula
    assert lines[7] == ["Tổng cộng", "17", "12.50"]


def test_xlsx_laid_out_like_an_appendix():
    ws = load_workbook(
        io.BytesIO(render_xlsx(COLUMNS, ROWS, "Phụ lục 01", title="Danh sách", totals=TOTALS))
    ).active

    assert ws.title == "Phụ lục 01" and ws["A1"].value == "Danh sách" and ws["A1"].font.b
    assert ws["B3"].value == "Kết quả" and "B3:C3" in {str(r) for r in ws.merged_cells.ranges}
    assert [c.value for c in ws[4]] == ["Họ tên chủ hộ", "Số khẩu", "Tỷ lệ %"]
    assert [ws.cell(row=r, column=1).value for r in range(5, 10)] == DANGEROUS  # kept as typed…
    assert all(ws.cell(row=r, column=1).data_type == "s" for r in range(5, 10))  # …as text
    assert ws["C5"].value == 88.96 and ws["C5"].number_format == "0.00"  # a number, not text
    assert ws["B10"].value == -3
    assert ws["A11"].value == "Tổng cộng" and ws["A11"].font.b and ws["B11"].font.b and ws["B11"].value == 17


def test_percentages_round_half_up_in_decimal():
    # 107 / 4000 = 2.675 %: binary floating point rounds it down to 2.67.
    assert round(107 / 4000 * 100, 2) == 2.67
    assert percent(107, 4000) == Decimal("2.68")
    assert percent(2402, 2700) == Decimal("88.96")
    assert percent(1637, 5000) == Decimal("32.74")
    assert percent(460, 400) == Decimal("115.00")
    assert percent(5, 0) is None and percent(5, None) is None


@pytest.mark.parametrize(
    "households, quota, status",
    [(460, 400, "exceeded"), (60, 60, "met"), (31, 80, "below"), (12, None, "no_quota"), (0, 0, "met")],
)
def test_quota_status(households, quota, status):
    assert quota_status(households, quota) == status
