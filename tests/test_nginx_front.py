"""The production front as a deployer runs it: Debian's nginx with ``deploy/nginx/fieldsync.conf``
in front of gunicorn with ``deploy/gunicorn.conf.py``, on loopback.

Fifty slow sockets (half a header each, or a body trickled a few bytes a second) are held open
against it while a phone syncs normally: its requests are answered at once, because nginx,
not a worker, waits for the slow ones. The same sockets straight at gunicorn's sync workers
starve them (the control). A phone whose connection drops mid-push finds nothing half-written
and its re-send is answered as a re-send. Skipped, with the reason, without ``/usr/sbin/nginx``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import RecordVersion
from tests.factories import household
from tests.phones import change
from tests.servers import ROOT, free_port, gunicorn

NGINX = Path("/usr/sbin/nginx")
SITE = ROOT / "deploy" / "nginx" / "fieldsync.conf"
GUNICORN_CONF = ("-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--access-logfile", "/dev/null")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not NGINX.exists(), reason="Debian's nginx is not installed (apt-get install nginx-light)"
    ),
]


def site_for_test(upstream_port: int, port: int, redirect_port: int) -> str:
    """The shipped site file, verbatim but for where it listens and what it proxies to:
    plain HTTP on loopback instead of TLS (the certificate lines go), the test's gunicorn."""
    text = SITE.read_text()
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port};")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{redirect_port};")
    lines = [line for line in text.splitlines() if not line.strip().startswith(("ssl_", "listen [::]"))]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def nginx_in_front(upstream: str, tmp_path: Path):
    """Yield the base URL of nginx serving the shipped site in front of ``upstream``."""
    prefix = tmp_path / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    port, redirect_port = free_port(), free_port()
    (prefix / "fieldsync.conf").write_text(
        site_for_test(int(upstream.rsplit(":", 1)[1]), port, redirect_port)
    )
    (prefix / "nginx.conf").write_text(
        f"""
user root;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/fieldsync.conf;
}}
"""
    )
    test = subprocess.run(
        [
            str(NGINX),
            "-t",
            "-p",
            str(prefix),
            "-e",
            str(prefix / "error.log"),
            "-c",
            str(prefix / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
    )
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen(
        [
            str(NGINX), "-p", str(prefix), "-e", str(prefix / "error.log"),
            "-c", str(prefix / "nginx.conf"), "-g", "daemon off;",
        ],
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class SlowClients:
    """``count`` sockets to ``base``: half send half a header and then a header line now and
    then, half send a push's headers and then trickle its body a few bytes a second."""

    def __init__(self, base: str, count: int = 50):
        self.host, port = base.removeprefix("http://").split(":")
        self.port, self.count = int(port), count
        self.sockets: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.trickle, daemon=True)

    def __enter__(self):
        for n in range(self.count):
            sock = socket.create_connection((self.host, self.port), timeout=5)
            if n % 2:
                sock.sendall(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: fieldsync\r\n")
            else:
                sock.sendall(
                    b"POST /api/v1/sync/push HTTP/1.1\r\nHost: fieldsync\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
                )
            self.sockets.append(sock)
        self.thread.start()
        return self

    def trickle(self):
        while not self.stop.wait(1.0):
            for n, sock in enumerate(self.sockets):
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n" if n % 2 else b'"a": ')

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def timed_get(url: str, token: str, timeout: float, encoding: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    if encoding:
        req.add_header("Accept-Encoding", encoding)
    started = time.monotonic()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()
        return time.monotonic() - started, resp.status, dict(resp.headers)


def test_fifty_slow_sockets_do_not_delay_a_normal_sync_behind_nginx(app, auth, tmp_path):
    token = auth.tokens(auth.user("collaborator"))["access_token"]
    with (
        gunicorn(app, workers=2, extra_args=GUNICORN_CONF) as upstream,
        nginx_in_front(upstream, tmp_path) as base,
    ):
        with SlowClients(base, 50):
            time.sleep(1.5)  # every slow socket is in, each worker would be held by now
            timings = []
            for _ in range(20):
                elapsed, status, _ = timed_get(base + "/api/v1/sync/pull?limit=5000", token, timeout=10)
                assert status == 200
                timings.append(elapsed)
            # Compressed answers pass through nginx untouched (gzip off there: the app decides).
            _, status, headers = timed_get(base + "/api/v1/openapi.json", token, 10, encoding="gzip")
            assert headers.get("Content-Encoding") == "gzip" and "Accept-Encoding" in headers.get("Vary", "")
        timings.sort()
        # On an idle machine each is a few ms; the bound leaves room for a loaded CI machine.
        assert timings[len(timings) // 2] < 1.0 and timings[-1] < 3.0, timings


def test_control_the_same_slow_sockets_straight_at_gunicorn_starve_its_sync_workers(app, auth):
    token = auth.tokens(auth.user("collaborator"))["access_token"]
    with gunicorn(app, workers=2, extra_args=GUNICORN_CONF) as base, SlowClients(base, 12):
        time.sleep(1.5)
        with pytest.raises(OSError):  # a timeout: both workers wait on slow sockets
            timed_get(base + "/api/v1/sync/pull", token, timeout=3)


def versions(app) -> int:
    with app.app_context():
        count = db.session.execute(select(func.count()).select_from(RecordVersion)).scalar_one()
        db.session.remove()
        return count


def raw_push(base: str, token: str, body: bytes, send: int | None = None, read: bool = True):
    """Send a push over a socket; ``send`` cuts the body after that many bytes and drops the
    connection; ``read`` False drops it right after sending, before any answer."""
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST /api/v1/sync/push HTTP/1.1\r\nHost: fieldsync\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body[: len(body) if send is None else send])
        if send is not None or not read:
            return None
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_a_push_dropped_mid_way_leaves_nothing_and_the_resend_is_answered_as_a_resend(app, auth, tmp_path):
    token = auth.tokens(auth.user("collaborator"))["access_token"]
    changes = [change("households", str(uuid.uuid4()), household(code=f"HH-{n}"), None) for n in range(200)]
    batch_id = str(uuid.uuid4())
    body = json.dumps({"device_id": "phone-edge", "batch_id": batch_id, "changes": changes}).encode()
    with (
        gunicorn(app, workers=2, extra_args=GUNICORN_CONF) as upstream,
        nginx_in_front(upstream, tmp_path) as base,
    ):
        # The link drops half-way through the upload: nginx never hands a partial body over.
        raw_push(base, token, body, send=len(body) // 2)
        time.sleep(1.0)
        assert versions(app) == 0
        # The whole batch arrives, but the link drops before the answer comes back.
        raw_push(base, token, body, read=False)
        deadline = time.monotonic() + 20
        while versions(app) not in (0, 200) or (versions(app) == 0 and time.monotonic() < deadline - 15):
            time.sleep(0.2)
        assert versions(app) in (0, 200)  # all of it or none of it, never part
        # The phone sends the same batch again: one answer, each change applied exactly once.
        status, answer = raw_push(base, token, body)
        assert status == 200
        assert {r["status"] for r in answer["results"]} == {"applied"}
        assert versions(app) == 200
        # Its changes in a new batch (an outbox rebuilt after a crash): every one a duplicate.
        again = json.dumps({"device_id": "phone-edge", "batch_id": str(uuid.uuid4()), "changes": changes})
        status, answer = raw_push(base, token, again.encode())
        assert status == 200 and {r["status"] for r in answer["results"]} == {"duplicate"}
        assert versions(app) == 200


def test_the_site_file_is_what_the_readme_deploys():
    text = SITE.read_text()
    for directive in (
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "client_max_body_size 33m;",
        "gzip off;",
    ):
        assert directive in text
    assert re.search(r"ssl_certificate\s+/", text)


def trickled_push(base: str, token: str, body: bytes, seconds: float) -> int | None:
    """Upload ``body`` spread over ``seconds`` like a phone on a weak link; the status, or None
    when the connection failed before an answer."""
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST /api/v1/sync/push HTTP/1.1\r\nHost: fieldsync\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    pieces = 10
    step = -(-len(body) // pieces)
    try:
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(head)
            for start in range(0, len(body), step):
                time.sleep(seconds / pieces)
                sock.sendall(body[start : start + step])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except OSError:
        return None
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None


def test_an_upload_slower_than_the_workers_timeout_completes_behind_nginx(app, auth, tmp_path):
    """gunicorn's timeout bounds processing only: nginx holds the slow upload, then hands the
    worker the whole body. Here the worker timeout is 2 s and the upload takes 5 s."""
    token = auth.tokens(auth.user("collaborator"))["access_token"]
    changes = [change("households", str(uuid.uuid4()), household(code=f"SLOW-{n}"), None) for n in range(20)]
    body = json.dumps({"device_id": "phone-edge", "batch_id": str(uuid.uuid4()), "changes": changes}).encode()
    # --preload: the app is imported once in the master, so a worker's boot never meets the
    # 2 s timeout on a loaded machine; only the request does.
    short = (*GUNICORN_CONF, "--timeout", "2", "--preload")
    with gunicorn(app, workers=1, extra_args=short) as upstream:
        # Control: straight at the sync worker, the slow upload outlives its timeout.
        assert trickled_push(upstream, token, body, seconds=5) != 200
        assert versions(app) == 0
        with nginx_in_front(upstream, tmp_path) as base:
            assert trickled_push(base, token, body, seconds=5) == 200
    assert versions(app) == 20
