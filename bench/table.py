"""The printed table, the ratios to Kinto and to the raw insert, and the targets of the issue.

Results are nested dicts; a section that could not run holds the string
"n/a (reason)" instead of its dict. Every figure here is read with :func:`pick`,
which passes such strings through, so one missing section blanks only its cells.
"""

from __future__ import annotations

from typing import Any

NA = "n/a"


def pick(tree: Any, *path: str) -> Any:
    """The value at ``path``, an "n/a (...)" string met on the way, or "n/a (not run)"."""
    node = tree
    for key in path:
        if isinstance(node, str):
            return node
        if not isinstance(node, dict) or key not in node:
            return f"{NA} (not run)"
        node = node[key]
    return node


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def ratio(a: Any, b: Any) -> float | str:
    """a / b, or "n/a" when either side is missing or b is zero."""
    if is_number(a) and is_number(b) and b:
        return round(a / b, 3)
    return NA


def _per_change(section: Any) -> float | str:
    """Seconds of a delta pull per changed record (unrounded)."""
    if isinstance(section, dict) and section.get("changed"):
        return section["seconds"] / section["changed"]
    return NA


def compute_ratios(db: dict) -> dict:
    """Our figures as ratios to Kinto's and to the raw insert rate, on one database kind."""
    ours, kinto, raw = db.get("fieldsync", {}), db.get("kinto", {}), db.get("raw_insert", {})
    out: dict = {}
    for size in (100, 500):
        mine = pick(ours, f"push_batch_{size}", "records_per_s")
        out[f"push_{size}_vs_kinto"] = ratio(mine, pick(kinto, f"push_batch_{size}", "records_per_s"))
        out[f"push_{size}_vs_raw"] = ratio(mine, pick(raw, f"batch_{size}", "records_per_s"))
    for devices in (8, 32):
        mine = pick(ours, f"concurrent_{devices}", "records_per_s")
        out[f"concurrent_{devices}_vs_one_device"] = ratio(
            mine, pick(ours, "push_batch_100", "records_per_s")
        )
        out[f"concurrent_{devices}_vs_kinto"] = ratio(
            mine, pick(kinto, f"concurrent_{devices}", "records_per_s")
        )
    out["pull_full_vs_kinto"] = ratio(
        pick(ours, "pull_full_small", "records_per_s"), pick(kinto, "pull_full", "records_per_s")
    )
    # Records/s of the large full pull over the small one's: >= 1 is "no slower per record".
    out["pull_full_large_vs_small_rate"] = ratio(
        pick(ours, "pull_full_large", "records_per_s"), pick(ours, "pull_full_small", "records_per_s")
    )
    out["pull_delta_vs_kinto"] = ratio(
        pick(ours, "pull_delta_small", "seconds"), pick(kinto, "pull_delta", "seconds")
    )
    out["delta_large_vs_small_time"] = ratio(
        pick(ours, "pull_delta_large", "seconds"), pick(ours, "pull_delta_small", "seconds")
    )
    out["delta_1pct_large_vs_small_per_change"] = ratio(
        _per_change(pick(ours, "pull_delta_large_1pct")), _per_change(pick(ours, "pull_delta_small"))
    )
    return out


