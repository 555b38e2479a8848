"""Seeding a whole province (1,000,000 households) straight into the database.

Pushing a million households and their registrations, support items and payouts
through HTTP would take the better part of an hour per database, so the large
pull, delta-pull, report and memory sections seed the database directly.

STATUS: PARTIAL. The rows are generated here (:func:`iter_province_records`);
writing them is :func:`insert_records`, which must go through the app's own
store layer or bulk SQL against the app's models - and the models do not exist
yet. Until the lead completes it, :func:`seed_province` raises
:class:`SeedingUnavailable`, and the benchmark falls back to seeding through
HTTP for small sizes (``--smoke``) and reports the large sections as
"n/a (direct seeding not implemented)" otherwise.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from bench.records import Record, iter_records


class SeedingUnavailable(NotImplementedError):
    """Direct seeding is not written yet for the app's models."""


def iter_province_records(households: int, seed: int = 1_000_000, full: bool = True) -> Iterator[Record]:
    """Records of ``households`` households spread over the province's 241 communes.

    Each household comes with what a year brings it (see records.make_household_bundle).
    Registrations are yielded as devices send them; a direct seeder should additionally set
    server-managed fields so the reports have something to count - e.g. two thirds
    ``approved`` (``decided_at`` in 2020), the rest ``submitted``, ``submitted_at`` spread over
    the year - since no device may set a decision. With ``full`` false only households and
    registrations (what a device may push before any decision: support items need an approved
    registration).
    """
    rng = random.Random(seed)
    count = 0
    # iter_records counts records, not households: ask for plenty and stop at the household limit.
    for record in iter_records(households * 5, seed=rng.randrange(2**31), full=full):
        if record.entity == "households":
            count += 1
            if count > households:
                return
        yield record


def insert_records(database_url: str, records: Iterator[Record]) -> int:
    """TO BE COMPLETED BY THE LEAD against the models: write the records at version 1.

    What it must do, in chunks of ~10,000 rows per transaction (COPY or executemany):
    - insert each record into its entity's table as the store layer would (current row,
      version 1, the version-history row the merge needs, the change-sequence/cursor column
      the pull reads), with ``status``/``submitted_at``/``decided_*`` set for registrations;
    - leave the database exactly as if the records had been pushed, so pulls and reports
      read it like any other;
    - return the number of records written.
    """
    raise SeedingUnavailable("direct seeding not implemented yet (bench/seed.py: insert_records)")


def seed_province(database_url: str, households: int) -> int:
    """Fill the app's database with ``households`` households and their records; the record count."""
    return insert_records(database_url, iter_province_records(households))
