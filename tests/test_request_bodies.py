"""Request bodies are bounded by what the route takes, before parsing and before authentication,
and may arrive gzip-compressed: the limit then counts the decompressed bytes as they are read.

Told as an attacker and as a phone on EDGE: a 30 MB login body is refused unread; a gzip bomb
is refused after the limit without the worker's memory growing; a phone's gzipped push,
Collect submission and pyodk attachment are taken like uncompressed ones.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import socket
import time
import tracemalloc
import uuid
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from server.extensions import db
from server.models import RecordVersion
from tests.factories import household
from tests.odk.collect import JPEG, Collect, message_of
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID, fill_instance
from tests.phones import change

SMALL = 16 * 1024
MIB = 1024 * 1024


class CountingInput(io.BytesIO):
    """A client's body that remembers how much of it the server read."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.taken = 0

    def read(self, size=-1):
        out = super().read(size)
        self.taken += len(out)
        return out

    def readinto(self, buffer):
        n = super().readinto(buffer)
        self.taken += n
        return n

    def readline(self, size=-1):
        out = super().readline(size)
        self.taken += len(out)
        return out


def call(app, path: str, body: bytes, *, chunked: bool = False, headers: dict | None = None):
    """One request straight through the WSGI stack: (status, headers, body, bytes read)."""
    source = CountingInput(body)
    environ = EnvironBuilder(path=path, method="POST", headers=headers or {}).get_environ()
    environ["wsgi.input"] = source
    environ.setdefault("CONTENT_TYPE", "application/json")
    if chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True  # what gunicorn says of a de-chunked body
    else:
        environ["CONTENT_LENGTH"] = str(len(body))
    app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), response_headers, b"".join(app_iter), source.taken


def nested_lists(size: int) -> bytes:
    depth = size // 2
    return b"[" * depth + b"]" * depth


def gz(data: bytes) -> bytes:
    return gzip.compress(data, 6)


def batch(changes: list[dict]) -> bytes:
    return json.dumps({"device_id": "phone-edge", "batch_id": str(uuid.uuid4()), "changes": changes}).encode()


def versions(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(RecordVersion)).scalar_one()


# -- bounded before parsing, before authentication ---------------------------------------------
def test_a_30_mb_login_body_is_413_at_once_without_being_read(app):
    body = nested_lists(30 * MIB)
    started = time.monotonic()
    status, headers, answer, taken = call(app, "/api/v1/auth/token", body)
    assert time.monotonic() - started < 1.0
    assert status == 413
    error = json.loads(answer)["error"]
    assert error["code"] == "payload_too_large" and error["details"] == {"max_bytes": SMALL}
    assert taken == 0
    assert headers["Connection"] == "close"


def test_a_chunked_30_mb_login_body_is_refused_after_the_limit_is_passed(app):
    status, headers, answer, taken = call(app, "/api/v1/auth/token", nested_lists(30 * MIB), chunked=True)
    assert status == 413 and json.loads(answer)["error"]["code"] == "payload_too_large"
    assert taken <= SMALL + 64 * 1024
    assert headers["Connection"] == "close"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        f"/api/v1/registrations/{uuid.uuid4()}/decision",
        f"/api/v1/conflicts/{uuid.uuid4()}/resolve",
        f"/api/v1/duplicates/{uuid.uuid4()}/settle",
        "/v1/sessions",
    ],
)
def test_small_routes_take_a_few_kib_and_refuse_more_before_asking_who_calls(app, path):
    status, _, answer, taken = call(app, path, b" " * (SMALL + 1))
    assert status == 413 and taken == 0
    body = json.loads(answer)
    code = body["error"]["code"] if "error" in body else body["details"]["error"]
    assert code == "payload_too_large"
    # Within the limit the same anonymous request goes on to be judged (401 or 422), not 413.
    status, _, _, _ = call(app, path, b"{}")
    assert status in (400, 401, 422)


def test_a_push_takes_its_5_mib_and_no_more(app, auth):
    headers = auth.headers("collaborator")
    pad = {"device_id": "p", "batch_id": str(uuid.uuid4()), "changes": []}
    just_over = json.dumps({**pad, "x": "a" * (5 * MIB)}).encode()
    status, _, answer, taken = call(app, "/api/v1/sync/push", just_over)
    assert status == 413 and taken == 0
    assert json.loads(answer)["error"]["details"] == {"max_bytes": 5 * MIB}
    # A login-sized limit does not apply to a push: 100 KiB is an ordinary batch.
    changes = [change("households", str(uuid.uuid4()), household(notes="n" * 1500), None) for _ in range(60)]
    body = batch(changes)
    assert len(body) > 100 * 1024
    status, _, answer, _ = call(app, "/api/v1/sync/push", body, headers=headers)
    assert status == 200, answer[:300]


