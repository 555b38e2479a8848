"""Which peer's ``X-Forwarded-For`` is believed: only a configured proxy's (``TRUSTED_PROXIES``).

Throttling counts failed logins per (username, address), so the address must be the real
client's. Behind nginx, every request comes from the proxy's address, and the client's is in
``X-Forwarded-For`` - which anyone can also send straight to the server to pose as another
address. So the header is honoured only when the connection itself comes from one of the
addresses or networks in ``TRUSTED_PROXIES`` (comma-separated, e.g. ``127.0.0.1,10.0.0.0/8``;
none by default): then werkzeug's ``ProxyFix`` takes the one hop the proxy appended (the
last address of the list: nginx's ``$proxy_add_x_forwarded_for`` appends the peer it saw to
whatever the client sent) and the scheme from ``X-Forwarded-Proto``. From any other peer the
headers are dropped, so nothing downstream can read a forged one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

from server.config import ConfigurationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")


def parse_trusted_proxies(text: str | None) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES`` as networks; a bad entry stops the server from starting."""
    networks = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ConfigurationError(f"TRUSTED_PROXIES: {entry!r} is not an address or network") from exc
    return tuple(networks)


def is_trusted(address: str | None, networks: Iterable[Network]) -> bool:
    try:
        peer = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    return any(peer in network for network in networks)


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` for requests from a trusted proxy, no forwarding otherwise."""

    def __init__(self, wsgi_app, networks: tuple[Network, ...]):
        self.networks = networks
        self.direct = wsgi_app
        self.proxied = ProxyFix(wsgi_app, x_for=1, x_proto=1)

    def __call__(self, environ, start_response):
        if self.networks and is_trusted(environ.get("REMOTE_ADDR"), self.networks):
            return self.proxied(environ, start_response)
        for header in FORWARDED_HEADERS:
            environ.pop(header, None)
        return self.direct(environ, start_response)
