"""Workloads shared by every target (our server, Kinto): what is sent, timed and checked.

A target turns :class:`Op` batches into its own HTTP requests (our
``/api/v1/sync/push``, Kinto's ``/v1/batch``) and reads records back (our
``/api/v1/sync/pull`` cursor, Kinto's ``?_since=``). The workloads here decide
what to send, measure it, and check afterwards that nothing acknowledged was
lost and nothing was applied twice.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bench.client import JsonClient, percentile
from bench.records import Commune, Record, chunk, load_communes, make_household_bundle

# Fields of a household that devices of one group edit, one field per device, so their
# concurrent edits of the same household must all be merged (and none lost).
EDIT_FIELDS = (
    "phone",
    "notes",
    "village",
    "members",
    "latitude",
    "longitude",
    "head_name",
    "ethnic_minority",
)


@dataclass
class Op:
    """One change a device sends: a new record, or an edit of fields of an existing one."""

    record: Record  # the full data after the change
    base_version: int | None = None
    edited: dict | None = None  # only the fields the edit changes (None for a creation)
    change_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Ack:
    """What the server said about one op: accepted or not, the status word and the version."""

    ok: bool
    status: str
    version: int | None = None
    errors: object = None  # the server's reason when it did not accept the change


@dataclass(slots=True)
class PulledRecord:
    """A record as pulled: its version (or timestamp) and data."""

    entity: str
    id: str
    version: int | None
    deleted: bool
    data: dict


class SyncTarget(Protocol):
    """What a server must offer the workloads."""

    name: str

    def device_client(self, device: int) -> JsonClient:
        """An authenticated client for device number ``device`` (a user of the right scope)."""

    def push(self, client: JsonClient, ops: list[Op], batch_id: str) -> list[Ack]:
        """Send ``ops`` as one batch; retry transient failures; one Ack per op, in order."""

    def pull(
        self, client: JsonClient, since: str | None, keep_data: bool = True
    ) -> tuple[list[PulledRecord], str | None]:
        """Every change since ``since`` (everything when None), paging to the end; the next ``since``.

        With ``keep_data`` false the records come back without their data (a million-record
        pull then fits in the benchmark's memory)."""


def measure_push(target: SyncTarget, client: JsonClient, records: list[Record], batch_size: int) -> dict:
    """Push ``records`` as new records in batches of ``batch_size``; records/s and batch latency."""
    latencies = []
    statuses: dict[str, int] = {}
    refused: list[str] = []
    started = time.perf_counter()
    for batch in chunk(records, batch_size):
        ops = [Op(record) for record in batch]
        t0 = time.perf_counter()
        acks = target.push(client, ops, str(uuid.uuid4()))
        latencies.append(time.perf_counter() - t0)
        for ack, op in zip(acks, ops, strict=True):
            statuses[ack.status] = statuses.get(ack.status, 0) + 1
            if not ack.ok and len(refused) < 3:
                refused.append(f"{op.record.entity}: {ack.status} {str(ack.errors)[:200]}")
    elapsed = time.perf_counter() - started
    return {
        "records": len(records),
        "batch_size": batch_size,
        "seconds": round(elapsed, 3),
        "records_per_s": round(len(records) / elapsed, 1),
        "batch_p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "batch_p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "statuses": statuses,
        "refused_examples": refused,
    }


def measure_pull(
    target: SyncTarget, client: JsonClient, since: str | None, repeats: int = 1
) -> tuple[dict, str | None]:
    """Pull everything since ``since``; records/s, and the ``since`` for the next pull.

    With ``repeats`` > 1 the same pull (same ``since``) is made again and the median time
    is reported - for small, quick pulls where one measurement is mostly noise.
    """
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        pulled, next_since = target.pull(client, since, keep_data=False)
        times.append(time.perf_counter() - started)
    elapsed = sorted(times)[len(times) // 2]
    ids = {(p.entity, p.id) for p in pulled}
    result = {
        "records": len(pulled),
        "distinct": len(ids),
        "seconds": round(elapsed, 5),
        "records_per_s": round(len(pulled) / elapsed, 1) if elapsed > 0 else None,
    }
    return result, next_since


def make_edit(record: Record, base_version: int | None, field_name: str, rng: random.Random) -> Op:
    """An edit of one field of ``record`` (the full new data, and the changed field alone)."""
    value = _new_value(field_name, record.data.get(field_name), rng)
    data = dict(record.data)
    data[field_name] = value
    return Op(Record(record.entity, record.id, data, record.commune_code), base_version, {field_name: value})


def _new_value(field_name: str, old: object, rng: random.Random) -> object:
    if field_name == "phone":
        return f"03{rng.randrange(10**8):08d}"
    if field_name == "members":
        return (int(old or 1) % 9) + 1
    if field_name in ("latitude", "longitude"):
        return round(float(old or 15.5) + rng.uniform(0.0001, 0.001), 6)
    if field_name == "ethnic_minority":
        return not bool(old)
    if field_name == "village":
        return f"Thôn {rng.randrange(1, 20)} mới"
    if field_name == "head_name":
        return f"Trần Thị Ánh {rng.randrange(1000)}"
    return f"Ghi chú cập nhật {rng.randrange(10**6)}: đã thăm hộ, hộ đồng ý kế hoạch hỗ trợ."


@dataclass
class ConcurrentPlan:
    """Who sends what in the concurrent push: shared households first, then each device's batches."""

    shared_by_group: list[list[Record]]  # created before the timed part, edited by the group's devices
    device_batches: list[list[list[Op]]]  # per device, its batches in order
    device_group: list[int]  # per device, the index of its group (one commune each)
    creations: list[Record]  # every record created during the timed part
    edits: list[Op]  # every edit sent during the timed part
    group_size: int = 8
    group_communes: list[str] = field(default_factory=list)  # the commune code of each group

    @property
    def shared(self) -> list[Record]:
        """Every shared household, all groups together."""
        return [h for group in self.shared_by_group for h in group]


def plan_concurrent_push(
    devices: int,
    records_per_device: int,
    batch_size: int = 100,
    group_size: int = 8,
    shared_per_group: int = 50,
    seed: int = 7,
    communes: list[Commune] | None = None,
) -> ConcurrentPlan:
    """Devices in groups of ``group_size`` share one commune and its ``shared_per_group`` households.

    Every device creates its own households and registrations and, mixed in among them, edits
    the shared households of its group - each device of a group its own field, so all of
    those concurrent edits must end up merged in the final record.
    """
    rng = random.Random(seed)
    communes = communes or load_communes()
    groups = (devices + group_size - 1) // group_size
    # Mountain communes first: that is where collaborators come down in bursts.
    chosen = sorted(communes, key=lambda c: (not c.mountain, c.code))[:groups]
    shared_by_group = []
    for g, commune in enumerate(chosen):
        households = [
            make_household_bundle(rng, commune, 900_000 + g * 1000 + i, full=False)[0]
            for i in range(shared_per_group)
        ]
        shared_by_group.append(households)
    device_batches, device_group, creations, edits = [], [], [], []
    for d in range(devices):
        g = d // group_size
        field_name = EDIT_FIELDS[(d % group_size) % len(EDIT_FIELDS)]
        own: list[Op] = []
        seq = 100_000 * (d + 1)
        while len(own) < records_per_device:
            for record in make_household_bundle(rng, chosen[g], seq, full=False):
                own.append(Op(record))
            seq += 1
        own = own[:records_per_device]
        creations.extend(op.record for op in own)
        mine = [make_edit(h, 1, field_name, rng) for h in shared_by_group[g] if rng.random() < 0.5]
        edits.extend(mine)
        ops = list(own)
        for op in mine:  # edits land at random places among the creations
            ops.insert(rng.randrange(len(ops) + 1), op)
        device_batches.append(list(chunk(ops, batch_size)))
        device_group.append(g)
    return ConcurrentPlan(
        shared_by_group, device_batches, device_group, creations, edits, group_size, [c.code for c in chosen]
    )


@dataclass
class DeviceLog:
    """Everything one device sent and was told, for the check afterwards."""

    acks: list[tuple[Op, Ack]] = field(default_factory=list)
    resent_batches: int = 0
    resent_batch_mismatch: int = 0
    resent_changes: int = 0
    resent_change_mismatch: int = 0
    errors: list[str] = field(default_factory=list)


def run_device(
    target: SyncTarget, client: JsonClient, batches: list[list[Op]], rng: random.Random, log: DeviceLog
) -> None:
    """Send the device's batches; now and then send a batch again (lost response) or a change again."""
    earlier: list[tuple[Op, Ack]] = []
    for batch in batches:
        ops = list(batch)
        resent = []
        if earlier and rng.random() < 0.3:  # a change whose response was lost rides along again
            resent = rng.sample(earlier, min(len(earlier), rng.randint(1, 3)))
            ops = [op for op, _ in resent] + ops
        batch_id = str(uuid.uuid4())
        acks = target.push(client, ops, batch_id)
        for (_op, first), ack in zip(resent, acks[: len(resent)], strict=True):
            log.resent_changes += 1
            if not ack.ok or (first.version is not None and ack.version != first.version):
                log.resent_change_mismatch += 1
        fresh = list(zip(ops[len(resent) :], acks[len(resent) :], strict=True))
        log.acks.extend(fresh)
        earlier.extend((op, ack) for op, ack in fresh if ack.ok)
        if rng.random() < 0.1:  # the whole response was lost: the same batch again
            again = target.push(client, ops, batch_id)
            log.resent_batches += 1
            if [_replay_key(target, a) for a in again] != [_replay_key(target, a) for a in acks]:
                log.resent_batch_mismatch += 1


def _replay_key(target: SyncTarget, ack: Ack) -> tuple:
    """What must not change when a batch is sent again: the whole answer where the target
    promises it (our batch_id), else only that the change is still accepted (Kinto: 201 then 200)."""
    if getattr(target, "idempotent_batches", False):
        return (ack.status, ack.version)
    return (ack.ok,)


def run_concurrent_push(
    target: SyncTarget, plan: ConcurrentPlan, seed: int = 11, poll_interval: float = 0.2
) -> dict:
    """Run every device at once (one thread each) while a reader polls for changes; then check.

    The reader pulls with its cursor / ``_since`` over and over during the writes; afterwards the
    union of what it saw must hold every record at its final state (protocol.md: a record
    committed while a pull runs is never skipped by the next pull).
    """
    admin = target.device_client(-1)
    for g, households in enumerate(plan.shared_by_group):
        owner = target.device_client(g * plan.group_size)
        for batch in chunk([Op(r) for r in households], 100):
            acks = target.push(owner, batch, str(uuid.uuid4()))
            if not all(a.ok for a in acks):
                raise RuntimeError(f"could not create the shared households: {acks[:3]}")
    _, since = target.pull(admin, None, keep_data=False)

    clients = [target.device_client(d) for d in range(len(plan.device_batches))]
    logs = [DeviceLog() for _ in plan.device_batches]
    seen: dict[tuple[str, str], PulledRecord] = {}
    stop = threading.Event()
    reader_errors: list[str] = []
    reader_client = target.device_client(-1)

    def read_while_writing() -> None:
        nonlocal since
        while not stop.is_set():
            try:
                pulled, since = target.pull(reader_client, since, keep_data=False)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                reader_errors.append(repr(exc))
                return
            for p in pulled:
                seen[(p.entity, p.id)] = p
            stop.wait(poll_interval)

    def device_main(d: int) -> None:
        try:
            run_device(target, clients[d], plan.device_batches[d], random.Random(seed + d), logs[d])
        except Exception as exc:  # noqa: BLE001 - reported in the result
            logs[d].errors.append(repr(exc))

    reader = threading.Thread(target=read_while_writing, daemon=True)
    threads = [threading.Thread(target=device_main, args=(d,), daemon=True) for d in range(len(clients))]
    reader.start()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=3600)
    elapsed = time.perf_counter() - started
    stop.set()
    reader.join(timeout=600)
    pulled_after, _ = target.pull(reader_client, since, keep_data=False)
    for p in pulled_after:
        seen[(p.entity, p.id)] = p
    final, _ = target.pull(admin, None)
    planned = sum(len(b) for batches in plan.device_batches for b in batches)
    sent = sum(len(log.acks) for log in logs)  # a device that failed stopped early
    result = {
        "devices": len(plan.device_batches),
        "changes_planned": planned,
        "changes": sent,
        "seconds": round(elapsed, 3),
        "records_per_s": round(sent / elapsed, 1),
    }
    result.update(check_concurrent(plan, logs, final, seen))
    result["reader_errors"] = reader_errors[:3]
    return result


def check_concurrent(
    plan: ConcurrentPlan, logs: list[DeviceLog], final: list[PulledRecord], seen: dict
) -> dict:
    """Count lost and duplicated changes.

    - lost: a created record acknowledged but missing or different in the final pull; an
      acknowledged edit whose field does not hold the device's value; a record whose final
      state the polling reader never saw;
    - duplicated: a record appearing twice in one pull; two acknowledgements claiming the same
      version of a record; versions with a gap (an edit applied twice, or one lost); a re-sent
      batch or change answered differently from the first time.
    """
    by_key: dict[tuple[str, str], PulledRecord] = {}
    duplicated_in_pull = 0
    for p in final:
        key = (p.entity, p.id)
        if key in by_key:
            duplicated_in_pull += 1
        by_key[key] = p
    acks = [(op, ack) for log in logs for op, ack in log.acks]
    lost, not_acked, versions_by_record = [], 0, {}
    lost_kinds = {"created": 0, "edited": 0}
    statuses: dict[str, int] = {}
    changed: set[tuple[str, str]] = set()
    for op, ack in acks:
        key = (op.record.entity, op.record.id)
        statuses[ack.status] = statuses.get(ack.status, 0) + 1
        if not ack.ok:
            not_acked += 1
            continue
        changed.add(key)
        if ack.version is not None:
            versions_by_record.setdefault(key, []).append(ack.version)
        got = by_key.get(key)
        kind = "created" if op.edited is None else "edited"
        if got is None or got.deleted:
            lost.append(f"{key[0]}/{key[1]} missing")
            lost_kinds[kind] += 1
            continue
        expected = op.edited if op.edited is not None else op.record.data
        for name, value in expected.items():
            if got.data.get(name) != value and not (value is None and name not in got.data):
                lost.append(f"{key[0]}/{key[1]}.{name}: sent {value!r}, stored {got.data.get(name)!r}")
                lost_kinds[kind] += 1
                break
    version_clashes = version_gaps = 0
    shared_keys = {(r.entity, r.id) for r in plan.shared}
    for key, versions in versions_by_record.items():
        if len(set(versions)) != len(versions):
            version_clashes += 1
        start = 2 if key in shared_keys else 1
        final_version = by_key[key].version if key in by_key else None
        if final_version is not None and sorted(set(versions)) != list(range(start, final_version + 1)):
            version_gaps += 1
    # Only what changed during the writes can be asked of the reader, and only at its final state.
    missed_by_reader = sum(
        1
        for key in changed
        if key in by_key and (key not in seen or seen[key].version != by_key[key].version)
    )
    resend_mismatch = sum(log.resent_batch_mismatch + log.resent_change_mismatch for log in logs)
    return {
        "statuses": statuses,
        "acknowledged": len(acks) - not_acked,
        "not_acknowledged": not_acked,
        "lost": len(lost),
        "lost_creations": lost_kinds["created"],
        "lost_edits": lost_kinds["edited"],
        "lost_examples": lost[:3],
        "duplicated": duplicated_in_pull + version_clashes + resend_mismatch,
        "duplicated_in_pull": duplicated_in_pull,
        "version_clashes": version_clashes,
        "version_gaps": version_gaps,
        "resent_batches": sum(log.resent_batches for log in logs),
        "resent_changes": sum(log.resent_changes for log in logs),
        "resend_mismatches": resend_mismatch,
        "missed_by_polling_reader": missed_by_reader,
        "device_errors": [e for log in logs for e in log.errors][:3],
    }


def time_call(fn: Callable[[], object]) -> tuple[float, object]:
    """Seconds taken by ``fn()`` and its result."""
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value
