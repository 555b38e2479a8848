"""The same workload against Kinto, the reference sync server (PyPI package ``kinto``).

Kinto is installed into its own virtualenv, ``bench/.venv-kinto`` (git-ignored),
and served by gunicorn on a free loopback port with either backend:

- ``memory``: one worker (the memory backend lives in one process);
- ``postgresql``: four workers, like our server, on a fresh database of its own
  (``kinto migrate`` creates the schema), PostgreSQL cache too (Kinto keeps its
  pagination tokens in the cache, which every worker must share).

Records go in as ``PUT`` sub-requests of ``POST /v1/batch`` (batch limit raised to
500 with ``kinto.batch_max_requests``), one collection per entity; edits are
``PATCH`` (Kinto's field-level update); pulls page through
``GET .../records?_since=<timestamp>&_limit=1000`` following ``Next-Page``.
Authentication is Kinto's basic-auth policy (an HMAC of the credentials, no password
hashing), the cheapest it offers.

Run alone: ``python -m bench.kinto_side --backend postgresql --records 10000``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.client import HttpFailure, JsonClient
from bench.records import ENTITIES, Record, iter_records
from bench.services import Cleanup, find_free_port, make_database, start_server
from bench.workloads import (
    Ack,
    Op,
    PulledRecord,
    make_edit,
    measure_pull,
    measure_push,
    plan_concurrent_push,
    run_concurrent_push,
)

VENV = Path(__file__).resolve().parent / ".venv-kinto"
BUCKET = "bench"
RETRY_SECONDS = 300  # how long a device keeps re-sending a batch Kinto answered 409/503
PAGE = 1000


def ensure_kinto_venv(venv: Path = VENV) -> Path:
    """Create the virtualenv and install Kinto into it unless it is there already; its python."""
    python = venv / "bin" / "python"
    if (venv / "bin" / "kinto").exists() and (venv / "bin" / "gunicorn").exists():
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "kinto[postgresql]", "psycopg2-binary", "gunicorn"],
        check=True,
    )
    return python


def kinto_version(venv: Path = VENV) -> str:
    """The installed Kinto version (for the report)."""
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import kinto; print(kinto.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def write_ini(path: Path, backend: str, db_url: str | None) -> None:
    """A minimal Kinto configuration: basic auth, batch limit 500, quiet logs."""
    if backend == "postgresql":
        assert db_url
        storage = (
            f"kinto.storage_backend = kinto.core.storage.postgresql\nkinto.storage_url = {db_url}\n"
            f"kinto.permission_backend = kinto.core.permission.postgresql\nkinto.permission_url = {db_url}\n"
            f"kinto.cache_backend = kinto.core.cache.postgresql\nkinto.cache_url = {db_url}\n"
        )
    else:
        storage = (
            "kinto.storage_backend = kinto.core.storage.memory\n"
            "kinto.permission_backend = kinto.core.permission.memory\n"
            "kinto.cache_backend = kinto.core.cache.memory\n"
        )
    path.write_text(
        "[app:main]\nuse = egg:kinto\n"
        f"{storage}"
        f"kinto.userid_hmac_secret = {secrets.token_hex(32)}\n"
        "multiauth.policies = basicauth\n"
        "kinto.bucket_create_principals = system.Authenticated\n"
        "kinto.batch_max_requests = 500\n"
        "kinto.storage_max_fetch_size = 10000\n"
        "\n[loggers]\nkeys = root\n\n[handlers]\nkeys = console\n\n[formatters]\nkeys = plain\n\n"
        "[logger_root]\nlevel = WARNING\nhandlers = console\n\n"
        "[handler_console]\nclass = StreamHandler\nargs = (sys.stderr,)\n"
        "level = NOTSET\nformatter = plain\n\n"
        "[formatter_plain]\nformat = %(asctime)s %(levelname)s %(name)s %(message)s\n",
        encoding="utf-8",
    )


WSGI_MODULE = """\
import os
from pyramid.paster import get_app, setup_logging