def test_an_openrosa_submission_over_its_limit_is_413_in_openrosa_xml(app, auth):
    limit = app.config["MAX_CONTENT_LENGTH"]
    headers = {"X-OpenRosa-Version": "1.0", "Content-Type": "multipart/form-data; boundary=x"}
    status, response_headers, answer, taken = call(
        app, "/v1/projects/1/submission", b"x" * (limit + 1), headers=headers
    )
    assert status == 413 and taken == 0
    assert b"OpenRosaResponse" in answer and response_headers["X-OpenRosa-Version"] == "1.0"


# -- gzip request bodies -----------------------------------------------------------------------
def test_a_gzipped_push_is_applied_like_any_other(app, client, auth):
    headers = auth.headers("collaborator")
    record_id = str(uuid.uuid4())
    body = batch([change("households", record_id, household(head_name="Hồ Thị Lan"), None)])
    resp = client.post(
        "/api/v1/sync/push",
        data=gz(body),
        headers={**headers, "Content-Encoding": "gzip"},
        content_type="application/json",
    )
    assert resp.status_code == 200, resp.get_json()
    assert [r["status"] for r in resp.get_json()["results"]] == ["applied"]
    got = client.get(f"/api/v1/households/{record_id}", headers=headers).get_json()
    assert got["data"]["head_name"] == "Hồ Thị Lan"
    # The same batch again, chunked this time: a duplicate, as an uncompressed re-send would be.
    status, _, answer, _ = call(
        app, "/api/v1/sync/push", gz(body), chunked=True, headers={**headers, "Content-Encoding": "gzip"}
    )
    assert status == 200 and json.loads(answer) == resp.get_json()


def test_the_push_limit_counts_decompressed_bytes(app, auth):
    headers = {**auth.headers("collaborator"), "Content-Encoding": "gzip"}
    over = json.dumps({"device_id": "p", "batch_id": str(uuid.uuid4()), "changes": [], "x": "a" * (5 * MIB)})
    small = gz(over.encode())
    assert len(small) < 64 * 1024
    status, headers_out, answer, _ = call(app, "/api/v1/sync/push", small, headers=headers)
    assert status == 413 and json.loads(answer)["error"]["code"] == "payload_too_large"
    assert headers_out["Connection"] == "close"


def gzip_bomb(members: int = 100) -> bytes:
    """``members`` gzip members of 10 MiB of zeros each, ~10 KB apiece: 100 are ~1 MB that
    inflate to 1 GiB (deflate cannot do better than ~1:1000 in one member)."""
    member = gzip.compress(bytes(10 * MIB), 9)
    assert len(member) < 11 * 1024
    return member * members


def test_a_gzip_bomb_is_413_after_the_limit_and_never_in_memory(app, auth):
    bomb = gzip_bomb()
    headers = {**auth.headers("collaborator"), "Content-Encoding": "gzip"}
    tracemalloc.start()
    try:
        started = time.monotonic()
        status, _, answer, taken = call(app, "/api/v1/sync/push", bomb, headers=headers)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413 and json.loads(answer)["error"]["code"] == "payload_too_large"
    assert peak < 40 * MIB, peak  # the 5 MiB limit plus Flask's copy of it, not a gigabyte
    assert taken <= 64 * 1024 and elapsed < 5  # one read of the client
    # Chunked (no Content-Length) and on a login route: the same.
    status, _, _, _ = call(app, "/api/v1/auth/token", bomb, chunked=True, headers=headers)
    assert status == 413


def test_a_gzipped_collect_submission_with_its_photo_is_taken(app, client, auth):
    collect = Collect(client, auth.user("collaborator", "20900"))
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID)
    photo = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]
    plain = EnvironBuilder(
        method="POST",
        data={
            "xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml"),
            photo: (io.BytesIO(JPEG), photo, "image/jpeg"),
        },
    )
    environ = plain.get_environ()
    body, content_type = environ["wsgi.input"].read(), environ["CONTENT_TYPE"]
    resp = client.post(
        "/v1/projects/1/submission",
        data=gz(body),
        headers={**collect.headers, "Content-Encoding": "gzip", "Content-Type": content_type},
    )
    assert resp.status_code == 201, resp.data
    assert message_of(resp)[0]
    listed = client.get(
        f"/v1/projects/1/forms/exit_registration/submissions/uuid%3A{INSTANCE_UUID}/attachments",
        headers=collect.headers,
    ).get_json()
    assert listed == [{"name": photo, "exists": True}]


