"""Full pull of the same records from Kinto and from one or more builds of the app, in rounds.

    /work/venv/bin/python -m bench.pull_rounds [--records 10000] [--rounds 5]
        [--app DIR ...] [--skip-kinto]

Pushes ``--records`` records (``bench/records.py``) into Kinto (PostgreSQL backend, 4
workers) and into each ``--app`` checkout (default: this one) on PostgreSQL under gunicorn,
then pulls everything back from each server in turn, ``--rounds`` times, in pages of 1,000,
and prints each server's median records/s and its ratio to Kinto's. On a machine shared
with other work a single pull is mostly noise; interleaved rounds put the same load on
every server. Databases and servers are removed at the end, as in ``bench.run``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from bench.fieldsync_side import FieldSyncApp, FieldSyncTarget, push_records
from bench.kinto_side import KintoServer, KintoTarget
from bench.records import chunk, iter_records
from bench.services import Cleanup, install_signal_handlers, repo_root
from bench.workloads import Op, measure_pull


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--app", action="append", help="a checkout of the app (the folder with wsgi.py)")
    parser.add_argument("--skip-kinto", action="store_true")
    args = parser.parse_args(argv)
    records = list(iter_records(args.records))
    install_signal_handlers()
    with Cleanup() as cleanup:
        targets = {}
        if not args.skip_kinto:
            kinto = KintoTarget(KintoServer("postgresql", cleanup))
            client = kinto.device_client(0)
            for i, batch in enumerate(chunk(records, 500)):
                kinto.push(client, [Op(r, None, None) for r in batch], f"setup-{i}")
            targets["kinto"] = (kinto, client)
        for root in args.app or [str(repo_root())]:
            os.environ["BENCH_APP_DIR"] = root
            target = FieldSyncTarget(FieldSyncApp("postgresql", cleanup))
            client = target.device_client(-1)
            push_records(target, client, records, 500)
            targets[root] = (target, client)
        print(f"load average before the rounds: {load()}", file=sys.stderr)
        rates: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (target, client) in targets.items():
                result, _ = measure_pull(target, client, None)
                if result["records"] != args.records:
                    raise SystemExit(f"{name} pulled {result['records']} of {args.records} records")
                rates[name].append(result["records_per_s"])
        print(f"load average after the rounds: {load()}", file=sys.stderr)
    kinto_median = statistics.median(rates["kinto"]) if "kinto" in rates else None
    for name, values in rates.items():
        median = statistics.median(values)
        versus = f", {median / kinto_median:.2f}x Kinto" if kinto_median else ""
        runs = " / ".join(f"{v:,.0f}" for v in values)
        print(f"{name}: median {median:,.0f} records/s ({runs}){versus}")


if __name__ == "__main__":
    main()
