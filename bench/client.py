"""A small JSON-over-HTTP client on http.client, with connection reuse.

The benchmark avoids third-party HTTP libraries so that its own overhead is
small and the same in every section. One :class:`JsonClient` per thread or
process; it reconnects by itself when the server closes the connection
(gunicorn's sync workers close after every response).
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class EndpointMissing(RuntimeError):
    """The server answered 404/405 for an endpoint the benchmark needs: report the section as n/a."""


class HttpFailure(RuntimeError):
    """An unexpected HTTP status; carries the status and the (truncated) body."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:300]}")
        self.status = status
        self.body = body


@dataclass
class Response:
    """Status, headers and decoded JSON body (None when the body is not JSON)."""

    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes = field(repr=False, default=b"")
    seconds: float = 0.0


class JsonClient:
    """Keeps one loopback connection and speaks JSON on it."""

    def __init__(self, base_url: str, timeout: float = 300.0) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the benchmark only talks to loopback addresses, not {parts.hostname}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.headers: dict[str, str] = {"Accept": "application/json"}
        self._conn: http.client.HTTPConnection | None = None

    def set_bearer(self, token: str) -> None:
        """Send ``Authorization: Bearer <token>`` from now on."""
        self.headers["Authorization"] = f"Bearer {token}"

    def set_basic(self, user: str, password: str) -> None:
        """Send HTTP Basic credentials from now on."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers["Authorization"] = f"Basic {token}"

    def close(self) -> None:
        """Close the connection, if any."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, payload: Any = None, body: bytes | None = None) -> Response:
        """Send one request; retry once on a connection the server had already closed."""
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        url = path if path.startswith("/") else "/" + path
        url = self.prefix + url
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            started = time.perf_counter()
            try:
                self._conn.request(method, url, body=body, headers=headers)
                resp = self._conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            seconds = time.perf_counter() - started
            if resp.will_close:
                self.close()
            try:
                decoded = json.loads(raw) if raw else None
            except ValueError:
                decoded = None
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, decoded, raw, seconds)
        raise AssertionError("unreachable")

    def expect(self, method: str, path: str, payload: Any = None, ok: tuple[int, ...] = (200,)) -> Response:
        """Like :meth:`request`, raising :class:`EndpointMissing` on 404/405 and
        :class:`HttpFailure` on any other status outside ``ok``."""
        resp = self.request(method, path, payload)
        if resp.status in ok:
            return resp
        text = resp.raw.decode("utf-8", "replace")
        if resp.status in (404, 405):
            raise EndpointMissing(f"{method} {path.split('?')[0]} answered {resp.status}")
        raise HttpFailure(method, path, resp.status, text)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (0 for an empty list)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100.0 * len(ordered))))
    return ordered[rank - 1]
