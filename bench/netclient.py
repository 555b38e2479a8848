"""The phone's side of ``bench.network``: one scenario, run inside the phone's namespace.

``bench/network.py`` starts ``python -m bench.netclient`` with ``ip netns exec``, writes the
scenario's settings as one JSON object on its standard input and reads one JSON object of
figures from its standard output. The client talks to the latency proxy on the namespace's
loopback (``bench/netproxy.py``), which forwards over the shaped veth pair to the server.

What a phone "sends no compression" means here: no ``Accept-Encoding`` header at all (not even
``identity``) and no ``Content-Encoding``; "compression": ``Accept-Encoding: gzip`` (what
OkHttp, ODK Collect's HTTP client, sends by itself) and, when the server accepts it, push bodies
sent gzipped with ``Content-Encoding: gzip``.

Figures per scenario: wall time; bytes each way on the phone's interface (``/proc/net/dev``:
IP packets with their TCP/IP headers and ACKs, what the radio carries) and as HTTP (status
line, headers and body as sent); requests; TCP connections opened (each costs a handshake).
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

GZIP_LEVEL = 6


def interface_bytes(interface: str) -> tuple[int, int]:
    """(received, transmitted) bytes of ``interface`` in this network namespace."""
    with open("/proc/net/dev") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name.strip() == interface:
                fields = rest.split()
                return int(fields[0]), int(fields[8])
    return 0, 0


class Reply:
    """One HTTP answer: status, headers (lower-case names), decoded body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, wire_body: int) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.wire_body = wire_body

    def json(self) -> Any:
        return json.loads(self.body)


