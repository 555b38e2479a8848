"""A realistic year of the programme, written through the sync engine like real phones.

By default the year ends today: the simulated calendar is the last twelve months, and what
would happen after today has not happened yet (a payout due next month is still pending), so
waiting days, late payouts and silent collaborators read like a real Tuesday. ``year=2020``
replays the report's own year, every event as it always was (the same seed, the same figures).

Every record is pushed by the user who would push it (collaborators create households and
forms, commune officials decide, district officers plan support and pay), at the day it
would happen, so versions, audit trail, last-sync times and delays are all as the real
thing would leave them. Deterministic: the same seed gives the same province.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schemas.records import validate_record
from server.auth.passwords import hash_password
from server.extensions import db
from server.models import Unit
from server.store import accounts as account_store
from server.store.sync import SqlStore
from sync.actors import Actor
from sync.engine import decide_registration, push_batch

REPORT_YEAR = 2020  # the report's year: the calendar below is written as its days
FAMILY = ["Hồ", "Nguyễn", "Trần", "Lê", "Phạm", "Bhriu", "Alăng", "Zơrâm", "Đinh", "Hồ Văn", "Y"]
GIVEN = [
    "Thị Lan",
    "Văn Thương",
    "Thị Hoa",
    "Văn Dũng",
    "Thị Bích",
    "Văn Tài",
    "Thị Mai",
    "Văn Sơn",
    "Thị Ngọc",
    "Văn Minh",
    "Thị Hạnh",
    "Văn Phúc",
]
NEEDS = ["livestock", "seedlings", "vocational_training", "preferential_loan", "job_placement", "housing"]
ITEM_TEXT = {
    "livestock": "Bò giống sinh sản",
    "seedlings": "Cây keo giống",
    "vocational_training": "Lớp nghề may công nghiệp",
    "preferential_loan": "Vay NHCSXH 50 triệu",
    "job_placement": "Giới thiệu việc làm KCN Điện Nam",
    "housing": "Hỗ trợ sửa nhà",
}


@dataclass(frozen=True)
class Calendar:
    """Where the simulated year lies: ``origin`` is its first day, ``year`` the programme year
    forms and payouts carry; with ``today`` set, nothing after it happens."""

    origin: date
    year: int
    today: date | None = None

    @classmethod
    def ending_today(cls, today: date) -> Calendar:
        return cls(today - timedelta(days=364), today.year, today)

    @classmethod
    def of_year(cls, year: int) -> Calendar:
        return cls(date(year, 1, 1), year)

    def day(self, month: int, day: int) -> date:
        """The simulated day that falls where ``month/day`` falls in the report's year."""
        return self.origin + (date(REPORT_YEAR, month, day) - date(REPORT_YEAR, 1, 1))

    def happened(self, day: date) -> bool:
        return self.today is None or day <= self.today


def at(day: date, hour: int = 9) -> datetime:
    """A moment on ``day`` in Vietnam (UTC+7), as an aware UTC datetime."""
    return datetime.combine(day, time(hour)).replace(tzinfo=UTC) - timedelta(hours=7)


def new_id() -> str:
    return str(uuid.uuid4())


# The demo's named logins act for these units, so what they see is what was simulated.
NAMED = {
    ("district_officer", "515"): "huyen_btm",
    ("collaborator", "20920"): "ctv_trado",
    ("commune_official", "20920"): "xa_trado",
}


def ensure_actor(role: str, unit: str, name: str, password_hash: str, created: datetime) -> Actor:
    prefix = {"district_officer": "huyen", "collaborator": "ctv", "commune_official": "xa"}[role]
    username = NAMED.get((role, unit), f"{prefix}_{unit}")
    user = account_store.get_user_by_username(username)
    if user is None:
        user = account_store.create_user(username, role, unit, password_hash, created, name)
    return Actor(user.id, user.username, user.role, user.unit_code)


def push(actor: Actor, device: str, changes: list[dict], now: datetime) -> dict:
    store = SqlStore()
    result = push_batch(store, actor, device, new_id(), changes, now, validate_record)
    store.flush()
    db.session.commit()
    return result


def upsert(entity: str, record_id: str, data: dict, base: int | None, when: datetime) -> dict:
    return {
        "change_id": new_id(),
        "entity": entity,
        "id": record_id,
        "op": "upsert",
        "base_version": base,
        "data": data,
        "client_time": when.isoformat(),
    }


