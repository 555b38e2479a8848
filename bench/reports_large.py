"""Time the report endpoints over a province of a million households on PostgreSQL.

    /work/venv/bin/python -m bench.reports_large [--households 1000000] [--keep] [--reuse]

Seeds a fresh database ``fs_bench_reports`` with SQL (``generate_series``: a minute, not an
hour of pushes) shaped like ``bench/records.py``'s province - 90 % of households register
in 2020, two thirds of those are approved, 60 % of registrations have a payout, 1 % of
households are deleted - with every payout's version in ``record_versions`` so the past-day
path is measured too. Then each report runs through the whole HTTP stack (Flask test
client, a supervisor's token), cold once and warm three times; the median is printed.
The database is dropped at the end unless ``--keep``; ``--reuse`` times a kept one again.
Wall-clock times: on a machine shared with other work they are that work's too (the load
average is printed).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time

from sqlalchemy import create_engine, text

from bench.services import PG_ADMIN_URL

DB = "fs_bench_reports"
TODAY = datetime.date.today().isoformat()
SEED = [
    # Communes numbered 0..240, to spread the households over the province.
    """CREATE TEMP TABLE c AS SELECT (row_number() OVER (ORDER BY code)) - 1 AS i, code, parent_code
       FROM units WHERE level = 'commune'""",
    """INSERT INTO households (id, version, deleted, deleted_at, created_at, updated_at, commune_code,
           district_code, code, village, head_name, members, category, ethnic_minority)
       SELECT md5('h' || g)::uuid::text, 1, g % 100 = 0,
              CASE WHEN g % 100 = 0 THEN timestamptz '2020-08-01 03:00+00' END,
              timestamptz '2020-01-02 03:00+00', timestamptz '2020-01-02 03:00+00', c.code, c.parent_code,
              'HH-' || g, 'Thôn ' || (g % 9 + 1), 'Hồ Văn ' || g, 1 + g % 7,
              CASE WHEN g % 3 = 0 THEN 'near_poor' ELSE 'poor' END, g % 2 = 0
       FROM generate_series(1, :n) g JOIN c ON c.i = g % 241""",
    """INSERT INTO registrations (id, version, deleted, created_at, updated_at, commune_code, district_code,
           household_id, year, kind, members, needs, commitment, signed_on, status, submitted_at,
           decided_by, decided_at)
       SELECT md5('r' || g)::uuid::text, 1, false, timestamptz '2020-01-05 03:00+00',
              timestamptz '2020-01-05 03:00+00', c.code, c.parent_code, md5('h' || g)::uuid::text, 2020,
              CASE WHEN g % 3 = 0 THEN 'exit_near_poverty' ELSE 'exit_poverty' END, 1 + g % 7,
              '["livestock"]'::jsonb, true, date '2020-03-01',
              CASE WHEN g % 3 = 1 THEN 'submitted' ELSE 'approved' END,
              timestamptz '2020-01-05 03:00+00', CASE WHEN g % 3 = 1 THEN NULL ELSE 'ubnd' END,
              CASE WHEN g % 3 <> 1 THEN timestamptz '2020-01-10 03:00+00' + (g % 300) * interval '1 day' END
       FROM generate_series(1, :n) g JOIN c ON c.i = g % 241 WHERE g % 10 <> 0""",
    """INSERT INTO payouts (id, version, deleted, created_at, updated_at, commune_code, district_code,
           household_id, registration_id, kind, recognized_year, amount_vnd, due_date, status,
           disbursed_on, confirmed_on)
       SELECT md5('p' || g)::uuid::text, 1, false, timestamptz '2020-02-01 03:00+00',
              timestamptz '2020-02-01 03:00+00', c.code, c.parent_code, md5('h' || g)::uuid::text,
              md5('r' || g)::uuid::text, 'reward', 2020, 5000000, date '2020-03-01' + g % 365,
              (ARRAY['pending','approved','disbursed','confirmed','cancelled'])[1 + g % 5],
              CASE WHEN g % 5 IN (2, 3) THEN date '2020-03-05' + g % 365 END,
              CASE WHEN g % 5 = 3 THEN date '2020-03-09' + g % 365 END
       FROM generate_series(1, :n) g JOIN c ON c.i = g % 241 WHERE g % 10 BETWEEN 1 AND 6""",
    """INSERT INTO record_versions (entity, record_id, version, deleted, data, commune_code, district_code,
           valid_from, valid_to, actor)
       SELECT 'payouts', id, 1, false,
              jsonb_build_object('household_id', household_id, 'registration_id', registration_id,
                  'kind', kind, 'recognized_year', recognized_year, 'amount_vnd', amount_vnd,
                  'due_date', due_date::text, 'status', status, 'disbursed_on', disbursed_on::text,
                  'confirmed_on', confirmed_on::text),
              commune_code, district_code, created_at, NULL, 'bench'
       FROM payouts""",
    """INSERT INTO record_versions (entity, record_id, version, deleted, data, commune_code, district_code,
           valid_from, valid_to, actor)
       SELECT 'registrations', id, 1, false,
              jsonb_build_object('household_id', household_id, 'year', year, 'kind', kind,
                  'members', members, 'status', status),
              commune_code, district_code, created_at, NULL, 'bench'
       FROM registrations""",
]
REPORTS = {
    "exit-registrations, province": ("/api/v1/reports/exit-registrations?year=2020", "supervisor"),
    "exit-registrations as_of, province": (
        "/api/v1/reports/exit-registrations?year=2020&as_of=2020-10-08",
        "supervisor",
    ),
    "exit-registrations, district 515": ("/api/v1/reports/exit-registrations?year=2020", "district"),
    "exit-registrations xlsx, province": (
        "/api/v1/reports/exit-registrations?year=2020&format=xlsx",
        "supervisor",
    ),
    "payouts today, province": ("/api/v1/reports/payouts?year=2020", "supervisor"),
    "payouts as_of 2020-10-08 (versions), province": (
        "/api/v1/reports/payouts?year=2020&as_of=2020-10-08",
        "supervisor",
    ),
    "delays today, province": (f"/api/v1/delays?as_of={TODAY}", "supervisor"),
    "delays as_of 2020-10-08 (versions), province": ("/api/v1/delays?as_of=2020-10-08", "supervisor"),
    "delays payout_overdue, district 515": (f"/api/v1/delays?as_of={TODAY}&kind=payout_overdue", "district"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="time a database kept by --keep")
    args = parser.parse_args()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    if not args.reuse:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {DB}"))
            conn.execute(text(f"CREATE DATABASE {DB}"))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + DB
    try:
        run(url, args.households, seed=not args.reuse)
    finally:
        if not (args.keep or args.reuse):
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))


def run(url: str, households: int, seed: bool = True) -> None:
    from flask_migrate import upgrade

    from server import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-" + "k" * 60, "TESTING": True})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        if seed:
            seed_province(households)
    time_reports(app, url)


def seed_province(households: int) -> None:
    """Units, quotas, two users and ``households`` households with their records."""
    from server.cli import DATA, add_user, load_quotas_file, load_units_file
    from server.extensions import db

    load_units_file(str(DATA / "quang_nam_units_2020.csv"))
    load_quotas_file(str(DATA / "quotas_2020.csv"))
    add_user("bench-supervisor", "supervisor", "49", "bench-password")
    add_user("bench-district", "district_officer", "515", "bench-password")
    db.session.commit()
    t0 = time.perf_counter()
    for statement in SEED:
        db.session.execute(text(statement), {"n": households})
    db.session.commit()
    print(f"seeded {households:,} households in {time.perf_counter() - t0:.0f} s")


def time_reports(app, url: str) -> None:
    """Each report through the HTTP stack: cold once, then the median of three."""
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
        tables = ("households", "registrations", "payouts", "record_versions")
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print("rows:", ", ".join(f"{t} {n:,}" for t, n in counts.items()), f"(load average {load})")
    client = app.test_client()
    headers = {}
    for who in ("supervisor", "district"):
        body = {"username": f"bench-{who}", "password": "bench-password"}
        token = client.post("/api/v1/auth/token", json=body).get_json()["access_token"]
        headers[who] = {"Authorization": f"Bearer {token}"}
    for name, (path, who) in REPORTS.items():
        runs = []
        for _ in range(4):
            t0 = time.perf_counter()
            resp = client.get(path, headers=headers[who])
            runs.append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.data[:300]
        size = len(resp.data)
        print(
            f"{name:50s} cold {runs[0]:.3f} s, warm median {statistics.median(runs[1:]):.3f} s"
            f" ({size / 1e6:.1f} MB)"
        )


if __name__ == "__main__":
    main()
