"""Profile one device's push and a full pull in-process, without gunicorn or HTTP sockets.

    /work/venv/bin/python -m bench.profile_push [--records 5000] [--batch 500]
        [--db sqlite|postgresql] [--profile push|pull|none] [--html FILE]

Makes a fresh database (a SQLite file in a temporary folder, or ``fs_bench_profile_<pid>`` on
PostgreSQL, dropped at the end), sets it up with the documented commands, then pushes
``--records`` records from ``bench/records.py`` through the Flask test client in batches
and pulls them back, printing records/s. With ``--profile`` the chosen phase runs under
pyinstrument (``pip install -e '.[bench]'``) and its call tree is printed (or written as
HTML). This is where the before/after figures in the README's benchmark section come from:
the same command on two commits, one machine, one run each.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.records import chunk, iter_records, make_change
from bench.services import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parent.parent
DB = f"fs_bench_profile_{os.getpid()}"  # one per run: several people may profile at once
PASSWORD = "bench-profile-password"


def fresh_database(kind: str, folder: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder}/profile.db"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{DB}"


def drop_database(kind: str) -> None:
    if kind == "postgresql":
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        admin.dispose()


def profiler(enabled: bool):
    if not enabled:
        return None
    from pyinstrument import Profiler

    return Profiler(interval=0.0005)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--profile", choices=("push", "pull", "none"), default="none")
    parser.add_argument("--html", help="write the profile as HTML here instead of printing it")
    args = parser.parse_args(argv)

    folder = tempfile.mkdtemp(prefix="fs_profile_")
    url = fresh_database(args.db, folder)
    os.environ.update(DATABASE_URL=url, SECRET_KEY=secrets.token_hex(32))
    try:
        from server import create_app

        app = create_app()
        runner = app.test_cli_runner()
        for cmd in (["init-db"], ["load-units", str(ROOT / "data" / "quang_nam_units_2020.csv")]):
            result = runner.invoke(args=cmd)
            assert result.exit_code == 0, result.output
        result = runner.invoke(
            args=["create-user", "bench_admin", "--role", "admin", "--unit", "49"], input=PASSWORD + "\n"
        )
        assert result.exit_code == 0, result.output
        client = app.test_client()
        login = client.post("/api/v1/auth/token", json={"username": "bench_admin", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}

        records = list(iter_records(args.records))
        bodies = [
            {
                "device_id": "profile-device",
                "batch_id": str(uuid.uuid4()),
                "changes": [make_change(r) for r in batch],
            }
            for i, batch in enumerate(chunk(records, args.batch))
        ]
        prof = profiler(args.profile == "push")
        with prof or nullcontext():
            start, cpu = time.perf_counter(), time.process_time()
            for body in bodies:
                resp = client.post("/api/v1/sync/push", json=body, headers=headers)
                assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
            push_s, push_cpu = time.perf_counter() - start, time.process_time() - cpu
        report(prof, args)
        prof = profiler(args.profile == "pull")
        with prof or nullcontext():
            start = time.perf_counter()
            cursor, pulled = None, 0
            while True:
                path = "/api/v1/sync/pull?limit=1000" + (f"&cursor={cursor}" if cursor else "")
                body = json.loads(client.get(path, headers=headers).data)
                pulled += len(body["changes"])
                cursor = body["cursor"]
                if not body["more"]:
                    break
            pull_s = time.perf_counter() - start
        report(prof, args)
        print(
            f"{args.db}: push {len(records)} records in batches of {args.batch}: {push_s:.2f} s "
            f"= {len(records) / push_s:.0f} rec/s ({push_cpu:.2f} s of it Python's CPU, the rest "
            f"waiting on the database); full pull {pulled}: {pull_s:.2f} s "
            f"= {pulled / pull_s:.0f} rec/s"
        )
    finally:
        drop_database(args.db)


def report(prof, args) -> None:
    if prof is None:
        return
    if args.html:
        Path(args.html).write_text(prof.output_html())
        print(f"profile written to {args.html}")
    else:
        print(prof.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
