"""The benchmark: ``python -m bench.run [--records N] [--db sqlite|postgresql|both] [--smoke]
[--skip-kinto] [--out FILE]``.

For each database kind: the raw insert ceiling, Kinto with the same workload,
then our server (gunicorn, 4 workers) over HTTP. Prints a table and, as the
last line of standard output, one JSON object with every figure. See
bench/README.md for the sections and the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time

from bench.fieldsync_side import run_fieldsync, run_section
from bench.records import iter_records
from bench.services import Cleanup, install_signal_handlers, repo_root
from bench.table import check_targets, compute_ratios, render_table

DEFAULT_SIZES = {
    "concurrency": (8, 32),
    "records_per_device": 250,
    "concurrent_batch": 100,
    "shared_per_group": 50,
    "conflict_households": 1000,
    "large_households": 1_000_000,
    "delta_fraction": 0.01,
}
SMOKE_SIZES = {
    "concurrency": (8, 32),
    "records_per_device": 20,
    "concurrent_batch": 10,
    "shared_per_group": 4,
    "conflict_households": 40,
    "large_households": 300,
    "delta_fraction": 0.01,
}
SMOKE_RECORDS = 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "--records", type=int, help="records pushed by one device (default 10,000; up to 1,000,000)"
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, for CI: checks that every path still runs"
    )
    parser.add_argument(
        "--skip-kinto", action="store_true", help="leave Kinto out (no virtualenv, no install)"
    )
    parser.add_argument(
        "--large", type=int, help="households of the large province (default 1,000,000; 0 skips)"
    )
    parser.add_argument("--out", help="also write the JSON result to this file")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when a section failed with an error (a missing endpoint or a skipped part is no error)",
    )
    args = parser.parse_args(argv)
    if args.records is not None and not 1 <= args.records <= 1_000_000:
        parser.error("--records must be between 1 and 1,000,000")
    return args


def git_commit() -> str:
    """The commit being measured (with '+dirty' when the tree has changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo_root(), capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo_root(), capture_output=True, text=True
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def run_kind(kind: str, records: list, sizes: dict, skip_kinto: bool, cleanup: Cleanup) -> dict:
    """Raw insert, Kinto and our server on one database kind."""
    from bench.raw_insert import run_raw_insert

    db: dict = {}
    log(f"{kind}: raw insert of {len(records):,} rows")
    run_section(db, "raw_insert", lambda: run_raw_insert(kind, records, cleanup))
    if skip_kinto:
        db["kinto"] = "n/a (skipped: --skip-kinto)"
    else:
        from bench.kinto_side import run_kinto

        backend = "memory" if kind == "sqlite" else "postgresql"
        log(f"{kind}: Kinto ({backend} backend)")
        run_section(
            db,
            "kinto",
            lambda: run_kinto(
                backend,
                records,
                cleanup,
                sizes["delta_fraction"],
                sizes["concurrency"],
                sizes["records_per_device"],
                sizes["concurrent_batch"],
            ),
        )
    log(f"{kind}: our server")
    run_section(db, "fieldsync", lambda: run_fieldsync(kind, records, cleanup, sizes))
    db["ratios"] = compute_ratios(db)
    db["targets"] = check_targets(db)
    return db


def log(message: str) -> None:
    """Progress on standard error, so standard output stays the table and the JSON line."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 0 when it ran (targets met or not), 1 when interrupted, 3 with
    --strict when a section failed with an error."""
    args = parse_args(argv)
    sizes = dict(SMOKE_SIZES if args.smoke else DEFAULT_SIZES)
    if args.large is not None:
        sizes["large_households"] = args.large
    count = args.records or (SMOKE_RECORDS if args.smoke else 10_000)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    install_signal_handlers()
    results: dict = {
        "meta": {
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in os.getloadavg()],
            "records": count,
            "smoke": args.smoke,
            "sizes": sizes,
        }
    }
    records = list(iter_records(count))
    interrupted = False
    with Cleanup() as cleanup:
        try:
            for kind in kinds:
                results[kind] = run_kind(kind, records, sizes, args.skip_kinto, cleanup)
        except KeyboardInterrupt:
            interrupted = True
            log("interrupted: stopping servers and dropping databases")
    results["meta"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["meta"]["interrupted"] = interrupted
    print(render_table(results))
    line = json.dumps(results, ensure_ascii=False, default=str)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(line + "\n")
    print(line)
    if interrupted:
        return 1
    failures = list(find_errors(results))
    if args.strict and failures:
        log(f"--strict: {len(failures)} section(s) failed with an error, e.g. {failures[0]}")
        return 3
    return 0


def find_errors(tree: object, path: str = "") -> list[str]:
    """Sections whose value is "n/a (error: ...)" - a crash, not a missing endpoint."""
    if isinstance(tree, str):
        return [f"{path}: {tree[:200]}"] if tree.startswith("n/a (error:") else []
    if isinstance(tree, dict):
        return [e for key, value in tree.items() for e in find_errors(value, f"{path}/{key}")]
    return []


if __name__ == "__main__":
    sys.exit(main())
