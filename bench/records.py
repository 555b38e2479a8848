"""Realistic records for the benchmark: Quảng Nam households and what follows them.

Every record is valid per protocol.md ("Records"): households in real commune
codes from data/quang_nam_units_2020.csv, Vietnamese names and villages with
their diacritics, exit registrations, support items and payouts. Generation is
deterministic for a given seed, so two runs (and our server and Kinto) get the
same rows.

Run alone to see a sample: ``python -m bench.records --records 8 [--full]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

UNITS_CSV = Path(__file__).resolve().parent.parent / "data" / "quang_nam_units_2020.csv"

ENTITIES = ("households", "registrations", "support_items", "payouts")
NEEDS = (
    "livestock",
    "seedlings",
    "vocational_training",
    "preferential_loan",
    "job_placement",
    "housing",
    "other",
)
FUNDING_SOURCES = ("province", "district", "commune", "social_policy_bank", "other")

KINH_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Ngô")
KINH_MIDDLE = ("Văn", "Thị", "Đức", "Hữu", "Ngọc", "Minh", "Thanh", "Công", "Thị Kim", "Quang")
KINH_GIVEN = (
    "An", "Bình", "Cường", "Dũng", "Hùng", "Hương", "Lan", "Mai", "Nga", "Phúc", "Quý", "Sơn",
    "Thảo", "Tuấn", "Xuân", "Hạnh", "Lộc", "Nhung", "Đông", "Tường", "Ánh", "Hiếu", "Trí", "Yến",
)  # fmt: skip
# Cơ Tu, Xơ Đăng, Giẻ Triêng and Ca Dong names of the mountain districts.
MINORITY_NAMES = (
    "Bríu Pố", "Alăng Thị Mai", "Bhơriu Liếc", "Zơrâm Thị Ngân", "Clâu Nhím", "Hồ Văn Bảy",
    "Hồ Thị Lê", "A Lăng Đào", "Pơloong Plênh", "Coor Thị Bốn", "Đinh Văn Tới", "Hồ Văn Thanh",
    "Nguyễn Văn Bút", "Zơrâm Bhốp", "Tơ Ngôl Hiên", "Bling Dể",
)  # fmt: skip
PLAIN_VILLAGES = (
    "Thôn Phú Ninh", "Thôn Bình An", "Thôn Trung Phước", "Thôn Hòa Mỹ", "Thôn Đông Sơn",
    "Thôn Tây Lộc", "Thôn An Thọ", "Thôn Mỹ Thạnh", "Thôn Xuân Quý", "Thôn Phước Bình",
    "Khối phố Mỹ Thạch", "Thôn Hương Quế",
)  # fmt: skip
MOUNTAIN_VILLAGES = (
    "Thôn A Xanh", "Thôn Tà Lang", "Thôn Trà Dơn", "Thôn Ông Bình", "Thôn Tắk Pổ",
    "Thôn Pà Dấu", "Thôn Arớt", "Thôn Bhơ Hôồng", "Thôn Ka Dăng", "Thôn Nước Lăng",
    "Làng Tăk Chè", "Thôn Đăk Rế",
)  # fmt: skip
HOUSEHOLD_NOTES = (
    "Hộ có 2 lao động chính, làm rẫy và chăn nuôi heo.",
    "Chủ hộ bị ốm dài ngày, con đi làm công nhân ở Đà Nẵng.",
    "Nhà tạm, mái tôn đã xuống cấp; cần hỗ trợ sửa nhà trước mùa mưa bão.",
    "Hộ đã vay vốn Ngân hàng Chính sách xã hội 30 triệu đồng năm 2019.",
    "Trồng 1,5 ha keo lá tràm, dự kiến khai thác năm 2021.",
    "Thiếu đất sản xuất; đề nghị hỗ trợ giống bò sinh sản.",
    "Con thứ hai đang học nghề may tại Tam Kỳ.",
    "Đường vào thôn sạt lở, mùa mưa không đi được.",
)  # fmt: skip
REGISTRATION_NOTES = (
    "Hộ cam kết thoát nghèo bền vững trong năm 2020.",
    "Đã họp thôn bình xét, thống nhất đề nghị UBND xã xác nhận.",
    "Hộ có thu nhập ổn định từ chăn nuôi, đủ điều kiện đăng ký.",
    "Cộng tác viên giảm nghèo đã đến nhà, hướng dẫn điền giấy đăng ký.",
)  # fmt: skip
SUPPORT_DESCRIPTIONS = {
    "livestock": "Hỗ trợ 01 con bò cái giống sinh sản",
    "seedlings": "Cấp 500 cây giống keo và quế Trà My",
    "vocational_training": "Học nghề sửa chữa xe máy 3 tháng",
    "preferential_loan": "Vay ưu đãi hộ mới thoát nghèo tại NHCSXH",
    "job_placement": "Giới thiệu việc làm tại Khu công nghiệp Điện Nam - Điện Ngọc",
    "housing": "Hỗ trợ sửa chữa nhà ở theo Nghị quyết 13",
    "other": "Hỗ trợ bồn chứa nước sinh hoạt",
}
PAYOUT_AMOUNTS = {
    "reward": 5_000_000,
    "interest_support": 1_800_000,
    "health_insurance": 804_600,
    "tuition": 1_500_000,
    "other": 1_000_000,
}


@dataclass(frozen=True)
class Commune:
    """A commune of the unit list, with what the generator needs to know about it."""

    code: str
    name: str
    district_code: str
    mountain: bool


@dataclass(frozen=True)
class Record:
    """One record as a device would send it: entity, client-chosen UUID and its ``data``."""

    entity: str
    id: str
    data: dict
    commune_code: str


def load_communes(path: Path = UNITS_CSV) -> list[Commune]:
    """The communes of the unit list; a commune is 'mountain' when it or its district is."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    district_mountain = {r["code"]: r.get("mountain") == "yes" for r in rows if r["level"] == "district"}
    return [
        Commune(
            code=r["code"],
            name=r["name"],
            district_code=r["parent_code"],
            mountain=(r.get("mountain") == "yes") or district_mountain.get(r["parent_code"], False),
        )
        for r in rows
        if r["level"] == "commune"
    ]


