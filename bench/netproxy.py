"""The latency and loss of a slow link, added by a small TCP proxy on the phone's side.

This kernel has ``tbf`` and ``htb`` but not ``netem``, so ``tc`` shapes the bandwidth of the
link (see ``bench/netns.py``) and this proxy adds what ``netem`` would have added:

- **latency**: every chunk read from one side is written to the other ``rtt / 2`` later, in
  order (a chunk never overtakes the one before it). A new connection first costs one round
  trip (the TCP handshake): nothing the phone sends leaves before ``rtt`` after it connected.
- **loss**, as the time a retransmission costs rather than as dropped packets: the stream is
  cut into segments of ``mss`` bytes and each is "lost" with probability ``loss``; a lost
  segment holds it and everything behind it back by ``LOSS_PENALTY_RTTS`` round trips (about
  one round trip for a fast retransmit after duplicate ACKs, two for a tail loss probe or a
  short RTO at the end of a burst - 1.5 on average). A lost handshake costs the initial RTO
  (1 s). The resent bytes themselves (1 % more at 1 % loss) are not sent again.

The draws come from a seeded generator per connection and direction, so one run and the next
lose the same segments of the same streams.

Run alone (the benchmark starts it inside the phone's network namespace):
``python -m bench.netproxy --listen 127.0.0.1:18001 --upstream 10.213.7.1:8000 --rtt-ms 400
--loss 0.01 [--ready-file FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

LOSS_PENALTY_RTTS = 1.5
"""Round trips a lost segment costs, on average (fast retransmit ~1, tail loss ~2)."""
SYN_RTO = 1.0
"""Seconds a lost SYN costs (Linux's initial retransmission timeout)."""
DEFAULT_MSS = 1448
"""Payload bytes of a TCP segment on a 1500-byte MTU link with timestamps."""
READ_SIZE = 16384


@dataclass
class ProxyStats:
    """What went through the proxy (all connections together)."""

    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    lost_segments: int = 0
    lost_handshakes: int = 0


class LinkProxy:
    """A TCP proxy adding ``rtt`` (seconds) of round-trip latency and ``loss`` as retransmission delay."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        rtt: float,
        loss: float = 0.0,
        seed: int = 0,
        mss: int = DEFAULT_MSS,
    ) -> None:
        if rtt < 0 or not 0 <= loss < 1:
            raise ValueError("rtt must be >= 0 and loss in [0, 1)")
        self.upstream = (upstream_host, upstream_port)
        self.rtt = rtt
        self.loss = loss
        self.seed = seed
        self.mss = mss
        self.stats = ProxyStats()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    def loss_delay(self, rng: random.Random, before: int, after: int) -> tuple[float, int]:
        """Seconds of retransmission delay for the segments that end between byte ``before`` and
        ``after`` of a stream, and how many of them were lost."""
        if self.loss <= 0:
            return 0.0, 0
        segments = after // self.mss - before // self.mss
        lost = sum(1 for _ in range(segments) if rng.random() < self.loss)
        return lost * LOSS_PENALTY_RTTS * self.rtt, lost

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; the port it listens on."""
        self._server = await asyncio.start_server(self._handle, host, port)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        loop = asyncio.get_running_loop()
        number = self.stats.connections
        self.stats.connections += 1
        accepted = loop.time()
        rng = random.Random(f"{self.seed}:{number}")
        handshake = self.rtt
        if self.loss > 0 and rng.random() < self.loss:
            handshake += SYN_RTO
            self.stats.lost_handshakes += 1
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            self._tasks.discard(task)
            return
        ready = accepted + handshake
        try:
            await asyncio.gather(
                self._pipe(client_r, up_w, "up", ready, random.Random(f"{self.seed}:{number}:up")),
                self._pipe(up_r, client_w, "down", ready, random.Random(f"{self.seed}:{number}:down")),
            )
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for w in (up_w, client_w):
                with contextlib.suppress(Exception):
                    w.close()
            self._tasks.discard(task)

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        direction: str,
        ready: float,
        rng: random.Random,
    ) -> None:
        """Copy ``src`` to ``dst``, each chunk released ``rtt / 2`` after it was sent, in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        one_way = self.rtt / 2

        async def reader() -> None:
            last = 0.0
            total = 0
            try:
                while chunk := await src.read(READ_SIZE):
                    # The phone cannot send before its handshake is done; the server's first
                    # byte cannot leave before the request that asked for it arrived.
                    sent = max(loop.time(), ready) if direction == "up" else loop.time()
                    delay, lost = self.loss_delay(rng, total, total + len(chunk))
                    total += len(chunk)
                    self.stats.lost_segments += lost
                    last = max(last, sent + one_way + delay)
                    queue.put_nowait((last, chunk))
            except ConnectionError:
                pass
            queue.put_nowait((max(last, loop.time() + one_way), None))

        pump = asyncio.ensure_future(reader())
        try:
            while True:
                release, chunk = await queue.get()
                wait = release - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if chunk is None:
                    with contextlib.suppress(OSError):
                        if dst.can_write_eof():
                            dst.write_eof()
                    return
                dst.write(chunk)
                if direction == "up":
                    self.stats.bytes_up += len(chunk)
                else:
                    self.stats.bytes_down += len(chunk)
                await dst.drain()
        finally:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump


class ThreadedProxy:
    """A :class:`LinkProxy` on its own event loop in a background thread (for tests and tools)."""

    def __init__(self, proxy: LinkProxy) -> None:
        self.proxy = proxy
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedProxy:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _serve(args: argparse.Namespace) -> None:
    proxy = LinkProxy(*_host_port(args.upstream), args.rtt_ms / 1000, args.loss, args.seed)
    host, port = _host_port(args.listen)
    port = await proxy.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.ready_file:
        Path(args.ready_file).write_text(f"{port}\n")
    print(f"listening {host}:{port} -> {args.upstream}", flush=True)
    await stop.wait()
    await proxy.close()
    s = proxy.stats
    print(
        f"connections={s.connections} up={s.bytes_up} down={s.bytes_down} "
        f"lost_segments={s.lost_segments} lost_handshakes={s.lost_handshakes}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.netproxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the server")
    parser.add_argument("--rtt-ms", type=float, required=True, help="round-trip time to add")
    parser.add_argument("--loss", type=float, default=0.0, help="segment loss probability (0..1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ready-file", help="write the listening port here once listening")
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