def check_targets(db: dict) -> list[dict]:
    """The issue's targets, judged on one database kind's results (meant for PostgreSQL)."""
    ours, r = db.get("fieldsync", {}), db.get("ratios", {})
    checks: list[dict] = []

    def add(name: str, value: Any, ok: bool | None) -> None:
        checks.append({"target": name, "value": value, "met": ok})

    for size in (100, 500):
        v = r.get(f"push_{size}_vs_kinto", NA)
        add(f"push (batch {size}) >= 30x Kinto", v, v >= 30 if is_number(v) else None)
        v = r.get(f"push_{size}_vs_raw", NA)
        add(f"push (batch {size}) >= 25 % of raw insert", v, v >= 0.25 if is_number(v) else None)
    for devices in (8, 32):
        section = pick(ours, f"concurrent_{devices}")
        if isinstance(section, dict):
            lost, dup = section.get("lost"), section.get("duplicated")
            missed = section.get("missed_by_polling_reader")
            value = f"lost {lost}, duplicated {dup}, missed {missed}"
            met = lost == 0 and dup == 0 and missed == 0
            add(
                f"concurrent {devices}: zero lost, zero duplicated, none missed by a polling reader",
                value,
                met,
            )
        else:
            add(f"concurrent {devices}: zero lost, zero duplicated", section, None)
        v = r.get(f"concurrent_{devices}_vs_one_device", NA)
        add(f"concurrent {devices}: more throughput than one device", v, v > 1 if is_number(v) else None)
    v = r.get("pull_full_vs_kinto", NA)
    add("full pull >= 2x Kinto", v, v >= 2 if is_number(v) else None)
    v = r.get("pull_full_large_vs_small_rate", NA)
    add("full pull at the large size no slower per record than small", v, v >= 1 if is_number(v) else None)
    v = r.get("delta_large_vs_small_time", NA)
    add(
        "delta pull at large size within 2x its time at small size (same changes)",
        v,
        v <= 2 if is_number(v) else None,
    )
    for name in ("exit_registrations", "delays", "payouts_overdue"):
        v = pick(ours, "reports_large", name, "seconds")
        add(f"report {name} over the large province < 1 s", v, v < 1 if is_number(v) else None)
    for section in ("memory_push_500", "memory_pull_large"):
        v = pick(ours, section, "peak_rss_mb")
        add(f"{section}: peak RSS per worker < 200 MB", v, v < 200 if is_number(v) else None)
    return checks


def _cell(value: Any, notes: list[str], fmt: str = "{:,.1f}") -> str:
    if is_number(value):
        return fmt.format(value)
    if isinstance(value, str) and value.startswith(NA):
        reason = value[len(NA) :].strip(" ()")
        if reason and reason != "not run":
            if reason not in notes:
                notes.append(reason)
            return f"n/a [{notes.index(reason) + 1}]"
        return "-"
    if value is None:
        return "-"
    return str(value)


def _latency(section: Any, notes: list[str]) -> str:
    if isinstance(section, dict):
        return f"{section['batch_p50_ms']:,.0f} / {section['batch_p95_ms']:,.0f}"
    return _cell(section, notes)


def _loss(section: Any, notes: list[str]) -> str:
    if isinstance(section, dict):
        return (
            f"{section.get('lost')} / {section.get('duplicated')} / {section.get('missed_by_polling_reader')}"
        )
    return _cell(section, notes)


def _x(value: Any) -> str:
    return f"{value:,.2f}x" if is_number(value) else "-"