def populate(
    password: str, districts: int | None = None, seed: int = 13, calendar: Calendar | None = None
) -> dict:
    """Fill the year in one commune of each district (the first ``districts`` of them, if
    given; Bắc Trà My is always among them); returns counts of records made. The year is
    ``calendar`` (default: the report's year, 2020)."""
    cal = calendar or Calendar.of_year(REPORT_YEAR)
    rng = random.Random(seed)
    password_hash = hash_password(password)  # one Argon2 run for every demo account: a demo shortcut
    communes_by_district: dict[str, list[str]] = {}
    for unit in db.session.query(Unit).filter(Unit.level == "commune").order_by(Unit.code):
        communes_by_district.setdefault(unit.parent_code, []).append(unit.code)
    counts = {"households": 0, "registrations": 0, "support_items": 0, "payouts": 0}
    created = at(cal.day(1, 2))
    chosen_districts = sorted(communes_by_district)
    if districts is not None:
        chosen_districts = sorted({"515", *chosen_districts[: max(districts - 1, 0)]})
    for district in chosen_districts:
        communes = communes_by_district[district]
        officer = ensure_actor(
            "district_officer", district, f"Phòng LĐTBXH {district}", password_hash, created
        )
        chosen = rng.sample(communes, 1)
        if district == "515" and "20920" not in chosen:
            chosen[0] = "20920"  # the demo's own commune, Trà Đốc
        for commune in chosen:
            ctv = ensure_actor("collaborator", commune, f"CTV giảm nghèo {commune}", password_hash, created)
            official = ensure_actor("commune_official", commune, f"UBND xã {commune}", password_hash, created)
            simulate_commune(rng, cal, commune, ctv, official, officer, counts)
    return counts


def simulate_commune(
    rng: random.Random,
    cal: Calendar,
    commune: str,
    ctv: Actor,
    official: Actor,
    officer: Actor,
    counts: dict,
) -> None:
    """One commune's year: capture, decisions, plans, payouts - some of it late."""
    # Some collaborators stop syncing in spring: the supervisors' "silent" list. The others
    # capture into the autumn of a past year, and until a few days ago in a year ending today.
    goes_silent = rng.random() < 0.2
    working_until = cal.day(9, 30) if cal.today is None else cal.today - timedelta(days=2)
    last_capture = cal.day(5, 15) if goes_silent else working_until
    forms: list[tuple[str, str, int, date]] = []  # (registration id, household id, members, day)
    day = cal.day(1, 15) + timedelta(days=rng.randint(0, 20))
    while day < last_capture:
        changes = []
        for _ in range(rng.randint(2, 6)):
            hh, reg = new_id(), new_id()
            members = rng.randint(2, 7)
            category = "poor" if rng.random() < 0.62 else "near_poor"
            name = f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}"
            changes.append(
                upsert(
                    "households",
                    hh,
                    {
                        "code": f"{commune}-{rng.randint(1, 9999):04d}",
                        "commune_code": commune,
                        "village": f"Thôn {rng.randint(1, 8)}",
                        "head_name": name,
                        "members": members,
                        "category": category,
                        "ethnic_minority": rng.random() < 0.7,
                        "phone": None,
                        "latitude": None,
                        "longitude": None,
                        "notes": None,
                    },
                    None,
                    at(day),
                )
            )
            changes.append(
                upsert(
                    "registrations",
                    reg,
                    {
                        "household_id": hh,
                        "year": cal.year,
                        "kind": "exit_poverty" if category == "poor" else "exit_near_poverty",
                        "members": members,
                        "needs": sorted(rng.sample(NEEDS, rng.randint(1, 3))),
                        "commitment": True,
                        "signed_on": (day - timedelta(days=rng.randint(0, 5))).isoformat(),
                        "notes": None,
                    },
                    None,
                    at(day),
                )
            )
            forms.append((reg, hh, members, day))
        push(ctv, f"phone-{ctv.username}", changes, at(day, 17))
        counts["households"] += len(changes) // 2
        counts["registrations"] += len(changes) // 2
        day += timedelta(days=rng.randint(10, 30))
    for reg, hh, _members, received in forms:
        decide_form(rng, cal, reg, hh, received, ctv, official, officer, counts)