def make_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (so a seed reproduces the same IDs)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _date(rng: random.Random, start: dt.date, days: int) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(days))


def make_household(rng: random.Random, commune: Commune, seq: int) -> Record:
    """A poor or near-poor household of ``commune`` with every optional field filled most of the time."""
    minority = rng.random() < (0.85 if commune.mountain else 0.05)
    if minority:
        head = rng.choice(MINORITY_NAMES)
        village = rng.choice(MOUNTAIN_VILLAGES)
    else:
        head = f"{rng.choice(KINH_FAMILY)} {rng.choice(KINH_MIDDLE)} {rng.choice(KINH_GIVEN)}"
        village = rng.choice(MOUNTAIN_VILLAGES if commune.mountain else PLAIN_VILLAGES)
    data = {
        "code": f"{commune.code}-{seq:06d}",
        "commune_code": commune.code,
        "village": village,
        "head_name": head,
        "members": rng.choice((1, 2, 3, 3, 4, 4, 4, 5, 5, 6, 7, 9)),
        "category": "poor" if rng.random() < 0.7 else "near_poor",
        "ethnic_minority": minority,
        "phone": f"09{rng.randrange(10**8):08d}" if rng.random() < 0.6 else None,
        "latitude": round(rng.uniform(14.95, 16.05), 6),
        "longitude": round(rng.uniform(107.25, 108.70), 6),
        "notes": rng.choice(HOUSEHOLD_NOTES) if rng.random() < 0.8 else None,
    }
    return Record("households", make_uuid(rng), data, commune.code)


def make_registration(rng: random.Random, household: Record, year: int) -> Record:
    """The household's exit registration for ``year``, signed after the previous review."""
    h = household.data
    needs = sorted(rng.sample(NEEDS, rng.randint(1, 3)))
    data = {
        "household_id": household.id,
        "year": year,
        "kind": "exit_poverty" if h["category"] == "poor" else "exit_near_poverty",
        "members": h["members"],
        "needs": needs,
        "commitment": True,
        "signed_on": _date(rng, dt.date(year - 1, 12, 15), 200).isoformat(),
        "notes": rng.choice(REGISTRATION_NOTES) if rng.random() < 0.7 else None,
    }
    return Record("registrations", make_uuid(rng), data, household.commune_code)