def render_table(results: dict) -> str:
    """The human-readable table of every database kind, with ratios and the targets."""
    lines: list[str] = []
    notes: list[str] = []
    for kind in ("sqlite", "postgresql"):
        db = results.get(kind)
        if not db:
            continue
        ours, kinto, raw, r = (
            db.get("fieldsync", {}),
            db.get("kinto", {}),
            db.get("raw_insert", {}),
            db.get("ratios", {}),
        )
        kinto_name = "kinto-memory" if kind == "sqlite" else "kinto-postgresql"
        lines.append("")
        lines.append(f"== {kind} ==  (Kinto column: {kinto_name}; raw: SQLAlchemy Core executemany)")
        header = f"{'section':44} {'ours':>16} {'kinto':>16} {'raw':>16} {'ours/kinto':>11} {'ours/raw':>9}"
        lines.append(header)
        lines.append("-" * len(header))

        def row(
            label: str, mine: str, theirs: str = "-", ceiling: str = "-", rk: str = "-", rr: str = "-"
        ) -> None:
            lines.append(f"{label:44} {mine:>16} {theirs:>16} {ceiling:>16} {rk:>11} {rr:>9}")

        for size in (100, 500):
            row(f"push, batch {size} (records/s)",
                _cell(pick(ours, f"push_batch_{size}", "records_per_s"), notes),
                _cell(pick(kinto, f"push_batch_{size}", "records_per_s"), notes),
                _cell(pick(raw, f"batch_{size}", "records_per_s"), notes),
                _x(r.get(f"push_{size}_vs_kinto")), _x(r.get(f"push_{size}_vs_raw")))  # fmt: skip
            row(f"push, batch {size} p50 / p95 (ms)",
                _latency(pick(ours, f"push_batch_{size}"), notes),
                _latency(pick(kinto, f"push_batch_{size}"), notes),
                _latency(pick(raw, f"batch_{size}"), notes))  # fmt: skip
        for devices in (8, 32):
            row(f"concurrent push, {devices} devices (records/s)",
                _cell(pick(ours, f"concurrent_{devices}", "records_per_s"), notes),
                _cell(pick(kinto, f"concurrent_{devices}", "records_per_s"), notes),
                "-", _x(r.get(f"concurrent_{devices}_vs_kinto")))  # fmt: skip
            row(
                "  lost / duplicated / missed by reader",
                _loss(pick(ours, f"concurrent_{devices}"), notes),
                _loss(pick(kinto, f"concurrent_{devices}"), notes),
            )
            row("  vs one device (batch 100)", _x(r.get(f"concurrent_{devices}_vs_one_device")))
        small = pick(ours, "pull_full_small", "records")
        mine, theirs = (
            pick(ours, "pull_full_small", "records_per_s"),
            pick(kinto, "pull_full", "records_per_s"),
        )
        row(f"full pull, {small if is_number(small) else '?'} records (records/s)",
            _cell(mine, notes), _cell(theirs, notes), "-", _x(r.get("pull_full_vs_kinto")))  # fmt: skip
        row("delta pull, 1 % changed (s)",
            _cell(pick(ours, "pull_delta_small", "seconds"), notes, "{:.4f}"),
            _cell(pick(kinto, "pull_delta", "seconds"), notes, "{:.4f}"))  # fmt: skip
        big = pick(ours, "pull_full_large", "records")
        row(
            f"full pull, {big if is_number(big) else 'large'} records (records/s)",
            _cell(pick(ours, "pull_full_large", "records_per_s"), notes),
        )
        row(
            "delta pull, large, same changes as small (s)",
            _cell(pick(ours, "pull_delta_large", "seconds"), notes, "{:.4f}"),
        )
        row("  large / small time", _x(r.get("delta_large_vs_small_time")))
        row(
            "delta pull, large, 1 % changed (s)",
            _cell(pick(ours, "pull_delta_large_1pct", "seconds"), notes, "{:.3f}"),
        )
        row("  per change, large / small", _x(r.get("delta_1pct_large_vs_small_per_change")))
        row("conflict-heavy (changes/s)", _cell(pick(ours, "conflict_heavy", "changes_per_s"), notes))
        for size in ("small", "large"):
            for name in ("exit_registrations", "delays", "payouts_overdue"):
                row(
                    f"report {name}, {size} (s)",
                    _cell(pick(ours, f"reports_{size}", name, "seconds"), notes, "{:.3f}"),
                )
        for section in ("memory_push_500", "memory_pull_small", "memory_pull_large"):
            row(f"peak RSS per worker, {section[7:]} (MB)", _cell(pick(ours, section, "peak_rss_mb"), notes))
        lines.append("")
        lines.append(f"targets ({kind}):")
        for check in db.get("targets", []):
            mark = {True: "MET ", False: "MISS", None: "n/a "}[check["met"]]
            value = check["value"]
            shown = f"{value:,.3f}" if is_number(value) else _cell(value, notes)
            lines.append(f"  [{mark}] {check['target']}: {shown}")
    if notes:
        lines.append("")
        lines.append("n/a reasons:")
        lines.extend(f"  [{i}] {note}" for i, note in enumerate(notes, 1))
    return "\n".join(lines)
