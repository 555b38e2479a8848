"""Run the app under a real gunicorn on 127.0.0.1 for multi-process tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
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