def test_a_gzipped_pyodk_attachment_upload_is_taken(client, auth):
    from tests.conftest import PASSWORD

    username = auth.user("collaborator", "20900")
    token = client.post("/v1/sessions", json={"email": username, "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID)
    form = "/v1/projects/1/forms/exit_registration"
    created = client.post(
        f"{form}/submissions", data=gz(xml), headers={**headers, "Content-Encoding": "gzip"},
        content_type="application/xml",
    )  # fmt: skip
    assert created.status_code == 200, created.get_json()
    photo = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]
    upload = client.post(
        f"{form}/submissions/uuid%3A{INSTANCE_UUID}/attachments/{photo}",
        data=gz(JPEG),
        headers={**headers, "Content-Encoding": "gzip", "Content-Type": "image/jpeg"},
    )
    assert upload.status_code == 200, upload.get_json()
    download = client.get(f"{form}/submissions/uuid%3A{INSTANCE_UUID}/attachments/{photo}", headers=headers)
    assert download.data == JPEG


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, gzip", "compress"])
def test_any_other_content_encoding_is_415(app, client, auth, encoding):
    headers = auth.headers("collaborator")
    resp = client.post(
        "/api/v1/sync/push",
        data=zlib.compress(batch([])),
        headers={**headers, "Content-Encoding": encoding},
        content_type="application/json",
    )
    assert resp.status_code == 415
    error = resp.get_json()["error"]
    assert error["code"] == "unsupported_content_encoding"
    assert error["details"]["accepted"] == ["gzip", "identity"]
    assert resp.headers["Accept-Encoding"] == "gzip"
    assert versions(app) == 0


def test_a_br_encoded_collect_submission_is_415_in_openrosa_xml(client, auth):
    collect = Collect(client, auth.user("collaborator", "20900"))
    resp = client.post(
        "/v1/projects/1/submission",
        data=b"whatever",
        headers={
            **collect.headers,
            "Content-Encoding": "br",
            "Content-Type": "multipart/form-data; boundary=x",
        },
    )
    assert resp.status_code == 415 and b"OpenRosaResponse" in resp.data


@pytest.mark.parametrize(
    "body",
    [
        b"\x1f\x8b\x08\x00garbage-that-is-not-deflate",
        gzip.compress(b'{"a": 1}')[:-6],
        gzip.compress(b"{}") + b"junk",
    ],
    ids=["corrupt", "truncated", "trailing-junk"],
)
def test_a_body_that_is_not_gzip_is_400(client, auth, body):
    resp = client.post(
        "/api/v1/sync/push",
        data=body,
        headers={**auth.headers("collaborator"), "Content-Encoding": "gzip"},
        content_type="application/json",
    )
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_request"


# -- over a real gunicorn: a worker's memory ----------------------------------------------------
def gunicorn_workers(base: str) -> list[int]:
    """The worker processes of the gunicorn serving ``base`` (the master's children)."""
    bind = base.removeprefix("http://").encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if bind in cmdline:
            found.append((int(entry), ppid))
    known = {pid for pid, _ in found}
    return [pid for pid, ppid in found if ppid in known]


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def send_raw(base: str, path: str, body: bytes, headers: dict) -> int | None:
    """POST over a plain socket as a phone would; the status, or None when the server closed
    the connection on a body it would not read before its answer could be read."""
    host, port = base.removeprefix("http://").split(":")
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        with contextlib.suppress(OSError):  # refused mid-body: the answer may still be waiting
            sock.sendall(head.encode() + body)
        try:
            answer = sock.recv(65536)
        except OSError:
            return None
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None


@pytest.mark.slow
def test_over_gunicorn_a_bomb_and_a_30_mb_login_leave_the_worker_small(app, auth):
    from tests.servers import gunicorn

    token = auth.headers("collaborator")
    bomb = gzip_bomb()
    login = nested_lists(30 * MIB)
    with gunicorn(app, workers=1) as base:
        (worker,) = gunicorn_workers(base)
        before = peak_rss_kib(worker)
        started = time.monotonic()
        status = send_raw(base, "/api/v1/auth/token", login, {"Content-Type": "application/json"})
        assert status in (413, None)  # None: closed before the client finished sending 30 MB
        assert time.monotonic() - started < 5
        headers = {**token, "Content-Type": "application/json", "Content-Encoding": "gzip"}
        assert send_raw(base, "/api/v1/sync/push", bomb, headers) in (413, None)
        grown = peak_rss_kib(worker) - before
        assert grown < 40 * 1024, f"the worker's peak memory grew by {grown} KiB"


def test_every_route_that_takes_a_body_has_its_limit_chosen(app):
    """A new POST/PUT/PATCH route must be given its limit in server/bodies.py LIMITS (a route
    renamed there would silently fall to the 1 MiB default): every such endpoint is listed,
    and every listed name is a real endpoint that takes a body."""
    from server.bodies import LIMITS

    takes_body = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.methods & {"POST", "PUT", "PATCH"}
    }
    assert sorted(takes_body - set(LIMITS)) == []
    assert sorted(set(LIMITS) - takes_body) == []
    assert all(setting in app.config for setting in LIMITS.values())
