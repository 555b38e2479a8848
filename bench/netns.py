"""A phone's link on this machine: a network namespace, a veth pair and ``tc`` shaping.

The phone (the benchmark's client and its latency proxy, ``bench/netproxy.py``) lives in a
network namespace of its own, ``fsnb-<pid>``; a veth pair joins it to the root namespace,
where the servers listen on the root end's address only. Both ends have addresses in a /30
of 10.213.0.0/16 that exists only on this veth pair, so no packet of the benchmark can go
anywhere but between the two namespaces. ``tc`` shapes each direction with a token bucket
(``tbf``) on the sending end: the root end's egress is the phone's download, the phone end's
egress its upload. (``netem`` is not in this kernel; the proxy adds latency and loss.)

Everything made here is undone by :meth:`Link.close` (deleting the namespace deletes the veth
pair and its qdiscs); namespaces left behind by a benchmark that was killed are removed by
:func:`remove_stale` at the next start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PREFIX = "fsnb"
SUBNET = "10.213"


@dataclass(frozen=True)
class Profile:
    """A mobile link as the phone sees it."""

    name: str
    down_kbit: int
    up_kbit: int
    rtt_ms: int
    loss: float
    note: str = ""

    @property
    def rtt(self) -> float:
        """Round-trip time in seconds."""
        return self.rtt_ms / 1000


PROFILES: dict[str, Profile] = {
    "edge": Profile("edge", 200, 100, 400, 0.01, "EDGE (2.75G) with a weak signal in a mountain commune"),
    "3g": Profile("3g", 1500, 750, 150, 0.0, "a weak 3G (HSPA) signal"),
}


class RootRequired(RuntimeError):
    """Network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)."""


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def check_root() -> None:
    """Raise :class:`RootRequired` unless this process may make namespaces and shape links."""
    if os.geteuid() != 0:
        raise RootRequired(
            "bench.network needs root: it makes a network namespace, a veth pair and tc qdiscs"
        )
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            raise RootRequired(f"bench.network needs iproute2's `{tool}` on PATH")


def tbf_args(kbit: int) -> list[str]:
    """The ``tc qdisc ... tbf`` parameters for ``kbit`` kbit/s.

    The bucket holds two full-size packets (a larger one would let bursts through at the
    veth's speed); the queue holds 64 KiB, a mobile network's deep buffer, so TCP between
    the proxy and the server is paced rather than dropped.
    """
    return ["rate", f"{kbit}kbit", "burst", "3200", "limit", "65536"]


def remove_stale() -> list[str]:
    """Delete ``fsnb-<pid>`` namespaces whose benchmark process is gone; the names removed."""
    out = _run("ip", "netns", "list", check=False).stdout
    removed = []
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX + "-"):
            continue
        pid = name.split("-", 1)[1]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue
        _run("ip", "netns", "del", name, check=False)
        _run("ip", "link", "del", f"{PREFIX}{pid}s", check=False)
        removed.append(name)
    return removed


class Link:
    """The namespace ``fsnb-<pid>`` joined to the root namespace by a shaped veth pair."""

    def __init__(self, pid: int | None = None) -> None:
        pid = os.getpid() if pid is None else pid
        self.namespace = f"{PREFIX}-{pid}"
        self.server_if = f"{PREFIX}{pid}s"  # root end
        self.phone_if = f"{PREFIX}{pid}c"  # in the namespace
        third = pid % 250 + 1
        self.server_ip = f"{SUBNET}.{third}.1"
        self.phone_ip = f"{SUBNET}.{third}.2"
        self.profile: Profile | None = None
        self._made = False

    def open(self) -> Link:
        """Make the namespace and the veth pair, address both ends and bring them up."""
        try:
            _run("ip", "netns", "add", self.namespace)
        except subprocess.CalledProcessError as exc:
            raise RootRequired(f"cannot make a network namespace: {exc.stderr.strip()}") from exc
        self._made = True
        ns = ("ip", "-n", self.namespace)
        _run("ip", "link", "add", self.server_if, "type", "veth", "peer", "name", self.phone_if)
        _run("ip", "link", "set", self.phone_if, "netns", self.namespace)
        _run("ip", "addr", "add", f"{self.server_ip}/30", "dev", self.server_if)
        _run("ip", "link", "set", self.server_if, "up")
        _run(*ns, "addr", "add", f"{self.phone_ip}/30", "dev", self.phone_if)
        _run(*ns, "link", "set", self.phone_if, "up")
        _run(*ns, "link", "set", "lo", "up")
        return self

    def shape(self, profile: Profile) -> None:
        """Token buckets on both ends: down on the root end, up on the phone's end."""
        _run("tc", "qdisc", "replace", "dev", self.server_if, "root", "tbf", *tbf_args(profile.down_kbit))
        _run(
            "ip", "netns", "exec", self.namespace,
            "tc", "qdisc", "replace", "dev", self.phone_if, "root", "tbf", *tbf_args(profile.up_kbit),
        )  # fmt: skip
        self.profile = profile

    def qdiscs(self) -> str:
        """What ``tc`` says is on both ends (for the report)."""
        down = _run("tc", "qdisc", "show", "dev", self.server_if, check=False).stdout.strip()
        up = _run(
            "ip", "netns", "exec", self.namespace, "tc", "qdisc", "show", "dev", self.phone_if, check=False
        ).stdout.strip()
        return f"down: {down} | up: {up}"

    def exec_argv(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the phone's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def close(self) -> None:
        """Delete the namespace (and with it the veth pair and the qdiscs)."""
        if not self._made:
            return
        _run("ip", "netns", "del", self.namespace, check=False)
        _run("ip", "link", "del", self.server_if, check=False)
        self._made = False