def decide_form(
    rng: random.Random,
    cal: Calendar,
    reg: str,
    hh: str,
    received: date,
    ctv: Actor,
    official: Actor,
    officer: Actor,
    counts: dict,
) -> None:
    roll = rng.random()
    if roll < 0.12:
        return  # still waiting; some of these are overdue
    wait = rng.randint(2, 40)
    decided = received + timedelta(days=wait)
    if not cal.happened(decided):
        return  # the commune has not got to it yet
    decision = "approve" if roll < 0.82 else "reject" if roll < 0.9 else "return"
    note = {
        "approve": "UBND xã thống nhất",
        "reject": "Hộ chưa đủ điều kiện",
        "return": "Bổ sung số khẩu và chữ ký",
    }[decision]
    store = SqlStore()
    record = decide_registration(store, official, reg, decision, note, 1, at(decided, 10))
    store.flush()
    db.session.commit()
    if decision != "approve":
        return
    plan_support(rng, cal, reg, hh, record["data"]["needs"], decided, officer, ctv, counts)


def plan_support(
    rng: random.Random,
    cal: Calendar,
    reg: str,
    hh: str,
    needs: list[str],
    approved: date,
    officer: Actor,
    ctv: Actor,
    counts: dict,
) -> None:
    """The district's plan for an approved form, and the household's reward."""
    planned_on = approved + timedelta(days=rng.randint(3, 20))
    if not cal.happened(planned_on):
        return
    changes, items = [], []
    for need in needs:
        item = new_id()
        due = planned_on + timedelta(days=rng.randint(30, 120))
        changes.append(
            upsert(
                "support_items",
                item,
                {
                    "household_id": hh,
                    "registration_id": reg,
                    "kind": need,
                    "description": ITEM_TEXT[need],
                    "amount_vnd": rng.choice([3, 5, 10, 20, 30]) * 1_000_000,
                    "funding_source": "social_policy_bank" if need == "preferential_loan" else "province",
                    "due_date": due.isoformat(),
                    "status": "planned",
                    "delivered_on": None,
                },
                None,
                at(planned_on),
            )
        )
        items.append((item, due, changes[-1]["data"]))
    payout = new_id()
    payout_due = planned_on + timedelta(days=rng.randint(30, 90))
    payout_data = {
        "household_id": hh,
        "registration_id": reg,
        "kind": "reward",
        "recognized_year": cal.year,
        "amount_vnd": 5_000_000,
        "due_date": payout_due.isoformat(),
        "status": "pending",
        "disbursed_on": None,
        "confirmed_on": None,
    }
    changes.append(upsert("payouts", payout, payout_data, None, at(planned_on)))
    push(officer, f"web-{officer.username}", changes, at(planned_on, 14))
    counts["support_items"] += len(items)
    counts["payouts"] += 1
    # Deliveries: most on time, some late, some never (overdue).
    for item, due, data in items:
        if rng.random() < 0.75:
            delivered = due + timedelta(days=rng.randint(-20, 25))
            if not cal.happened(delivered):
                continue
            push(
                ctv,
                f"phone-{ctv.username}",
                [
                    upsert(
                        "support_items",
                        item,
                        {**data, "status": "delivered", "delivered_on": delivered.isoformat()},
                        1,
                        at(delivered),
                    )
                ],
                at(delivered, 18),
            )
    # The payout's lifecycle: the report's complaint is that localities pay late.
    roll = rng.random()
    if roll < 0.2:
        return  # still pending
    approved_on = payout_due - timedelta(days=rng.randint(5, 20))
    if not cal.happened(approved_on):
        return
    payout_data = {**payout_data, "status": "approved"}
    push(
        officer,
        f"web-{officer.username}",
        [upsert("payouts", payout, payout_data, 1, at(approved_on))],
        at(approved_on, 15),
    )
    if roll < 0.35:
        return  # approved, never disbursed
    paid = payout_due + timedelta(days=rng.randint(-10, 60))
    if not cal.happened(paid):
        return
    payout_data = {**payout_data, "status": "disbursed", "disbursed_on": paid.isoformat()}
    push(
        officer,
        f"web-{officer.username}",
        [upsert("payouts", payout, payout_data, 2, at(paid))],
        at(paid, 15),
    )
    if roll < 0.8:
        confirmed = paid + timedelta(days=rng.randint(1, 15))
        if not cal.happened(confirmed):
            return
        payout_data = {**payout_data, "status": "confirmed", "confirmed_on": confirmed.isoformat()}
        push(
            ctv,
            f"phone-{ctv.username}",
            [upsert("payouts", payout, payout_data, 3, at(confirmed))],
            at(confirmed, 18),
        )
