"""SQL for the append-only audit trail: reading it, and appending to its hash chain. Nothing
here (or anywhere) changes an entry once written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from server.extensions import db
from server.models import AuditEntry, SyncCounter
from server.store import bulk
from server.store.units import within
from sync.actors import Scope
from sync.trail import GENESIS, Break, first_break, link

ACCOUNTS = "users"  # the entity of an account's entries (server.auth.accounts)


@dataclass(frozen=True)
class AuditFilter:
    scope: Scope
    limit: int
    entity: str | None = None
    record_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    after: int | None = None  # keyset: entries with a larger id


def list_entries(f: AuditFilter) -> list[AuditEntry]:
    """Entries in the order they were written (id order), inside the scope, filtered."""
    query = select(AuditEntry).where(within(f.scope, AuditEntry)).order_by(AuditEntry.id).limit(f.limit)
    if f.entity is not None:
        query = query.where(AuditEntry.entity == f.entity)
    else:  # the records' trail; the accounts' entries are asked for by name (entity=users)
        query = query.where(AuditEntry.entity != ACCOUNTS)
    if f.record_id is not None:
        query = query.where(AuditEntry.record_id == f.record_id)
    if f.actor is not None:
        query = query.where(AuditEntry.actor == f.actor)
    if f.since is not None:
        query = query.where(AuditEntry.at >= f.since)
    if f.after is not None:
        query = query.where(AuditEntry.id > f.after)
    return list(db.session.execute(query).scalars())


# -- the hash chain (sync/trail.py) -------------------------------------------------------------
AUDIT_COUNTER = "audit"
PAGE = 5000


def append_chained(rows: list[dict]) -> None:
    """Number ``rows`` after the chain's head, chain their hashes and insert them.

    Call at the very end of the write transaction, after ``records.assign_sequences`` has
    taken the feed counter's lock: ``UPDATE sync_counter ... RETURNING`` on the audit row
    then locks it until commit too, so a concurrent writer waits, and reads this one's head
    only once it is committed - the chain is serialised in the database, never in a worker.
    """
    if not rows:
        return
    n = len(rows)
    top = db.session.execute(
        update(SyncCounter)
        .where(SyncCounter.name == AUDIT_COUNTER)
        .values(value=SyncCounter.value + n)
        .returning(SyncCounter.value)
    ).scalar_one_or_none()
    if top is None:
        # The first entry of the database; two first writers clash on the key and one retries.
        db.session.execute(insert(SyncCounter).values(name=AUDIT_COUNTER, value=n))
        top = n
    first = top - n + 1
    prev = GENESIS
    if first > 1:
        found = db.session.execute(
            select(AuditEntry.entry_hash).where(AuditEntry.chain_position == first - 1)
        ).scalar_one_or_none()
        # A predecessor deleted from the database: the chain stays broken there (verify-audit
        # names it) and goes on from a marker rather than refusing every write after it.
        prev = found or GENESIS
    link(rows, first, prev)
    bulk.append(AuditEntry.__table__, rows)


def chain_head() -> tuple[int, str] | None:
    """The last entry's (position, hash), or None for an empty trail."""
    row = db.session.execute(
        select(AuditEntry.chain_position, AuditEntry.entry_hash)
        .where(AuditEntry.chain_position.is_not(None))
        .order_by(AuditEntry.chain_position.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def chain_count() -> int:
    """How many entries the database numbered (its counter), deleted ones included."""
    value = db.session.execute(
        select(SyncCounter.value).where(SyncCounter.name == AUDIT_COUNTER)
    ).scalar_one_or_none()
    return value or 0


def iter_chain() -> Iterator[dict]:
    """Every entry as its column values, unchained ones first, then in chain order, a page
    of rows at a time."""
    columns = [c for c in AuditEntry.__table__.c]
    for row in db.session.execute(select(*columns).where(AuditEntry.chain_position.is_(None)).limit(1)):
        yield dict(row._mapping)
    last = 0
    while True:
        q = (
            select(*columns)
            .where(AuditEntry.chain_position > last)
            .order_by(AuditEntry.chain_position)
            .limit(PAGE)
        )
        rows = [dict(r._mapping) for r in db.session.execute(q)]
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1]["chain_position"]


def verify_chain() -> tuple[Break | None, int, tuple[int, str] | None]:
    """(the first break or None, entries checked, the head)."""
    checked = 0

    def counted():
        nonlocal checked
        for row in iter_chain():
            checked += 1
            yield row

    found = first_break(counted(), chain_count())
    return found, checked, chain_head()


def histories(scope: Scope, entity: str, record_ids: list[str]) -> dict[str, list[AuditEntry]]:
    """The trails of several records of one entity, oldest first, inside the scope."""
    query = (
        select(AuditEntry)
        .where(within(scope, AuditEntry), AuditEntry.entity == entity, AuditEntry.record_id.in_(record_ids))
        .order_by(AuditEntry.id)
    )
    found: dict[str, list[AuditEntry]] = {}
    for entry in db.session.execute(query).scalars():
        found.setdefault(entry.record_id, []).append(entry)
    return found


def append_account_entry(
    *,
    at: datetime,
    actor: str,
    actor_id: int | None,
    device_id: str | None,
    action: str,
    username: str,
    before: dict,
    after: dict,
    place: tuple[str | None, str | None],
) -> None:
    """One entry of an account's trail (``entity`` ``users``, ``record_id`` the username).

    ``place`` is the account's (commune_code, district_code), so the audit is scoped for
    accounts as it is for records: a district's auditors see their district's users.
    """
    from server.store.sync import columns_of  # the engine's own row shape, hashed alike
    from sync.store import AuditEntry as Entry

    entry = Entry(entity=ACCOUNTS, record_id=username, version=None, action=action, user_id=actor_id,
                  username=actor[:80], at=at, before=before, after=after, commune_code=place[0],
                  district_code=place[1], device_id=device_id, batch_id=None, change_id=None,
                  client_time=None)  # fmt: skip
    append_chained([columns_of(entry, username="actor")])
