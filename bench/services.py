"""Processes and databases the benchmark starts, and stops again whatever happens.

Everything listens on 127.0.0.1 only. Every process and database made here is
registered with a :class:`Cleanup` so that a failed section, an exception or a
Ctrl-C still stops the servers and drops the databases.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
"""Server-level URL used to create and drop the benchmark's own databases."""

DB_PREFIX = "fs_bench"
"""Every database the benchmark makes starts with this, so a stray one is easy to spot."""


class Cleanup:
    """A stack of undo actions, run in reverse order exactly once."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], None]]] = []

    def add(self, label: str, action: Callable[[], None]) -> None:
        """Remember an action to run at cleanup time."""
        self._actions.append((label, action))

    def run(self) -> None:
        """Run every remembered action, newest first; one failure does not stop the rest."""
        while self._actions:
            label, action = self._actions.pop()
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - cleanup must go on
                print(f"[bench] cleanup of {label} failed: {exc}", file=sys.stderr)

    def __enter__(self) -> Cleanup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.run()


def install_signal_handlers() -> None:
    """Turn SIGTERM into KeyboardInterrupt so the same cleanup path runs for both."""

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)


def find_free_port() -> int:
    """Ask the kernel for a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def repo_root() -> Path:
    """The worktree this benchmark belongs to (the folder holding ``bench/``)."""
    return Path(__file__).resolve().parent.parent


def create_pg_database(label: str, cleanup: Cleanup) -> str:
    """Create a fresh PostgreSQL database and return its URL; it is dropped at cleanup."""
    import psycopg

    name = f"{DB_PREFIX}_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def _drop() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    cleanup.add(f"database {name}", _drop)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_sqlite_url(label: str, cleanup: Cleanup) -> str:
    """A SQLite file in a fresh temporary folder; the folder is removed at cleanup."""
    folder = tempfile.TemporaryDirectory(prefix=f"{DB_PREFIX}_{label}_")
    cleanup.add(f"folder {folder.name}", folder.cleanup)
    return f"sqlite:///{folder.name}/bench.db"


def make_database(kind: str, label: str, cleanup: Cleanup) -> str:
    """A fresh, empty database of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "postgresql":
        return create_pg_database(label, cleanup)
    if kind == "sqlite":
        return create_sqlite_url(label, cleanup)
    raise ValueError(f"unknown database kind {kind!r}")


class Server:
    """A server process started in its own process group, stopped with its children."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_until_answers(self, url: str, timeout: float = 60.0) -> None:
        """Poll ``url`` until any HTTP answer comes back (even 404); fail if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.tail_log()}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f} s: {self.tail_log()}")

    def tail_log(self, lines: int = 15) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it lingers."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


def start_server(
    name: str, argv: list[str], env: dict[str, str], cwd: Path, cleanup: Cleanup, log_dir: Path
) -> Server:
    """Start a server and register its stop with ``cleanup``."""
    server = Server(name, argv, env, cwd, log_dir / f"{name}.log")
    cleanup.add(f"server {name}", server.stop)
    return server


def gunicorn_worker_pids(master_pid: int) -> list[int]:
    """PIDs of the worker processes of a gunicorn master (its direct children).

    Scans /proc for processes whose parent is the master, because
    /proc/<pid>/task/<pid>/children is not compiled into every kernel.
    """
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the parent PID follows it.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == master_pid:
            children.append(int(entry.name))
    return sorted(children)


def read_status_kib(pid: int, field: str) -> int | None:
    """A ``VmHWM``/``VmRSS`` style field of /proc/<pid>/status, in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def restart_gunicorn_workers(master_pid: int, expected: int, timeout: float = 30.0) -> list[int]:
    """HUP the master so every worker is replaced (their peak RSS starts again from zero).

    Returns the new worker PIDs once ``expected`` fresh workers are up.
    """
    old = set(gunicorn_worker_pids(master_pid))
    os.kill(master_pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = gunicorn_worker_pids(master_pid)
        if len(now) >= expected and not (set(now) & old):
            time.sleep(0.5)  # let the new workers finish importing the app
            return now
        time.sleep(0.1)
    raise RuntimeError("gunicorn workers were not replaced in time")
