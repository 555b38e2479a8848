"""The reports as the department's appendices: Vietnamese headings, one row per district.

These turn a report (the dict the JSON answer is made of) into the columns and rows of an
export, so the CSV and XLSX downloads carry exactly the JSON's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from server.exports import Column

QUOTA_STATUS_VI = {
    "exceeded": "Vượt chỉ tiêu",
    "met": "Đạt chỉ tiêu",
    "below": "Chưa đạt chỉ tiêu",
    "no_quota": "Không giao chỉ tiêu",
}
POOR, NEAR_POOR = "Hộ nghèo đăng ký thoát nghèo", "Hộ cận nghèo đăng ký thoát cận nghèo"
TOTAL_LABEL = "Tổng cộng"
DISTRICT_COLUMNS = [
    Column("number", "STT", "int", width=6),
    Column("code", "Mã huyện", width=10),
    Column("name", "Huyện", width=24),
]

EXIT_COLUMNS = DISTRICT_COLUMNS + [
    Column("poor_households", "Số hộ đăng ký", "int", POOR),
    Column("poor_persons", "Số khẩu", "int", POOR),
    Column("poor_quota", "Chỉ tiêu giao", "int", POOR),
    Column("poor_pct_of_quota", "Tỷ lệ % so chỉ tiêu", "pct", POOR),
    Column("poor_quota_status", "Đánh giá", group=POOR, width=20),
    Column("poor_target", "Mục tiêu NQ13", "int", POOR),
    Column("poor_pct_of_target", "Tỷ lệ % so mục tiêu", "pct", POOR),
    Column("near_poor_households", "Số hộ đăng ký", "int", NEAR_POOR),
    Column("near_poor_persons", "Số khẩu", "int", NEAR_POOR),
    Column("near_poor_target", "Mục tiêu NQ13", "int", NEAR_POOR),
    Column("near_poor_pct_of_target", "Tỷ lệ % so mục tiêu", "pct", NEAR_POOR),
]

PAYOUT_GROUPS = {
    "scheduled": "Theo kế hoạch",
    "disbursed": "Đã chi trả",
    "confirmed": "Hộ đã xác nhận",
    "overdue": "Quá hạn chưa chi trả",
}
PAYOUT_COLUMNS = DISTRICT_COLUMNS + [
    column
    for measure, group in PAYOUT_GROUPS.items()
    for column in (
        Column(f"{measure}_count", "Số khoản", "int", group),
        Column(f"{measure}_vnd", "Số tiền (đồng)", "vnd", group, width=18),
    )
]
PAYOUT_COLUMNS += [
    Column("median_days_late", "Số ngày trễ (trung vị)", "days", PAYOUT_GROUPS["overdue"]),
    Column("worst_days_late", "Số ngày trễ (lâu nhất)", "int", PAYOUT_GROUPS["overdue"]),
]


@dataclass
class Appendix:
    """What a download holds: its title, columns, one row per district and the totals row."""

    title: str
    sheet: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    totals: list[dict] = field(default_factory=list)


def vietnamese_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def flatten(prefix: str, figures: dict) -> dict:
    """``{"households": 3}`` under ``poor`` becomes ``{"poor_households": 3}``."""
    return {f"{prefix}_{key}": value for key, value in figures.items()}


def exit_registrations_appendix(report: dict) -> Appendix:
    """Appendices 01-04 in one table: poor households against quota and target, near-poor."""
    title = f"Kết quả đăng ký thoát nghèo bền vững năm {report['year']}"
    if report["as_of"]:
        title += f" (tính đến ngày {vietnamese_date(report['as_of'])})"
    rows = []
    for number, d in enumerate(report["districts"], start=1):
        row = {"number": number, "code": d["code"], "name": d["name"]}
        row |= flatten("poor", d["poor"]) | flatten("near_poor", d["near_poor"])
        row["poor_quota_status"] = QUOTA_STATUS_VI[row["poor_quota_status"]]
        rows.append(row)
    totals = report["totals"]
    total = (
        {"name": TOTAL_LABEL} | flatten("poor", totals["poor"]) | flatten("near_poor", totals["near_poor"])
    )
    return Appendix(title, f"Đăng ký thoát nghèo {report['year']}", EXIT_COLUMNS, rows, [total])


def payouts_appendix(report: dict) -> Appendix:
    """Incentive payouts per district: scheduled, paid, confirmed, late and how late."""
    title = (
        f"Chi trả chính sách khuyến khích thoát nghèo - hộ công nhận năm {report['year']}"
        f" (tính đến ngày {vietnamese_date(report['as_of'])})"
    )

    def figures(d: dict) -> dict:
        row = {key: d[key] for key in ("median_days_late", "worst_days_late")}
        for measure in PAYOUT_GROUPS:
            row |= flatten(measure, d[measure])
        return row

    rows = [
        {"number": number, "code": d["code"], "name": d["name"]} | figures(d)
        for number, d in enumerate(report["districts"], start=1)
    ]
    total = {"name": TOTAL_LABEL} | figures(report["totals"])
    return Appendix(title, f"Chi trả {report['year']}", PAYOUT_COLUMNS, rows, [total])
