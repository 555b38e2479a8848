"""Our server, driven over HTTP exactly as protocol.md describes it.

:class:`FieldSyncApp` makes a fresh database, runs ``flask --app wsgi init-db``,
``load-units`` and creates the benchmark's users, then serves ``wsgi:app`` with
``gunicorn -w 4`` on a free loopback port. :class:`FieldSyncTarget` speaks the
sync protocol (token login, ``POST /api/v1/sync/push``, ``GET /api/v1/sync/pull``
with its cursor) for the shared workloads; the functions below add what only our
server has: the conflict-heavy workload, report timings and worker memory.

Run alone: ``python -m bench.fieldsync_side --db sqlite --records 2000``.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.client import EndpointMissing, HttpFailure, JsonClient, Response
from bench.records import Record, chunk
from bench.services import (
    Cleanup,
    find_free_port,
    gunicorn_worker_pids,
    make_database,
    read_status_kib,
    repo_root,
    restart_gunicorn_workers,
    start_server,
)
from bench.workloads import EDIT_FIELDS, Ack, Op, PulledRecord, make_edit

PROVINCE = "49"
PAGE = 1000
OK_STATUSES = ("applied", "merged", "duplicate")
RETRY_SECONDS = 300  # how long a device keeps re-sending a batch answered 503 retry


class AppUnavailable(RuntimeError):
    """The app cannot be set up or started (not built yet, or a setup command failed)."""


class SessionClient(JsonClient):
    """A JSON client logged in as one user, logging in again when its access token expires."""

    def __init__(self, base_url: str, username: str, password: str, device_id: str) -> None:
        super().__init__(base_url)
        self.username = username
        self.password = password
        self.device_id = device_id
        self.login()

    def login(self) -> None:
        """POST /api/v1/auth/token and use the access token from now on."""
        self.headers.pop("Authorization", None)
        resp = self.expect(
            "POST", "/api/v1/auth/token", {"username": self.username, "password": self.password}
        )
        self.set_bearer(resp.body["access_token"])

    def request(self, method: str, path: str, payload=None, body: bytes | None = None) -> Response:
        resp = super().request(method, path, payload, body)
        if resp.status == 401 and not path.startswith("/api/v1/auth/"):
            self.login()
            resp = super().request(method, path, payload, body)
        return resp


class FieldSyncApp:
    """A fresh database with units and users, and gunicorn serving the app on it."""

    def __init__(
        self,
        kind: str,
        cleanup: Cleanup,
        workers: int = 4,
        collaborators: dict[str, str] | None = None,
        also_bind: str | None = None,
    ):
        """``collaborators`` maps user names to commune codes (devices of the concurrent push);
        ``also_bind`` is a second address gunicorn listens on (same port), e.g. the root end of
        bench.network's veth pair."""
        self.kind = kind
        # BENCH_APP_DIR lets the harness drive another build of the app (say, an older commit).
        self.root = Path(os.environ.get("BENCH_APP_DIR") or repo_root())
        if not (self.root / "wsgi.py").exists():
            raise AppUnavailable("app not built yet (no wsgi.py)")
        self.password = secrets.token_hex(8)
        self.database_url = make_database(kind, "app", cleanup)
        self.env = dict(os.environ, DATABASE_URL=self.database_url, SECRET_KEY=secrets.token_hex(32))
        self.env.pop("FLASK_DEBUG", None)
        self.logdir = Path(tempfile.mkdtemp(prefix="fs_bench_logs_"))
        cleanup.add(
            f"folder {self.logdir}", lambda: subprocess.run(["rm", "-rf", str(self.logdir)], check=False)
        )
        self._flask("init-db")
        self._flask("load-units", str(repo_root() / "data" / "quang_nam_units_2020.csv"))
        users = {"bench_admin": ("admin", PROVINCE)}
        users.update({name: ("collaborator", commune) for name, commune in (collaborators or {}).items()})
        self._create_users(users)
        self.workers = workers
        port = find_free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        argv = [
            sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
            "--timeout", "600", "wsgi:app",
        ]  # fmt: skip
        if also_bind:
            argv[5:5] = ["-b", f"{also_bind}:{port}"]
        self.port = port
        self.server = start_server(f"fieldsync-{kind}", argv, self.env, self.root, cleanup, self.logdir)
        self.server.wait_until_answers(self.base_url + "/api/v1/openapi.json", timeout=90)

    def _flask(self, *args: str, stdin: str | None = None) -> None:
        cmd = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
        proc = subprocess.run(cmd, cwd=self.root, env=self.env, input=stdin, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AppUnavailable(f"flask {args[0]} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")

    def _create_users(self, users: dict[str, tuple[str, str]]) -> None:
        """All users in one process (one app import) through the documented create-user command."""
        script = (
            "import json, sys\nfrom wsgi import app\nrunner = app.test_cli_runner()\n"
            "for name, role, unit, pw in json.load(sys.stdin):\n"
            "    args = ['create-user', name, '--role', role, '--unit', unit]\n"
            "    r = runner.invoke(args=args, input=pw + '\\n')\n"
            "    if r.exit_code != 0:\n"
            "        sys.exit(f'create-user {name}: {r.output} {r.exception!r}')\n"
        )
        rows = [[name, role, unit, self.password] for name, (role, unit) in users.items()]
        proc = subprocess.run(
            [sys.executable, "-c", script], cwd=self.root, env=self.env, input=json.dumps(rows),
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise AppUnavailable(f"create-user failed: {(proc.stderr or proc.stdout).strip()[-300:]}")

    def stop(self) -> None:
        """Stop gunicorn (the database is dropped at cleanup)."""
        self.server.stop()


class FieldSyncTarget:
    """The shared workloads spoken in our protocol."""

    idempotent_batches = True

    def __init__(self, app: FieldSyncApp, device_users: list[str] | None = None) -> None:
        self.name = f"fieldsync-{app.kind}"
        self.app = app
        self.device_users = device_users or []

    def device_client(self, device: int) -> SessionClient:
        """Device ``d`` logs in as its collaborator; -1 (or no collaborators) is the province admin."""
        user = "bench_admin" if device < 0 or not self.device_users else self.device_users[device]
        return SessionClient(
            self.app.base_url, user, self.app.password, f"bench-{user}-{device}-{uuid.uuid4().hex[:6]}"
        )

    def push(self, client: SessionClient, ops: list[Op], batch_id: str) -> list[Ack]:
        """POST /api/v1/sync/push; a 503 ``retry`` is answered by sending the same batch again."""
        body = {
            "device_id": client.device_id,
            "batch_id": batch_id,
            "changes": [
                {
                    "change_id": op.change_id,
                    "entity": op.record.entity,
                    "id": op.record.id,
                    "op": "upsert",
                    "base_version": op.base_version,
                    "data": op.record.data,
                    "client_time": "2020-05-02T08:15:00+07:00",
                }
                for op in ops
            ],
        }
        deadline = time.monotonic() + RETRY_SECONDS
        for attempt in itertools.count():
            resp = client.request("POST", "/api/v1/sync/push", body)
            if resp.status == 503 and time.monotonic() < deadline:
                time.sleep(min(1.0, 0.02 * 2**attempt))
                continue
            if resp.status in (404, 405):
                raise EndpointMissing(f"POST /api/v1/sync/push answered {resp.status}")
            if resp.status != 200:
                raise HttpFailure(
                    "POST", "/api/v1/sync/push", resp.status, resp.raw.decode("utf-8", "replace")
                )
            break
        results = resp.body["results"]
        if len(results) != len(ops):
            raise HttpFailure(
                "POST", "/api/v1/sync/push", 200, f"{len(results)} results for {len(ops)} changes"
            )
        return [
            Ack(r["status"] in OK_STATUSES, r["status"], r.get("version"), r.get("errors")) for r in results
        ]

    def pull(
        self, client: SessionClient, since: str | None, keep_data: bool = True
    ) -> tuple[list[PulledRecord], str | None]:
        """GET /api/v1/sync/pull page after page until ``more`` is false; the last cursor."""
        pulled: list[PulledRecord] = []
        cursor = since
        for _ in range(10_000_000 // PAGE + 10):  # bounded: at most ten million records
            path = f"/api/v1/sync/pull?limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
            body = client.expect("GET", path).body
            for c in body["changes"]:
                data = c["data"] if keep_data else {}
                pulled.append(PulledRecord(c["entity"], c["id"], c["version"], c["deleted"], data))
            cursor = body["cursor"]
            if not body["more"]:
                return pulled, cursor
        raise RuntimeError("pull did not end")


def push_records(
    target: FieldSyncTarget, client: SessionClient, records: list[Record], size: int = 500
) -> None:
    """Push new records untimed (setup); fail loudly if any is not accepted."""
    for batch in chunk(records, size):
        acks = target.push(client, [Op(r) for r in batch], str(uuid.uuid4()))
        bad = [a.status for a in acks if not a.ok]
        if bad:
            raise RuntimeError(f"setup push: {len(bad)} changes not accepted, e.g. {bad[0]}")


def run_conflict_heavy(target: FieldSyncTarget, households: list[Record]) -> dict:
    """Two devices edit the same households at once from the same base version.

    Device A changes ``notes`` of every household; device B changes ``notes`` too (to another
    value) on one half - a true conflict - and ``phone`` on the other half - a merge. Both push
    concurrently in batches of 100; changes/s over both, and the statuses, which must come out
    as one ``applied`` per household plus, for the other device, ``conflict`` on one half and
    ``merged`` on the other.
    """
    import random

    rng = random.Random(3)
    a_ops = [make_edit(h, 1, "notes", rng) for h in households]
    b_ops = [
        make_edit(h, 1, "notes" if i % 2 == 0 else EDIT_FIELDS[0], rng) for i, h in enumerate(households)
    ]
    statuses: dict[str, int] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def device(ops: list[Op]) -> None:
        client = target.device_client(-1)
        try:
            for batch in chunk(ops, 100):
                for ack in target.push(client, batch, str(uuid.uuid4())):
                    with lock:
                        statuses[ack.status] = statuses.get(ack.status, 0) + 1
        except Exception as exc:  # noqa: BLE001 - reported in the result
            errors.append(repr(exc))

    threads = [threading.Thread(target=device, args=(ops,), daemon=True) for ops in (a_ops, b_ops)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=3600)
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(errors[0])
    n = len(households)
    total = len(a_ops) + len(b_ops)
    return {
        "households": n,
        "changes": total,
        "seconds": round(elapsed, 3),
        "changes_per_s": round(total / elapsed, 1),
        "statuses": statuses,
        "expected": {"applied": n, "conflict": (n + 1) // 2, "merged": n // 2},
        "as_expected": statuses
        == {k: v for k, v in {"applied": n, "conflict": (n + 1) // 2, "merged": n // 2}.items() if v},
    }


REPORTS = {
    "exit_registrations": "/api/v1/reports/exit-registrations?year=2020",
    "delays": "/api/v1/delays?as_of=2020-12-31",
    "payouts_overdue": "/api/v1/delays?as_of=2020-12-31&kind=payout_overdue",
}


def time_reports(target: FieldSyncTarget, repeats: int = 3) -> dict:
    """Seconds for each report (median of ``repeats``; the first, cold, run is shown too)."""
    client = target.device_client(-1)
    result = {}
    for name, path in REPORTS.items():
        try:
            runs = [client.expect("GET", path).seconds for _ in range(repeats)]
        except (EndpointMissing, HttpFailure) as exc:
            result[name] = f"n/a ({exc})"
            continue
        result[name] = {"seconds": round(statistics.median(runs), 4), "cold_seconds": round(runs[0], 4)}
    return result


def reset_worker_peaks(app: FieldSyncApp) -> dict:
    """Replace gunicorn's workers (SIGHUP) so their peak RSS starts afresh; their idle RSS."""
    pids = restart_gunicorn_workers(app.server.pid, app.workers, timeout=180)
    return {"idle_rss_mb": round(max(read_status_kib(p, "VmHWM") or 0 for p in pids) / 1024, 1)}


def read_worker_peaks(app: FieldSyncApp, baseline: dict) -> dict:
    """The highest peak RSS (VmHWM of /proc/<pid>/status) among the current workers."""
    peaks = [read_status_kib(p, "VmHWM") or 0 for p in gunicorn_worker_pids(app.server.pid)]
    return {"peak_rss_mb": round(max(peaks, default=0) / 1024, 1), **baseline}


def measure_worker_peak(app: FieldSyncApp, action) -> dict:
    """Fresh workers, ``action()``, then the workers' peak RSS."""
    baseline = reset_worker_peaks(app)
    action()
    return read_worker_peaks(app, baseline)


def run_section(results: dict, name: str, fn) -> object:
    """Run one section; a missing endpoint or a failure becomes "n/a (reason)" instead of a crash."""
    started = time.perf_counter()
    print(f"[bench {time.strftime('%H:%M:%S')}]   {name}", file=sys.stderr, flush=True)
    try:
        value = fn()
    except KeyboardInterrupt:
        raise
    except EndpointMissing as exc:
        results[name] = f"n/a ({exc})"
        return None
    except Exception as exc:  # noqa: BLE001 - one broken section must not end the run
        results[name] = f"n/a (error: {str(exc)[:300]})"
        return None
    results[name] = value
    print(
        f"[bench {time.strftime('%H:%M:%S')}]   {name} done in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return value


HTTP_SEED_LIMIT = 20_000
"""Up to this many households the large sections may be seeded through HTTP (no direct seeding yet)."""


def run_fieldsync(kind: str, records: list[Record], cleanup: Cleanup, sizes: dict) -> dict | str:
    """Every section of our server on a fresh database of ``kind``.

    ``sizes``: ``concurrency`` (device counts), ``records_per_device``, ``shared_per_group``,
    ``conflict_households``, ``large_households`` (0 to skip), ``delta_fraction``.
    """
    from bench.records import iter_records
    from bench.seed import SeedingUnavailable, iter_province_records, seed_province
    from bench.workloads import measure_pull, measure_push, plan_concurrent_push, run_concurrent_push

    results: dict = {}
    plans = {
        d: plan_concurrent_push(
            d,
            sizes["records_per_device"],
            sizes["concurrent_batch"],
            shared_per_group=sizes["shared_per_group"],
            seed=d,
        )
        for d in sizes["concurrency"]
    }
    widest = max(plans.values(), key=lambda p: len(p.device_batches), default=None)
    collaborators = {}
    if widest is not None:
        collaborators = {f"bench_c{d}": widest.group_communes[g] for d, g in enumerate(widest.device_group)}

    def fresh_app() -> FieldSyncApp:
        return FieldSyncApp(kind, cleanup, collaborators=collaborators)

    try:
        app = fresh_app()
    except AppUnavailable as exc:
        return f"n/a ({exc})"  # every cell of our server then shows this reason
    target = FieldSyncTarget(app)
    run_section(
        results, "push_batch_100", lambda: measure_push(target, target.device_client(-1), records, 100)
    )
    app.stop()
    app = fresh_app()
    target = FieldSyncTarget(app)
    admin = target.device_client(-1)
    run_section(results, "push_batch_500", lambda: measure_push(target, admin, records, 500))
    small = run_section(results, "pull_full_small", lambda: measure_pull(target, admin, None))
    delta_count = max(1, int(len(records) * sizes["delta_fraction"]))
    delta_ops = _delta_edits(records, delta_count)
    if small is not None:
        results["pull_full_small"], cursor = small
        if run_section(results, "pull_delta_small", lambda: _measure_delta(target, admin, cursor, delta_ops)):
            results["pull_delta_small"] = results["pull_delta_small"][0]
    for devices, plan in plans.items():
        users = [f"bench_c{d}" for d in range(devices)]
        run_section(
            results,
            f"concurrent_{devices}",
            lambda p=plan, u=users: run_concurrent_push(FieldSyncTarget(app, u), p),
        )
    edited = {op.record.id for op in delta_ops}
    untouched = [r for r in records if r.entity == "households" and r.id not in edited]
    run_section(
        results,
        "conflict_heavy",
        lambda: run_conflict_heavy(target, untouched[: sizes["conflict_households"]]),
    )
    run_section(results, "reports_small", lambda: time_reports(target))
    extra = list(iter_records(500, seed=4242, first_seq=5_000_000))
    run_section(
        results,
        "memory_push_500",
        lambda: measure_worker_peak(app, lambda: push_records(target, admin, extra, 500)),
    )
    run_section(
        results,
        "memory_pull_small",
        lambda: measure_worker_peak(app, lambda: target.pull(admin, None, keep_data=False)),
    )

    households = sizes["large_households"]
    if households:

        def seed() -> dict:
            t0 = time.perf_counter()
            try:
                count, how, full = seed_province(app.database_url, households), "direct", True
            except SeedingUnavailable as exc:
                if households > HTTP_SEED_LIMIT:
                    raise RuntimeError(
                        f"{exc}; HTTP seeding only up to {HTTP_SEED_LIMIT} households"
                    ) from None
                large = list(iter_province_records(households, full=False))
                push_records(target, admin, large, 500)
                count, how, full = len(large), f"http ({exc})", False
            return {
                "households": households,
                "records": count,
                "how": how,
                "full": full,  # which records were seeded: the large deltas edit the same ones
                "seconds": round(time.perf_counter() - t0, 1),
            }

        if run_section(results, "seed_large", seed) is not None:
            # Fresh workers before the large pull, so their peak is the pull's own.
            baseline = run_section(results, "memory_pull_large", lambda: reset_worker_peaks(app))
            big = run_section(results, "pull_full_large", lambda: measure_pull(target, admin, None))
            if baseline is not None:
                results["memory_pull_large"] = read_worker_peaks(app, baseline)
            if big is not None:
                results["pull_full_large"], cursor = big
                total = results["pull_full_large"]["records"]
                pct = max(1, int(total * sizes["delta_fraction"]))
                # Edits of large-province records still at version 1: first as many as the small
                # delta had (same changes, bigger database), then 1 % of the large database.
                full = results["seed_large"]["full"]
                pool = list(
                    itertools.islice(iter_province_records(households, full=full), (delta_count + pct) * 8)
                )
                ops = _delta_edits(pool, delta_count + pct, seed=6)
                same, one_pct = ops[:delta_count], ops[delta_count:]
                got = run_section(
                    results, "pull_delta_large", lambda: _measure_delta(target, admin, cursor, same)
                )
                if got:
                    results["pull_delta_large"], cursor = got
                    got = run_section(
                        results,
                        "pull_delta_large_1pct",
                        lambda: _measure_delta(target, admin, cursor, one_pct),
                    )
                    if got:
                        results["pull_delta_large_1pct"] = got[0]
            run_section(results, "reports_large", lambda: time_reports(target))
    app.stop()
    return results


def _delta_edits(pool: list[Record], count: int, seed: int = 5) -> list[Op]:
    """Edits of the notes of ``count`` households of ``pool`` (all still at version 1).

    Households only: a registration's data carries server-managed fields (status,
    submitted_at) that a device sends back only as it pulled them.
    """
    import random

    rng = random.Random(seed)
    editable = [r for r in pool if r.entity == "households"]
    return [make_edit(r, 1, "notes", rng) for r in rng.sample(editable, min(count, len(editable)))]


def _measure_delta(
    target: FieldSyncTarget, client: SessionClient, cursor: str | None, ops: list[Op]
) -> tuple:
    """Push the edits of ``ops``, then time the pull since ``cursor``; the result and the new cursor."""
    from bench.workloads import measure_pull

    for batch in chunk(ops, 500):
        acks = target.push(client, batch, str(uuid.uuid4()))
        if not all(a.ok for a in acks):
            raise RuntimeError(
                f"delta edits not accepted: {[(a.status, a.errors) for a in acks if not a.ok][:2]}"
            )
    result, cursor = measure_pull(target, client, cursor, repeats=5)
    result["changed"] = len(ops)
    return result, cursor
