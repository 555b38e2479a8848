"""The pieces of ``python -m bench.network`` that run without root.

The benchmark itself needs network namespaces (root); what it builds on is checked here on
loopback: the latency/loss proxy, the profile table, the phone's HTTP client (what it sends
with and without compression, what it counts), the day's plan, the verdicts, and that it says
so and exits 0 without root. No timing upper bounds (a loaded machine is slow, never fast):
the proxy's delays are asserted from below, and everything else by counts and bytes.
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import network
from bench.netclient import PhoneClient
from bench.netns import PROFILES, tbf_args
from bench.netproxy import LOSS_PENALTY_RTTS, LinkProxy, ThreadedProxy


@pytest.fixture
def echo_server():
    """A TCP echo server on loopback; its port."""
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue

            def echo(c=conn):
                with c:
                    while data := c.recv(65536):
                        c.sendall(data)

            threading.Thread(target=echo, daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join(5)
    srv.close()


def exchange(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "the proxy closed the connection early"
        got += chunk
    return got


def test_profiles_are_the_issues_links():
    edge, g3 = PROFILES["edge"], PROFILES["3g"]
    assert (edge.down_kbit, edge.up_kbit, edge.rtt_ms, edge.loss) == (200, 100, 400, 0.01)
    assert (g3.down_kbit, g3.up_kbit, g3.rtt_ms) == (1500, 750, 150)
    assert edge.rtt == pytest.approx(0.4)
    assert tbf_args(200)[:2] == ["rate", "200kbit"]


def test_proxy_adds_the_round_trip_and_a_handshake(echo_server):
    rtt = 0.3
    with ThreadedProxy(LinkProxy("127.0.0.1", echo_server, rtt)) as proxy:
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            assert exchange(sock, b"hello") == b"hello"
            first = time.perf_counter() - started
            again = time.perf_counter()
            assert exchange(sock, b"x" * 1000) == b"x" * 1000
            second = time.perf_counter() - again
    # The first exchange pays the handshake too (two round trips), the next one round trip.
    assert first >= 2 * rtt - 0.01
    assert second >= rtt - 0.01
    assert proxy.proxy.stats.connections == 1


def test_proxy_without_latency_is_faster_than_with(echo_server):
    def one_exchange(rtt: float) -> float:
        with ThreadedProxy(LinkProxy("127.0.0.1", echo_server, rtt)) as proxy:
            started = time.perf_counter()
            with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
                exchange(sock, b"ping")
            return time.perf_counter() - started

    assert one_exchange(0.5) > one_exchange(0.0) + 0.5


def test_proxy_keeps_every_byte_in_order_under_loss(echo_server):
    payload = random.Random(1).randbytes(300_000)
    proxy = LinkProxy("127.0.0.1", echo_server, rtt=0.02, loss=0.05, seed=3)
    with ThreadedProxy(proxy) as running, socket.create_connection(("127.0.0.1", running.port)) as sock:
        assert exchange(sock, payload) == payload
    assert proxy.stats.bytes_up == proxy.stats.bytes_down == len(payload)
    # ~207 segments each way at 5 %: some were lost (P(none) ~ 1e-9), far from all.
    assert 0 < proxy.stats.lost_segments < 100


def test_loss_costs_one_and_a_half_round_trips_per_lost_segment():
    proxy = LinkProxy("127.0.0.1", 1, rtt=0.4, loss=0.01, mss=1000)
    delay, lost = proxy.loss_delay(random.Random(5), 0, 1_000_000)  # 1,000 segments
    assert 1 <= lost <= 40
    assert delay == pytest.approx(lost * LOSS_PENALTY_RTTS * 0.4)
    # Segments are counted on the stream, not per chunk: pieces add up to the whole.
    always = LinkProxy("127.0.0.1", 1, rtt=0.4, loss=0.999999999, mss=1000)
    pieces = [(0, 1500), (1500, 2100), (2100, 10_000)]
    assert sum(always.loss_delay(random.Random(0), a, b)[1] for a, b in pieces) == 10
    assert LinkProxy("127.0.0.1", 1, rtt=0.4).loss_delay(random.Random(5), 0, 10**7) == (0.0, 0)


class Recorder(BaseHTTPRequestHandler):
    """Answers JSON, gzipped when asked; remembers each request's headers and body."""

    seen: list = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        Recorder.seen.append((self.command, dict(self.headers), body))
        out = json.dumps({"items": ["Xã Trà Dơn"] * 200}, ensure_ascii=False).encode()
        self.send_response(200)
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            out = gzip.compress(out)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recorder():
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_phone_without_compression_sends_no_accept_encoding_at_all(recorder):
    client = PhoneClient(recorder, compress=False, gzip_requests=True)
    answer = client.json("POST", "/push", {"changes": ["thôn"]})
    method, headers, body = Recorder.seen[0]
    assert "Accept-Encoding" not in headers and "Content-Encoding" not in headers
    assert json.loads(body) == {"changes": ["thôn"]}
    assert answer["items"][0] == "Xã Trà Dơn"
    assert client.compressed_answers == 0