class PhoneClient:
    """HTTP/1.1 on http.client, counting requests, connections and bytes; gzip when asked."""

    def __init__(self, base_url: str, compress: bool, gzip_requests: bool = False) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.compress = compress
        self.gzip_requests = compress and gzip_requests
        self.headers: dict[str, str] = {}
        self.requests = 0
        self.connections = 0
        self.http_up = 0
        self.http_down = 0
        self.compressed_answers = 0
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            self._conn.connect()
            self.connections += 1
        return self._conn

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> Reply:
        """One request; a connection the server had closed meanwhile is opened again once."""
        all_headers = dict(self.headers)
        all_headers.update(headers or {})
        if self.compress:
            all_headers["Accept-Encoding"] = "gzip"
        if body is not None:
            all_headers["Content-Type"] = content_type
            if self.gzip_requests and method in ("POST", "PUT", "PATCH"):
                body = gzip.compress(body, GZIP_LEVEL)
                all_headers["Content-Encoding"] = "gzip"
            all_headers["Content-Length"] = str(len(body))
        url = self.prefix + path if path.startswith("/") else path
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.putrequest(method, url, skip_accept_encoding=True)
                for name, value in all_headers.items():
                    conn.putheader(name, value)
                conn.endheaders(body)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            break
        self.requests += 1
        head = f"{method} {url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in all_headers.items())
        host_line = f"Host: {self.host}:{self.port}\r\n"
        self.http_up += len(head) + len(host_line) + 2 + len(body or b"")  # + the blank line
        status_line = f"HTTP/1.1 {resp.status} {resp.reason}\r\n"
        self.http_down += len(status_line) + len(str(resp.msg)) + 2 + len(raw)
        headers_out = {k.lower(): v for k, v in resp.getheaders()}
        decoded = raw
        encoding = headers_out.get("content-encoding", "").lower()
        if encoding == "gzip":
            decoded = gzip.decompress(raw)
            self.compressed_answers += 1
        elif encoding not in ("", "identity"):
            raise RuntimeError(f"answer in an encoding the phone did not ask for: {encoding}")
        if resp.will_close:
            self.close()
        return Reply(resp.status, headers_out, decoded, len(raw))

    def json(self, method: str, path: str, payload: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        reply = self.request(method, path, body, {"Accept": "application/json"})
        if reply.status not in ok:
            raise RuntimeError(f"{method} {path} -> {reply.status}: {reply.body[:300]!r}")
        return reply.json() if reply.body else None

    def counters(self) -> dict:
        return {
            "requests": self.requests,
            "connections": self.connections,
            "http_up": self.http_up,
            "http_down": self.http_down,
            "compressed_answers": self.compressed_answers,
        }


class Measure:
    """Wall time and interface bytes of one timed part."""

    def __init__(self, interface: str, client: PhoneClient) -> None:
        self.interface = interface
        self.client = client

    def __enter__(self) -> Measure:
        self.client.close()  # every timed part starts on a new connection, as after a radio sleep
        self._start_counts = self.client.counters()
        self._rx, self._tx = interface_bytes(self.interface)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        rx, tx = interface_bytes(self.interface)
        now = self.client.counters()
        self.figures = {
            "seconds": round(self.seconds, 3),
            "down_bytes": rx - self._rx,
            "up_bytes": tx - self._tx,
            **{k: now[k] - self._start_counts[k] for k in now},
        }
        self.figures["round_trips"] = self.figures["requests"] + self.figures["connections"]


# ---------------------------------------------------------------- our server


def fieldsync_first_sync(cfg: dict, client: PhoneClient) -> dict:
    """Log in, then pull pages until ``more`` is false."""
    with Measure(cfg["interface"], client) as m:
        token = client.json(
            "POST", "/api/v1/auth/token", {"username": cfg["username"], "password": cfg["password"]}
        )["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        records, pages, cursor = _pull(client, cfg["page_limit"], None)
    return {**m.figures, "records": records, "pages": pages, "cursor": cursor, "token": token}


def _pull(client: PhoneClient, limit: int, cursor: str | None) -> tuple[int, int, str | None]:
    records = pages = 0
    while True:
        path = f"/api/v1/sync/pull?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = client.json("GET", path)
        pages += 1
        records += len(body["changes"])
        cursor = body["cursor"]
        if not body["more"]:
            return records, pages, cursor
        if pages > 100_000:
            raise RuntimeError("pull did not end")


def fieldsync_day(cfg: dict, client: PhoneClient) -> dict:
    """Push the day's changes in one batch, then pull what changed since the morning's cursor."""
    client.headers["Authorization"] = f"Bearer {cfg['token']}"
    with Measure(cfg["interface"], client) as m:
        answer = client.json("POST", "/api/v1/sync/push", cfg["push"])
        records, pages, cursor = _pull(client, cfg["page_limit"], cfg["cursor"])
    statuses: dict[str, int] = {}
    for result in answer["results"]:
        statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    return {**m.figures, "records": records, "pages": pages, "statuses": statuses, "cursor": cursor}


OPENROSA = {"X-OpenRosa-Version": "1.0"}
XFORMS_LIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"


class CollectPhone:
    """What ODK Collect keeps between two mornings: form hashes, media hashes, ETags.

    The phone was set up with a QR code, so it reaches the server through its device key in the
    path (``/v1/key/<key>/projects/1``), as ODK Central's app users do - no password to check.
    """

    def __init__(self, client: PhoneClient, project_url: str) -> None:
        self.client = client
        self.project = project_url.rstrip("/")
        self.auth = dict(OPENROSA)
        self.etags: dict[str, str] = {}
        self.bodies: dict[str, bytes] = {}
        self.form_hashes: dict[str, str] = {}
        self.media_hashes: dict[str, str] = {}
        self.not_modified = 0
        self.downloads: list[str] = []

    def _path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def get(self, url: str) -> bytes:
        """GET with If-None-Match when the phone has an ETag; the (possibly cached) body."""
        path = self._path(url)
        headers = dict(self.auth)
        if path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        reply = self.client.request("GET", path, headers=headers)
        if reply.status == 304 and path in self.bodies:
            self.not_modified += 1
            return self.bodies[path]
        if reply.status != 200:
            raise RuntimeError(f"GET {path} -> {reply.status}: {reply.body[:300]!r}")
        if "etag" in reply.headers:
            self.etags[path] = reply.headers["etag"]
        self.bodies[path] = reply.body
        return reply.body

    def morning(self) -> None:
        """formList; each manifest; each form and media file whose hash the phone lacks."""
        form_list = ET.fromstring(self.get(f"{self.project}/formList"))
        for xform in form_list.iter(f"{XFORMS_LIST}xform"):
            form_id = xform.findtext(f"{XFORMS_LIST}formID")
            digest = xform.findtext(f"{XFORMS_LIST}hash")
            if self.form_hashes.get(form_id) != digest:
                self.get(xform.findtext(f"{XFORMS_LIST}downloadUrl"))
                self.form_hashes[form_id] = digest
                self.downloads.append(f"form {form_id}")
            manifest_url = xform.findtext(f"{XFORMS_LIST}manifestUrl")
            if not manifest_url:
                continue
            manifest = ET.fromstring(self.get(manifest_url))
            for media in manifest.iter(f"{MANIFEST}mediaFile"):
                name = f"{form_id}/{media.findtext(f'{MANIFEST}filename')}"
                digest = media.findtext(f"{MANIFEST}hash")
                if self.media_hashes.get(name) != digest:
                    self.get(media.findtext(f"{MANIFEST}downloadUrl"))
                    self.media_hashes[name] = digest
                    self.downloads.append(f"media {name}")


def fieldsync_collect(cfg: dict, client: PhoneClient) -> dict:
    """Two mornings of Collect: the first with nothing on the phone (every form, manifest and
    media file changed), then the next with nothing changed."""
    phone = CollectPhone(client, cfg["project_url"])
    out = {}
    for label in ("changed", "unchanged"):
        phone.downloads = []
        phone.not_modified = 0
        with Measure(cfg["interface"], client) as m:
            phone.morning()
        out[label] = {**m.figures, "downloads": phone.downloads, "not_modified": phone.not_modified}
    out["etags"] = len(phone.etags)
    return out


# ---------------------------------------------------------------- Kinto


KINTO_ENTITIES = ("households", "registrations", "support_items", "payouts")


def _kinto_client(cfg: dict, client: PhoneClient) -> None:
    token = base64.b64encode(f"{cfg['username']}:{cfg['password']}".encode()).decode()
    client.headers["Authorization"] = f"Basic {token}"


def _kinto_pull(client: PhoneClient, cfg: dict, marks: dict[str, str]) -> tuple[int, int, dict]:
    records = pages = 0
    new_marks = dict(marks)
    for entity in KINTO_ENTITIES:
        path = f"/buckets/{cfg['bucket']}/collections/{entity}/records?_limit={cfg['page_limit']}"
        path += "&_sort=last_modified" + (f"&_since={marks[entity]}" if entity in marks else "")
        first = True
        while path:
            reply = client.request("GET", path, headers={"Accept": "application/json"})
            if reply.status != 200:
                raise RuntimeError(f"GET {path} -> {reply.status}: {reply.body[:300]!r}")
            pages += 1
            if first:
                new_marks[entity] = reply.headers.get("etag", '"0"').strip('"')
                first = False
            records += len(reply.json()["data"])
            nxt = reply.headers.get("next-page")
            if nxt:
                parts = urlsplit(nxt)
                path = parts.path[len(client.prefix) :] + (f"?{parts.query}" if parts.query else "")
            else:
                path = None
    return records, pages, new_marks


def kinto_first_sync(cfg: dict, client: PhoneClient) -> dict:
    _kinto_client(cfg, client)
    with Measure(cfg["interface"], client) as m:
        records, pages, marks = _kinto_pull(client, cfg, {})
    return {**m.figures, "records": records, "pages": pages, "cursor": json.dumps(marks)}


def kinto_day(cfg: dict, client: PhoneClient) -> dict:
    _kinto_client(cfg, client)
    with Measure(cfg["interface"], client) as m:
        answer = client.json("POST", "/batch", cfg["push"])
        records, pages, marks = _kinto_pull(client, cfg, json.loads(cfg["cursor"]))
    statuses: dict[str, int] = {}
    for sub in answer["responses"]:
        statuses[str(sub["status"])] = statuses.get(str(sub["status"]), 0) + 1
    return {
        **m.figures,
        "records": records,
        "pages": pages,
        "statuses": statuses,
        "cursor": json.dumps(marks),
    }


SCENARIOS = {
    ("fieldsync", "first_sync"): fieldsync_first_sync,
    ("fieldsync", "day"): fieldsync_day,
    ("fieldsync", "collect"): fieldsync_collect,
    ("kinto", "first_sync"): kinto_first_sync,
    ("kinto", "day"): kinto_day,
}


def run(cfg: dict) -> dict:
    """Run the scenario ``cfg`` names; its figures."""
    client = PhoneClient(cfg["base_url"], cfg["compress"], cfg.get("gzip_requests", False))
    try:
        return SCENARIOS[(cfg["kind"], cfg["scenario"])](cfg, client)
    finally:
        client.close()


def main() -> int:
    cfg = json.load(sys.stdin)
    try:
        result = run(cfg)
    except Exception as exc:  # noqa: BLE001 - reported to the orchestrator as the section's error
        result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