setup_logging(os.environ["KINTO_INI"])
application = get_app(os.environ["KINTO_INI"], "main")
"""


class KintoServer:
    """A running Kinto: its base URL and the PID of its gunicorn master."""

    def __init__(
        self, backend: str, cleanup: Cleanup, workers: int | None = None, also_bind: str | None = None
    ) -> None:
        """``also_bind``: a second address gunicorn listens on (same port), as in FieldSyncApp."""
        python = ensure_kinto_venv()
        self.backend = backend
        self.version = kinto_version()
        self.workdir = Path(tempfile.mkdtemp(prefix="fs_bench_kinto_"))
        cleanup.add(
            f"folder {self.workdir}", lambda: subprocess.run(["rm", "-rf", str(self.workdir)], check=False)
        )
        db_url = make_database("postgresql", "kinto", cleanup) if backend == "postgresql" else None
        ini = self.workdir / "kinto.ini"
        write_ini(ini, backend, db_url)
        (self.workdir / "kinto_wsgi.py").write_text(WSGI_MODULE)
        env = dict(os.environ, KINTO_INI=str(ini))
        env.pop("DATABASE_URL", None)
        if backend == "postgresql":
            subprocess.run(
                [str(VENV / "bin" / "kinto"), "migrate", "--ini", str(ini)],
                env=env,
                check=True,
                capture_output=True,
            )
        self.workers = workers or (4 if backend == "postgresql" else 1)
        port = find_free_port()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        argv = [
            str(python), "-m", "gunicorn", "-w", str(self.workers), "-b", f"127.0.0.1:{port}",
            "--timeout", "300", "--chdir", str(self.workdir), "kinto_wsgi:application",
        ]  # fmt: skip
        if also_bind:
            argv[7:7] = ["-b", f"{also_bind}:{port}"]
        self.port = port
        self.server = start_server(f"kinto-{backend}", argv, env, self.workdir, cleanup, self.workdir)
        self.server.wait_until_answers(self.base_url + "/__heartbeat__", timeout=90)

    @property
    def pid(self) -> int:
        return self.server.pid

    def stop(self) -> None:
        """Stop gunicorn (its database is dropped at cleanup)."""
        self.server.stop()


class KintoTarget:
    """Our workloads spoken in Kinto's API: /v1/batch to push, ?_since= to pull."""

    def __init__(self, server: KintoServer, user: str = "bench") -> None:
        self.name = f"kinto-{server.backend}"
        self.server = server
        self.user = user
        self.password = secrets.token_hex(8)
        admin = self.device_client(-1)
        admin.expect(
            "PUT", f"/buckets/{BUCKET}", {"permissions": {"write": ["system.Authenticated"]}}, ok=(200, 201)
        )
        for entity in ENTITIES:
            admin.expect("PUT", f"/buckets/{BUCKET}/collections/{entity}", {}, ok=(200, 201))

    def device_client(self, device: int) -> JsonClient:
        """Every device uses the bucket owner's credentials (Kinto has no unit scope to mirror)."""
        client = JsonClient(self.server.base_url)
        client.set_basic(self.user, self.password)
        return client

    def push(self, client: JsonClient, ops: list[Op], batch_id: str) -> list[Ack]:
        """One /v1/batch: PUT for a new record, PATCH of the changed fields for an edit."""
        requests = []
        for op in ops:
            path = f"/buckets/{BUCKET}/collections/{op.record.entity}/records/{op.record.id}"
            if op.edited is None:
                requests.append({"method": "PUT", "path": path, "body": {"data": op.record.data}})
            else:
                requests.append({"method": "PATCH", "path": path, "body": {"data": op.edited}})
        deadline = time.monotonic() + RETRY_SECONDS
        for attempt in itertools.count():
            resp = client.request("POST", "/batch", {"requests": requests})
            if resp.status == 200:
                break
            # Kinto answers 409/503 ("retry later") when its writers collide; a device retries
            # (with our own short backoff: Kinto's Retry-After defaults to 30 s) for a while.
            if resp.status in (409, 503) and time.monotonic() < deadline:
                time.sleep(min(1.0, 0.02 * 2**attempt))
                continue
            raise HttpFailure("POST", "/batch", resp.status, resp.raw.decode("utf-8", "replace"))
        acks = []
        for sub in resp.body["responses"]:
            status = sub["status"]
            acks.append(Ack(ok=status in (200, 201), status=str(status)))
        return acks

    def pull(
        self, client: JsonClient, since: str | None, keep_data: bool = True
    ) -> tuple[list[PulledRecord], str | None]:
        """Every collection's records since ``since`` (a JSON map of collection timestamps)."""
        marks = json.loads(since) if since else {}
        pulled: list[PulledRecord] = []
        for entity in ENTITIES:
            path = f"/buckets/{BUCKET}/collections/{entity}/records?_limit={PAGE}&_sort=last_modified"
            if entity in marks:
                path += f"&_since={marks[entity]}"
            first = True
            while path:
                resp = client.expect("GET", path)
                if first:  # the collection's timestamp at the first page is where the next pull starts
                    marks[entity] = resp.headers.get("etag", '"0"').strip('"')
                    first = False
                for rec in resp.body["data"]:
                    skip = ("id", "last_modified", "deleted")
                    data = {k: v for k, v in rec.items() if k not in skip} if keep_data else {}
                    pulled.append(
                        PulledRecord(entity, rec["id"], rec["last_modified"], bool(rec.get("deleted")), data)
                    )
                nxt = resp.headers.get("next-page")
                path = _relative(nxt, client) if nxt else None
        return pulled, json.dumps(marks)


