"""Entity lists: the server's records as the CSV files ODK forms select from (ODK Entities).

ODK Central calls them datasets. Each list is a form attachment ``<list>.csv`` with the
columns ``name`` (the record's UUID), ``label`` (what the phone shows), ``__version`` (the
record's version, which a form sends back as ``baseVersion`` when it updates the entity)
and one column per property the forms read. Unlike Central, a list is built **per user**:
only the records of the user's units, and only those a form can act on (a planned support
item, a disbursed payout not yet confirmed, a registration still open), so a phone never
holds another commune's households and its copy changes only when its own data does.

``communes`` is not an entity list but is built the same way: the communes a user works in,
so a form offers the collaborator's own commune instead of asking them to type a code.

Pure Python: rows come in as plain dicts (``server/store/entity_lists.py`` reads them), CSV
bytes and their ``md5:`` hash go out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from server.odk.forms import md5_hash
from server.vocabulary import word
from sync.lifecycles import (
    APPROVED,
    DISBURSED,
    PLANNED,
    REGISTRATION_LIFE,
    REJECTED,
    RETURNED,
    SUBMITTED,
)
from sync.records import HOUSEHOLDS, PAYOUTS, REGISTRATIONS, SUPPORT_ITEMS

COMMUNES = "communes"

#: The entity lists (Central's datasets), each named like the entity its records are.
ENTITY_LISTS = (HOUSEHOLDS, REGISTRATIONS, SUPPORT_ITEMS, PAYOUTS)
#: Every per-user list a form may use as an attachment ``<name>.csv``.
USER_LISTS = (*ENTITY_LISTS, COMMUNES)

#: The properties of each list, in column order, after ``name,label,__version``.
PROPERTIES: dict[str, tuple[str, ...]] = {
    HOUSEHOLDS: (
        "code", "commune_code", "village", "head_name", "members", "category", "ethnic_minority", "phone",
    ),
    REGISTRATIONS: ("household_id", "status", "decision_note", "year", "kind"),
    SUPPORT_ITEMS: ("household_id", "kind", "status", "due_date", "description"),
    PAYOUTS: ("household_id", "amount_vnd", "status", "disbursed_on", "kind"),
    COMMUNES: ("district_code",),
}  # fmt: skip

#: What a form can act on: the statuses each list keeps (households: every live one).
STATUSES: dict[str, tuple[str, ...]] = {
    REGISTRATIONS: tuple(s for s in REGISTRATION_LIFE.states if s not in REGISTRATION_LIFE.locked),
    SUPPORT_ITEMS: (PLANNED,),  # to be delivered
    PAYOUTS: (DISBURSED,),  # to be confirmed
}

#: The type of each property that is not text, to read a value Central's API sends as text.
PROPERTY_TYPES: dict[str, dict[str, str]] = {
    HOUSEHOLDS: {"members": "int", "ethnic_minority": "bool"},
    REGISTRATIONS: {"year": "int"},
    SUPPORT_ITEMS: {"amount_vnd": "int"},
    PAYOUTS: {"amount_vnd": "int", "recognized_year": "int"},
}

REGISTRATION_STATUS_LABELS = {
    SUBMITTED: "chờ duyệt",
    RETURNED: "trả lại để sửa",
    APPROVED: "đã duyệt",
    REJECTED: "không duyệt",
}
SEPARATOR = " · "


@dataclass(frozen=True)
class UserList:
    """One user's copy of a list: the CSV bytes and the hash the manifest gives them."""

    name: str
    content: bytes
    rows: int

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def hash(self) -> str:
        """``md5:<hex>``: what Collect compares to decide whether to download the file again."""
        return md5_hash(self.content)

    @property
    def etag(self) -> str:
        """The ETag of the download: the md5 hex the manifest's hash carries."""
        return self.hash.removeprefix("md5:")


def is_entity_list(name: str) -> bool:
    return name in ENTITY_LISTS


def format_value(value: Any) -> str:
    """A property as the CSV (and Central's API) writes it: text, ``yes``/``no``, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def read_value(entity_list: str, name: str, text: Any) -> Any:
    """A property sent as text (Central's API, a form's answer) as the record field's value.

    An empty text is ``None``; a number or yes/no that does not read is returned as sent, for
    the engine's validation to refuse with its usual message.
    """
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        return text
    kind = PROPERTY_TYPES.get(entity_list, {}).get(name)
    if kind == "int":
        stripped = text.strip()
        return int(stripped) if stripped.lstrip("-").isdigit() else text
    if kind == "bool":
        return {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}.get(
            text.strip().lower(), text
        )
    return text


def format_amount(amount: Any) -> str:
    """``5000000`` → ``5.000.000 đ`` (Vietnamese digit grouping)."""
    if not isinstance(amount, int):
        return ""
    return f"{amount:,}".replace(",", ".") + " đ"


def build_label(entity_list: str, row: Mapping[str, Any]) -> str:
    """The label the phone shows for a row: who, what, where, in words a collaborator reads."""
    if entity_list == HOUSEHOLDS:
        parts = [row.get("head_name"), row.get("code"), row.get("village")]
    elif entity_list == REGISTRATIONS:
        parts = [
            row.get("head_name"),
            str(row.get("year") or ""),
            REGISTRATION_STATUS_LABELS.get(row.get("status") or "", row.get("status")),
        ]
    elif entity_list == SUPPORT_ITEMS:
        due = row.get("due_date")
        parts = [
            word("need", row.get("kind") or ""),
            row.get("description"),
            f"hạn {format_value(due)}" if due else None,
        ]
    elif entity_list == PAYOUTS:
        paid = row.get("disbursed_on")
        parts = [
            word("payout", row.get("kind") or ""),
            format_amount(row.get("amount_vnd")),
            f"chi ngày {format_value(paid)}" if paid else None,
        ]
    else:
        parts = [row.get("label")]
    return SEPARATOR.join(str(p) for p in parts if p not in (None, ""))


def build_csv(entity_list: str, rows: Iterable[Mapping[str, Any]]) -> UserList:
    """The list's CSV: ``name,label,__version`` then the properties, one line per row.

    ``rows`` carry ``id``, ``version`` (not for ``communes``) and the properties; they are
    written in the order given (the store orders them, so the same data is the same bytes).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    properties = PROPERTIES[entity_list]
    if entity_list == COMMUNES:
        writer.writerow(["name", "label", *properties])
    else:
        writer.writerow(["name", "label", "__version", *properties])
    count = 0
    for row in rows:
        label = row.get("label") if entity_list == COMMUNES else build_label(entity_list, row)
        head = [row["id"], label] if entity_list == COMMUNES else [row["id"], label, row["version"]]
        writer.writerow([format_value(v) for v in head] + [format_value(row.get(p)) for p in properties])
        count += 1
    return UserList(entity_list, buffer.getvalue().encode("utf-8"), count)


def list_name_of(filename: str) -> str | None:
    """``households.csv`` → ``households`` when it is a per-user list, else None."""
    stem, dot, extension = filename.rpartition(".")
    if dot and extension == "csv" and stem in USER_LISTS:
        return stem
    return None
