"""Run the app under a real gunicorn on 127.0.0.1 for multi-process tests."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(app, **extra: str) -> dict[str, str]:
    """Environment that points a server process at the test app's database and key."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        SECRET_KEY=app.config["SECRET_KEY"],
        FIELDSYNC_ENV="production",
        ATTACHMENT_DIR=app.config["ATTACHMENT_DIR"],
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@contextmanager
def gunicorn(
    app, workers: int = 4, timeout: float = 60.0, extra_args: tuple[str, ...] = (), **extra_env: str
):
    """Yield the base URL of ``gunicorn -w N wsgi:app`` serving the test database.

    ``extra_args`` go to gunicorn before the app (e.g. ``("-c", "tests/gunicorn_pause.py")``).
    """
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        *extra_args,
        "wsgi:app",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env(app, **extra_env), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}")
            try:
                urllib.request.urlopen(url + "/api/v1/openapi.json", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def http(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    """One JSON request over real HTTP: (status, decoded body); an HTTP error is a status too."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


class HttpPhone:
    """A phone talking to a real server: holds what it pulled and pushes batches, sending a
    batch again while the server answers 503 (nothing was committed)."""

    PAGE = 500
    ATTEMPTS = 50

    def __init__(self, base: str, token: str, seed: int, prefix: str = "phone"):
        self.base, self.token, self.rng = base, token, random.Random(seed)
        self.device_id = f"{prefix}-{seed}"
        self.held: dict[str, dict] = {}  # record id -> the record as last pulled
        self.cursor: str | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        for _attempt in range(self.ATTEMPTS):
            status, answer = http(method, self.base + path, body, self.token)
            if status != 503:
                if status != 200:
                    raise AssertionError(f"{method} {path}: {status} {answer}")
                return answer
        raise AssertionError(f"{method} {path}: 503 {self.ATTEMPTS} times")

    def pull(self) -> None:
        while True:
            after = f"&cursor={self.cursor}" if self.cursor else ""
            page = self.call("GET", f"/api/v1/sync/pull?limit={self.PAGE}{after}")
            for record in page["changes"]:
                self.held[record["id"]] = record
            self.cursor = page["cursor"]
            if not page["more"]:
                return

    def send(self, changes: list[dict], batch_id: str | None = None) -> tuple[dict, dict]:
        """Push ``changes`` as one batch; returns (request body, response)."""
        body = {"device_id": self.device_id, "batch_id": batch_id or str(uuid.uuid4()), "changes": changes}
        return body, self.call("POST", "/api/v1/sync/push", body)
