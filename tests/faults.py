"""Helpers that break things on purpose: a process killed mid-batch, a throwaway PostgreSQL
(and a streaming standby of it).

The shared PostgreSQL server of the suite is never stopped: a test that restarts PostgreSQL
starts its own cluster (``initdb`` into a temporary folder, owned by the ``postgres`` system
user when the tests run as root) on a free port, and restarts that one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.servers import free_port


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))  # Debian keeps them here
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class Cluster:
    """A PostgreSQL cluster of our own, started and stopped at will."""

    def __init__(self, bindir: Path, folder: Path, port: int, user: str | None):
        self.bindir, self.folder, self.port, self.user = bindir, folder, port, user
        self.data = folder / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/fieldsync"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            # Tests run as root; PostgreSQL refuses to: run its tools as the cluster's owner.
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def query(self, sql: str, *params) -> list[tuple]:
        """Run one statement on the cluster's ``fieldsync`` database (autocommit); its rows."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def own_cluster(bindir: Path | None = None):
    """Yield a Cluster on a free port in a new temporary folder, not yet created; whatever
    was made of it (its processes, its folder) is removed afterwards, even on failure."""
    bindir = bindir or postgres_bin()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        pwd.getpwnam(user)  # KeyError when there is no such system user
    folder = Path(tempfile.mkdtemp(prefix="fieldsync-pg-"))
    if user:
        shutil.chown(folder, user)
    cluster = Cluster(bindir, folder, free_port(), user)
    try:
        yield cluster
    finally:
        if cluster.data.exists():
            cluster.run("pg_ctl", "-D", str(cluster.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def throwaway_postgres():
    """Yield a running Cluster with an empty ``fieldsync`` database; removed afterwards.

    ``initdb --auth=trust`` also lets loopback connections replicate (``standby_of``)."""
    with own_cluster() as cluster:
        cluster.run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        cluster.start()
        cluster.run("createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "fieldsync")
        yield cluster


@contextmanager
def standby_of(primary: Cluster):
    """Yield a running hot standby of ``primary`` (``pg_basebackup -R``, streaming); removed
    afterwards. Its ``url`` names the same ``fieldsync`` database, read-only."""
    with own_cluster(primary.bindir) as standby:
        standby.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        standby.start()
        yield standby


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes (a condition, not a timed assert)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