def test_phone_with_compression_gzips_both_ways_and_counts_the_wire(recorder):
    plain = PhoneClient(recorder, compress=False)
    plain.json("GET", "/pull")
    packed = PhoneClient(recorder, compress=True, gzip_requests=True)
    assert packed.json("GET", "/pull")["items"][1] == "Xã Trà Dơn"
    packed.json("POST", "/push", {"changes": ["thôn"] * 100})
    get_headers = Recorder.seen[1][1]
    _, post_headers, post_body = Recorder.seen[2]
    assert get_headers["Accept-Encoding"] == "gzip"
    assert post_headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(post_body)) == {"changes": ["thôn"] * 100}
    assert packed.compressed_answers == 2
    assert packed.requests == 2 and packed.connections >= 1
    # The compressed answer is counted as it came over the wire: several times smaller.
    assert plain.http_down > 5 * (packed.http_down / 2)


def test_a_days_plan_is_thirty_changes_on_households_no_other_run_touches():
    commune = network.pick_commune()
    records = network.commune_records(commune, 100)
    households = [r for r in records if r.entity == "households"]
    assert len(households) == 100
    assert {r.entity for r in records} == {"households", "registrations", "support_items", "payouts"}
    plans = [network.DayPlan(households, commune, k) for k in range(2)]
    for plan in plans:
        assert len(plan.phone) == 30 and len(plan.other) == 20
        assert sum(op.edited is None for op in plan.phone) == 10  # 5 households + 5 registrations
    touched = [{op.record.id for op in p.phone + p.other if op.edited is not None} for p in plans]
    assert len(touched[0]) == len(touched[1]) == 40 and not touched[0] & touched[1]
    with pytest.raises(ValueError):
        network.DayPlan(households, commune, 5)


def test_targets_are_judged_on_edge_with_our_server():
    def figures(seconds, down, records=None):
        return {"seconds": seconds, "down_bytes": down, "records": records}

    results = {
        "profiles": {
            "edge": {
                "fieldsync": {
                    "none": {"first_sync": figures(60.0, 1_400_000, 3400)},
                    "gzip": {
                        "first_sync": figures(9.0, 200_000, 3400),
                        "day": figures(3.5, 9000, 50),
                        "collect": {"unchanged": figures(1.0, 800)},
                    },
                }
            }
        }
    }
    verdicts = network.check_targets(results)
    assert verdicts["first_sync_edge_gzip_s"]["verdict"] == "MET"
    assert verdicts["first_sync_edge_none_s"]["verdict"] == "MISSED"
    assert verdicts["day_edge_gzip_s"]["verdict"] == "MISSED"
    assert verdicts["collect_unchanged_edge_gzip_s"]["verdict"] == "MET"
    assert verdicts["bytes_per_record_ratio"] == {"value": 7.0, "target": 5.0, "verdict": "MET"}
    assert network.check_targets({})["judged"] is False


def test_without_root_it_says_so_and_exits_zero(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert network.main(["--smoke", "--strict"]) == 0
    captured = capsys.readouterr()
    assert "needs root" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["skipped"]
