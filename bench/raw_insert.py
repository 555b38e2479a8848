"""The ceiling: how fast the database itself takes the same rows.

SQLAlchemy Core ``executemany`` of the push workload's records into one table
with the indexes a sync store needs (a change sequence for pulls, a unique
entity + id, the commune for scoping, the household for its children), one
transaction per batch of 100 or 500 rows, as one push is one transaction.
Nothing of HTTP, JSON validation, versions or audit: this is the limit our
push rate is compared with.

Run alone: ``python -m bench.raw_insert --db postgresql --records 10000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from bench.client import percentile
from bench.records import Record, chunk, iter_records
from bench.services import Cleanup, make_database

metadata = sa.MetaData()
raw_records = sa.Table(
    "raw_records",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(20), nullable=False),
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("commune_code", sa.String(10), nullable=False),
    sa.Column("household_id", sa.String(36)),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    sa.UniqueConstraint("entity", "id", name="uq_raw_records_entity_id"),
    sa.Index("ix_raw_records_commune_seq", "commune_code", "seq"),
    sa.Index("ix_raw_records_household", "household_id"),
)


def engine_for(url: str) -> sa.Engine:
    """An engine for a plain ``postgresql://`` or ``sqlite:///`` URL (psycopg 3 for PostgreSQL)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return sa.create_engine(url)


def to_row(record: Record) -> dict:
    """The table row for one record, version 1."""
    return {
        "entity": record.entity,
        "id": record.id,
        "version": 1,
        "commune_code": record.commune_code,
        "household_id": record.data.get("household_id", record.id if record.entity == "households" else None),
        "deleted": False,
        "updated_at": dt.datetime.now(dt.UTC),
        "data": record.data,
    }


def measure_raw_insert(url: str, records: list[Record], batch_size: int) -> dict:
    """Insert ``records`` into a fresh ``raw_records`` table, one transaction per batch.

    Returns rows/s and per-batch p50/p95 latency in milliseconds.
    """
    engine = engine_for(url)
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
        # Rows are built before the clock starts: this measures the database, not Python.
        batches = [[to_row(r) for r in batch] for batch in chunk(records, batch_size)]
        latencies = []
        started = time.perf_counter()
        for rows in batches:
            t0 = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(raw_records.insert(), rows)
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(raw_records)).scalar_one()
        if stored != len(records):
            raise RuntimeError(f"raw insert stored {stored} rows of {len(records)}")
        return {
            "records": len(records),
            "batch_size": batch_size,
            "seconds": round(elapsed, 3),
            "records_per_s": round(len(records) / elapsed, 1),
            "batch_p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "batch_p95_ms": round(percentile(latencies, 95) * 1000, 2),
        }
    finally:
        engine.dispose()


def run_raw_insert(kind: str, records: list[Record], cleanup: Cleanup, batch_sizes=(100, 500)) -> dict:
    """The raw insert rate on a fresh database of ``kind``, for each batch size."""
    url = make_database(kind, "raw", cleanup)
    return {f"batch_{size}": measure_raw_insert(url, records, size) for size in batch_sizes}


def main(argv: list[str] | None = None) -> None:
    """Measure and print the raw insert rate as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    args = parser.parse_args(argv)
    records = list(iter_records(args.records))
    with Cleanup() as cleanup:
        result = run_raw_insert(args.db, records, cleanup)
    print(json.dumps({"raw_insert": {args.db: result}}, ensure_ascii=False))


if __name__ == "__main__":
    main()