def _relative(url: str, client: JsonClient) -> str:
    """Kinto's Next-Page is absolute; keep the part after the client's /v1 prefix."""
    parts = urlsplit(url)
    path = parts.path[len(client.prefix) :] if parts.path.startswith(client.prefix) else parts.path
    return f"{path}?{parts.query}" if parts.query else path


def run_kinto(
    backend: str,
    records: list[Record],
    cleanup: Cleanup,
    delta_fraction: float = 0.01,
    concurrency: tuple[int, ...] = (),
    records_per_device: int = 500,
    concurrent_batch: int = 100,
) -> dict:
    """Push (batches of 100 and of 500, each on a fresh Kinto), full and 1 % delta pull, and
    optionally the concurrent push of ``concurrency`` devices (each on a fresh Kinto too)."""
    result: dict = {}
    target = None
    for batch_size in (100, 500):
        if target is not None:
            target.server.stop()
        target = KintoTarget(KintoServer(backend, cleanup))
        result.setdefault("kinto_version", target.server.version)
        result.setdefault("workers", target.server.workers)
        client = target.device_client(0)
        result[f"push_batch_{batch_size}"] = measure_push(target, client, records, batch_size)
    full, since = measure_pull(target, client, None)
    result["pull_full"] = full
    edits = make_delta_edits(records, delta_fraction)
    for i in range(0, len(edits), 500):
        target.push(client, edits[i : i + 500], "delta")
    delta, _ = measure_pull(target, client, since, repeats=5)
    delta["expected"] = len(edits)
    result["pull_delta"] = delta
    target.server.stop()
    for devices in concurrency:
        target = KintoTarget(KintoServer(backend, cleanup))
        plan = plan_concurrent_push(devices, records_per_device, concurrent_batch, seed=devices)
        result[f"concurrent_{devices}"] = run_concurrent_push(target, plan)
        target.server.stop()
    return result


def make_delta_edits(records: list[Record], fraction: float, seed: int = 5) -> list[Op]:
    """Edits of the notes of ``fraction`` of the records (households, as on our server)."""
    rng = random.Random(seed)
    editable = [r for r in records if r.entity == "households"]
    count = min(len(editable), max(1, int(len(records) * fraction)))
    return [make_edit(r, 1, "notes", rng) for r in rng.sample(editable, count)]


def main(argv: list[str] | None = None) -> None:
    """Measure Kinto alone and print the result as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--backend", choices=("memory", "postgresql"), default="postgresql")
    parser.add_argument("--devices", type=int, nargs="*", default=[8, 32])
    parser.add_argument("--records-per-device", type=int, default=500)
    args = parser.parse_args(argv)
    records = list(iter_records(args.records))
    with Cleanup() as cleanup:
        result = run_kinto(
            args.backend,
            records,
            cleanup,
            concurrency=tuple(args.devices),
            records_per_device=args.records_per_device,
        )
    print(json.dumps({f"kinto_{args.backend}": result}, ensure_ascii=False))


if __name__ == "__main__":
    main()