def make_support_item(rng: random.Random, registration: Record, kind: str) -> Record:
    """One item of the household's support plan, matched to a need it registered."""
    year = registration.data["year"]
    due = _date(rng, dt.date(year, 3, 1), 240)
    delivered = rng.random() < 0.4
    data = {
        "household_id": registration.data["household_id"],
        "registration_id": registration.id,
        "kind": kind,
        "description": SUPPORT_DESCRIPTIONS[kind],
        "amount_vnd": rng.choice((2_000_000, 3_500_000, 5_000_000, 12_000_000, 30_000_000)),
        "funding_source": rng.choice(FUNDING_SOURCES),
        "due_date": due.isoformat(),
        "status": "delivered" if delivered else "planned",
        "delivered_on": (due - dt.timedelta(days=rng.randrange(30))).isoformat() if delivered else None,
    }
    return Record("support_items", make_uuid(rng), data, registration.commune_code)


def make_payout(rng: random.Random, registration: Record, kind: str) -> Record:
    """An incentive payout for a household recognised as having exited (often late)."""
    year = registration.data["year"]
    due = _date(rng, dt.date(year, 1, 15), 300)
    status = rng.choice(("pending", "pending", "approved", "disbursed", "confirmed"))
    disbursed = due + dt.timedelta(days=rng.randrange(-10, 90))
    data = {
        "household_id": registration.data["household_id"],
        "registration_id": registration.id,
        "kind": kind,
        "recognized_year": year - 1,
        "amount_vnd": PAYOUT_AMOUNTS[kind],
        "due_date": due.isoformat(),
        "status": status,
        "disbursed_on": disbursed.isoformat() if status in ("disbursed", "confirmed") else None,
        "confirmed_on": (disbursed + dt.timedelta(days=rng.randrange(1, 20))).isoformat()
        if status == "confirmed"
        else None,
    }
    return Record("payouts", make_uuid(rng), data, registration.commune_code)


def make_household_bundle(
    rng: random.Random, commune: Commune, seq: int, year: int = 2020, full: bool = True
) -> list[Record]:
    """A household followed by what a year brings it, in the order a device must push them.

    With ``full`` false only the household and its registration (what a collaborator writes).
    On average a full bundle holds about 3.4 records.
    """
    household = make_household(rng, commune, seq)
    records = [household]
    if rng.random() < 0.9:
        registration = make_registration(rng, household, year)
        records.append(registration)
        if full:
            for kind in registration.data["needs"][: rng.randint(0, 2)]:
                records.append(make_support_item(rng, registration, kind))
            if rng.random() < 0.6:
                kind = rng.choice(("reward", "reward", "interest_support", "health_insurance", "tuition"))
                records.append(make_payout(rng, registration, kind))
    return records


def iter_records(
    count: int,
    seed: int = 49,
    communes: list[Commune] | None = None,
    full: bool = False,
    first_seq: int = 1,
) -> Iterator[Record]:
    """Exactly ``count`` records, household by household (a bundle may be cut at the end).

    Households are spread over ``communes`` (default: all 241 of the province). By default
    what a collaborator's phone brings down on market day: households and their exit
    registrations. With ``full``, also support items and payouts - which follow an approved
    registration, so only a direct seeder (that sets the decision) can write them.
    """
    rng = random.Random(seed)
    communes = communes if communes is not None else load_communes()
    made = 0
    seq = first_seq
    while made < count:
        commune = communes[seq % len(communes)]
        for record in make_household_bundle(rng, commune, seq, full=full):
            if made == count:
                return
            yield record
            made += 1
        seq += 1


def make_change(record: Record, base_version: int | None = None, op: str = "upsert", rng=None) -> dict:
    """The push ``change`` for a record (protocol.md, Sync: push)."""
    rng = rng or random
    return {
        "change_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "entity": record.entity,
        "id": record.id,
        "op": op,
        "base_version": base_version,
        "data": record.data if op == "upsert" else {},
        "client_time": "2020-05-02T08:15:00+07:00",
    }


def chunk(items: list, size: int) -> Iterator[list]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def main(argv: list[str] | None = None) -> None:
    """Print a few generated records as JSON, one a line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=8)
    parser.add_argument("--seed", type=int, default=49)
    parser.add_argument("--full", action="store_true", help="with support items and payouts")
    args = parser.parse_args(argv)
    for record in iter_records(args.records, args.seed, full=args.full):
        print(json.dumps({"entity": record.entity, "id": record.id, "data": record.data}, ensure_ascii=False))


if __name__ == "__main__":
    main()
