"""Sync over an emulated EDGE / 3G link: ``python -m bench.network [--smoke] [--profile edge|3g|all]
[--households N] [--skip-kinto] [--db sqlite|postgresql] [--out FILE] [--strict]``.

The phone lives in a network namespace of its own, joined to the servers by a veth pair whose
bandwidth ``tc`` shapes (``bench/netns.py``); a proxy in the phone's namespace adds the round-trip
time and the cost of lost segments (``bench/netproxy.py``); the phone's side of each scenario
runs there too (``bench/netclient.py``). Our server and Kinto run in the root namespace and
listen on the veth's root end (and on loopback, for the untimed setup). Needs root; without it
the benchmark says so and exits 0. See bench/README.md ("Sync over a slow link").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.fieldsync_side import SessionClient
from bench.front import NginxFront, nginx_available
from bench.netns import PROFILES, Link, Profile, RootRequired, check_root, remove_stale
from bench.records import Commune, Record, load_communes, make_household_bundle
from bench.services import Cleanup, install_signal_handlers, repo_root, start_server
from bench.workloads import Op, make_edit

PHONE = "bench_phone"
OTHER = "bench_other"
PAGE_LIMITS = (10_000, 5_000, 2_000, 1_000)  # the largest page the server accepts is used
PHONE_EDITS = 20  # a day's work: 20 edited households + 5 new households with their registrations
PHONE_NEW = 5
OTHER_EDITS = 20  # what another collaborator of the commune changed meanwhile
PER_RUN = PHONE_EDITS + OTHER_EDITS + 1
MODES = ("none", "gzip")
FULL_HOUSEHOLDS = 1000
SMOKE_HOUSEHOLDS = 100

TARGETS = {
    "first_sync_edge_gzip_s": 20.0,
    "day_edge_gzip_s": 3.0,
    "collect_unchanged_edge_gzip_s": 2.0,
    "bytes_per_record_ratio": 5.0,
}


def log(message: str) -> None:
    print(f"[bench.network {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.network", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=(*PROFILES, "all"), help="link profile (default all; smoke: 3g)")
    parser.add_argument(
        "--households", type=int, help=f"households of the commune (default {FULL_HOUSEHOLDS})"
    )
    parser.add_argument("--smoke", action="store_true", help="small commune, one profile, no Kinto: for CI")
    parser.add_argument("--skip-kinto", action="store_true", help="leave Kinto out")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--front",
        choices=("nginx", "none"),
        help="what the phone connects to: nginx before gunicorn, as in production (default when nginx "
        "is installed), or gunicorn itself",
    )
    parser.add_argument("--out", help="also write the JSON result to this file")
    parser.add_argument(
        "--markdown", metavar="FILE", help="print a saved JSON result as a Markdown table; no run"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 3 when a scenario failed with an error (not on targets)"
    )
    return parser.parse_args(argv)


# ---------------------------------------------------------------- the commune


def pick_commune() -> Commune:
    """A mountain commune (minority names, mountain villages): where the signal is weakest."""
    communes = load_communes()
    return next((c for c in communes if c.mountain), communes[0])


def commune_records(commune: Commune, households: int, seed: int = 18) -> list[Record]:
    """``households`` households of ``commune`` and their registrations, support items, payouts."""
    rng = random.Random(seed)
    records: list[Record] = []
    for seq in range(1, households + 1):
        records.extend(make_household_bundle(rng, commune, seq, full=True))
    return records


def new_bundles(commune: Commune, count: int, seed: int) -> list[Record]:
    """``count`` new households, each with its registration (what a collaborator creates)."""
    rng = random.Random(seed)
    out: list[Record] = []
    seq = 900_000 + seed * 100
    while len(out) < 2 * count:
        bundle = make_household_bundle(rng, commune, seq, full=False)
        seq += 1
        if len(bundle) == 2:
            out.extend(bundle)
    return out


def push_body(ops: list[Op], device_id: str) -> dict:
    """A ``POST /api/v1/sync/push`` body, as bench.fieldsync_side writes it."""
    return {
        "device_id": device_id,
        "batch_id": str(uuid.uuid4()),
        "changes": [
            {
                "change_id": str(uuid.uuid4()),
                "entity": op.record.entity,
                "id": op.record.id,
                "op": "upsert",
                "base_version": op.base_version,
                "data": op.record.data,
                "client_time": "2020-05-02T08:15:00+07:00",
            }
            for op in ops
        ],
    }


def kinto_batch(ops: list[Op], bucket: str) -> dict:
    """The same changes as a Kinto ``POST /v1/batch`` (PUT new, PATCH edited fields)."""
    requests = []
    for op in ops:
        path = f"/buckets/{bucket}/collections/{op.record.entity}/records/{op.record.id}"
        if op.edited is None:
            requests.append({"method": "PUT", "path": path, "body": {"data": op.record.data}})
        else:
            requests.append({"method": "PATCH", "path": path, "body": {"data": op.edited}})
    return {"requests": requests}


class DayPlan:
    """The changes of run number ``k``: distinct households, so no run's edit meets another's."""

    def __init__(self, households: list[Record], commune: Commune, k: int) -> None:
        rng = random.Random(1000 + k)
        chosen = households[k * PER_RUN : (k + 1) * PER_RUN]
        if len(chosen) < PER_RUN:
            raise ValueError(f"the commune is too small for run {k} ({len(households)} households)")
        self.phone = [make_edit(h, 1, "notes", rng) for h in chosen[:PHONE_EDITS]]
        self.phone += [Op(r) for r in new_bundles(commune, PHONE_NEW, seed=k)]
        self.other = [make_edit(h, 1, "notes", rng) for h in chosen[PHONE_EDITS : PHONE_EDITS + OTHER_EDITS]]


# ---------------------------------------------------------------- servers


class Servers:
    """Our server (and Kinto) seeded with the commune, listening on loopback and the veth."""

    def __init__(self, args: argparse.Namespace, link: Link, cleanup: Cleanup, households: int) -> None:
        from bench.fieldsync_side import FieldSyncApp, FieldSyncTarget
        from bench.seed import insert_records

        self.commune = pick_commune()
        self.records = commune_records(self.commune, households)
        self.households = [r for r in self.records if r.entity == "households"]
        where = f"commune {self.commune.code} {self.commune.name}"
        log(f"our server ({args.db}), {where}: {len(self.records):,} records")
        self.app = FieldSyncApp(
            args.db, cleanup, workers=2, collaborators={PHONE: self.commune.code, OTHER: self.commune.code},
            also_bind=link.server_ip,
        )  # fmt: skip
        log("seeding the commune through the store layer")
        insert_records(self.app.database_url, iter(self.records))
        self.target = FieldSyncTarget(self.app)
        self.other = SessionClient(self.app.base_url, OTHER, self.app.password, "bench-other-phone")
        self.phone = SessionClient(self.app.base_url, PHONE, self.app.password, "bench-phone-setup")
        self.server_info = self._probe()
        self.device_key = self._device_key()
        self._warm_forms()
        self.kinto = None
        if not args.skip_kinto:
            self._start_kinto(link, cleanup)
        self.front = None
        self.front_kind = args.front or ("nginx" if nginx_available() else "none")
        upstreams = {"fieldsync": self.app.port}
        if self.kinto:
            upstreams["kinto"] = self.kinto.server.port
        if self.front_kind == "nginx":
            log("nginx in front, as in production")
            self.front = NginxFront(link.server_ip, upstreams, cleanup)
        self.ports = self.front.ports if self.front else upstreams

    def _probe(self) -> dict:
        """What the server does (untimed, on loopback): largest page, gzip both ways, ETags."""
        import gzip

        info: dict = {}
        for limit in PAGE_LIMITS:
            resp = self.phone.request("GET", f"/api/v1/sync/pull?limit={limit}")
            if resp.status == 200:
                info["page_limit"] = limit
                info["pull_has_remaining"] = "remaining" in (resp.body or {})
                break
        else:
            raise RuntimeError(f"pull refused every page limit: {resp.status} {resp.raw[:200]!r}")
        saved = dict(self.phone.headers)
        self.phone.headers["Accept-Encoding"] = "gzip"
        resp = self.phone.request("GET", "/api/v1/sync/pull?limit=100")
        info["gzip_responses"] = resp.headers.get("content-encoding") == "gzip"
        self.phone.headers = saved
        # A gzipped push of one edit (a household no run touches): accepted, or not (yet).
        probe = make_edit(self.households[-1], 1, "notes", random.Random(7))
        body = json.dumps(push_body([probe], "bench-probe"), ensure_ascii=False).encode()
        self.other.headers["Content-Encoding"] = "gzip"
        try:
            resp = self.other.request("POST", "/api/v1/sync/push", body=gzip.compress(body))
        finally:
            del self.other.headers["Content-Encoding"]
        info["gzip_requests"] = resp.status == 200
        if resp.status != 200:
            info["gzip_request_answer"] = resp.status
            self.other.request("POST", "/api/v1/sync/push", body=body)
        return info

    def _device_key(self) -> str:
        """A device key for the phone's Collect, as an admin issues it for a QR code."""
        admin = SessionClient(self.app.base_url, "bench_admin", self.app.password, "bench-admin")
        resp = admin.expect(
            "POST", "/api/v1/device-tokens", {"username": PHONE, "label": "bench phone"}, ok=(201,)
        )
        return resp.body["token"]

    def _warm_forms(self) -> None:
        """Fetch the form list and every form a few times (untimed, loopback) so that each
        worker has compiled the XForms before the phone's first morning is measured."""
        import re
        import urllib.request

        project = f"{self.app.base_url}/v1/key/{self.device_key}/projects/1"
        for _ in range(2 * self.app.workers):
            req = urllib.request.Request(f"{project}/formList", headers={"X-OpenRosa-Version": "1.0"})
            with urllib.request.urlopen(req, timeout=120) as resp:
                listing = resp.read().decode()
            for form_id in re.findall(r"<formID>([^<]+)</formID>", listing):
                req = urllib.request.Request(
                    f"{project}/forms/{form_id}.xml", headers={"X-OpenRosa-Version": "1.0"}
                )
                with urllib.request.urlopen(req, timeout=120) as resp:
                    resp.read()

    def _start_kinto(self, link: Link, cleanup: Cleanup) -> None:
        """Kinto beside, with the very records our pull gives the phone."""
        from bench.kinto_side import KintoServer, KintoTarget

        log("Kinto (memory backend) with the same records")
        server = KintoServer("memory", cleanup, workers=1, also_bind=link.server_ip)
        self.kinto = KintoTarget(server)
        pulled, _ = self.target.pull(self.phone, None)
        records = [Record(p.entity, p.id, p.data, self.commune.code) for p in pulled]
        client = self.kinto.device_client(0)
        for i in range(0, len(records), 500):
            acks = self.kinto.push(client, [Op(r) for r in records[i : i + 500]], "seed")
            if not all(a.ok for a in acks):
                raise RuntimeError("Kinto refused seed records")
        self.kinto_records = {r.id: r for r in records}

    def other_device_push(self, kind: str, plan: DayPlan) -> None:
        """Another collaborator's edits arrive between the phone's morning and its day's sync."""
        if kind == "fieldsync":
            acks = self.target.push(self.other, plan.other, str(uuid.uuid4()))
        else:
            acks = self.kinto.push(self.kinto.device_client(1), plan.other, str(uuid.uuid4()))
        if not all(a.ok for a in acks):
            raise RuntimeError(f"the other device's push was refused: {[a.status for a in acks][:3]}")


# ---------------------------------------------------------------- one profile


def start_proxy(
    link: Link, profile: Profile, port: int, listen: int, cleanup: Cleanup, logdir: Path, name: str
):
    """The latency/loss proxy in the phone's namespace, forwarding to ``port`` on the veth."""
    ready = logdir / f"{name}.ready"
    argv = link.exec_argv([
        sys.executable, "-m", "bench.netproxy", "--listen", f"127.0.0.1:{listen}",
        "--upstream", f"{link.server_ip}:{port}", "--rtt-ms", str(profile.rtt_ms),
        "--loss", str(profile.loss), "--seed", "18", "--ready-file", str(ready),
    ])  # fmt: skip
    server = start_server(name, argv, dict(os.environ), repo_root(), cleanup, logdir)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"proxy {name} did not start: {server.tail_log()}")
        time.sleep(0.1)
    return server


def phone(link: Link, cfg: dict) -> dict:
    """Run one scenario in the phone's namespace; its figures (or ``{"error": ...}``)."""
    proc = subprocess.run(
        link.exec_argv([sys.executable, "-m", "bench.netclient"]),
        input=json.dumps(cfg, ensure_ascii=False), capture_output=True, text=True,
        cwd=repo_root(), timeout=1800,
    )  # fmt: skip
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"phone exited {proc.returncode}: {(proc.stderr or proc.stdout)[-400:]}"}


def run_profile(
    profile: Profile,
    servers: Servers,
    link: Link,
    cleanup: Cleanup,
    logdir: Path,
    run_counter: list[int],
    out: dict,
) -> None:
    """Every scenario, both compression modes, our server then Kinto, on one shaped link; the
    figures go into ``out`` as they come (an error later keeps what was measured)."""
    link.shape(profile)
    out["qdiscs"] = link.qdiscs()
    info = servers.server_info
    kinds = ["fieldsync"] + (["kinto"] if servers.kinto else [])
    for n, kind in enumerate(kinds):
        upstream = servers.ports[kind]
        proxy = start_proxy(
            link, profile, upstream, 18000 + n, cleanup, logdir, f"proxy-{profile.name}-{kind}"
        )
        base = f"http://127.0.0.1:{18000 + n}" + ("" if kind == "fieldsync" else "/v1")
        common = {
            "kind": kind,
            "base_url": base,
            "interface": link.phone_if,
            "page_limit": info["page_limit"],
        }
        if kind == "fieldsync":
            common.update(username=PHONE, password=servers.app.password)
        else:
            common.update(username=servers.kinto.user, password=servers.kinto.password, bucket="bench")
        for mode in MODES:
            cfg = dict(
                common, compress=mode == "gzip", gzip_requests=info["gzip_requests"] and kind == "fieldsync"
            )
            log(f"{profile.name} / {kind} / {mode}: first sync")
            res: dict = {}
            out.setdefault(kind, {})[mode] = res
            first = phone(link, dict(cfg, scenario="first_sync"))
            token, cursor = first.pop("token", None), first.pop("cursor", None)  # not for the report
            res["first_sync"] = first
            if "error" not in first:
                plan = DayPlan(servers.households, servers.commune, run_counter[0])
                run_counter[0] += 1
                servers.other_device_push(kind, plan)
                push = (
                    push_body(plan.phone, f"bench-phone-{profile.name}-{mode}")
                    if kind == "fieldsync"
                    else kinto_batch(plan.phone, "bench")
                )
                log(f"{profile.name} / {kind} / {mode}: a day's work")
                res["day"] = phone(
                    link,
                    dict(cfg, scenario="day", push=push, cursor=cursor, token=token),
                )
                res["day"].pop("cursor", None)
                res["day"]["expected"] = len(plan.phone) + len(plan.other)
            if kind == "fieldsync":
                log(f"{profile.name} / {kind} / {mode}: Collect's morning")
                project = f"{base}/v1/key/{servers.device_key}/projects/1"
                res["collect"] = phone(link, dict(cfg, scenario="collect", project_url=project))
        proxy.stop()
        out.setdefault("proxy_log", {})[kind] = proxy.tail_log(1)


# ---------------------------------------------------------------- results


def per_record(figures: dict) -> float | None:
    records = figures.get("records") or 0
    return round(figures["down_bytes"] / records, 1) if records and "down_bytes" in figures else None


def check_targets(results: dict) -> dict:
    """The issue's targets, judged on the edge profile with our server."""
    edge = results.get("profiles", {}).get("edge", {}).get("fieldsync")
    if not edge:
        return {"judged": False, "why": "no edge run of our server"}

    def fig(mode: str, scenario: str, sub: str | None = None) -> dict:
        part = edge.get(mode, {}).get(scenario, {})
        return part.get(sub, {}) if sub else part

    def verdict(value: float | None, limit: float, below: bool = True) -> dict:
        if value is None:
            return {"value": None, "target": limit, "verdict": "n/a"}
        ok = value < limit if below else value >= limit
        return {"value": value, "target": limit, "verdict": "MET" if ok else "MISSED"}

    none_pr = per_record(fig("none", "first_sync"))
    gzip_pr = per_record(fig("gzip", "first_sync"))
    ratio = round(none_pr / gzip_pr, 2) if none_pr and gzip_pr else None
    return {
        "first_sync_edge_gzip_s": verdict(
            fig("gzip", "first_sync").get("seconds"), TARGETS["first_sync_edge_gzip_s"]
        ),
        "first_sync_edge_none_s": verdict(
            fig("none", "first_sync").get("seconds"), TARGETS["first_sync_edge_gzip_s"]
        ),
        "day_edge_gzip_s": verdict(fig("gzip", "day").get("seconds"), TARGETS["day_edge_gzip_s"]),
        "collect_unchanged_edge_gzip_s": verdict(
            fig("gzip", "collect", "unchanged").get("seconds"), TARGETS["collect_unchanged_edge_gzip_s"]
        ),
        "bytes_per_record_ratio": verdict(ratio, TARGETS["bytes_per_record_ratio"], below=False),
    }


def rows(results: dict) -> list[list[str]]:
    """One row per profile, server, scenario and compression mode."""
    out = []
    for pname, prof in results.get("profiles", {}).items():
        for kind in ("fieldsync", "kinto"):
            for mode, scenarios in prof.get(kind, {}).items():
                parts = []
                for scenario, figs in scenarios.items():
                    if scenario == "collect" and "error" not in figs:
                        parts += [
                            ("collect changed", figs["changed"]),
                            ("collect unchanged", figs["unchanged"]),
                        ]
                        continue
                    parts.append((scenario.replace("_", " "), figs))
                for label, f in parts:
                    if "error" in f:
                        out.append([pname, kind, label, mode, "error: " + f["error"][:80]])
                        continue
                    out.append([
                        pname, kind, label, mode, f"{f['seconds']:.2f}",
                        f"{f['down_bytes']:,}", f"{f['up_bytes']:,}",
                        str(f["requests"]), str(f["connections"]), str(f.get("records", "")),
                        str(per_record(f) or ""), str(f.get("compressed_answers", "")),
                    ])  # fmt: skip
    return out


def render(results: dict) -> str:
    header = ["profile", "server", "scenario", "compr.", "wall s", "down B", "up B", "requests", "conns",
              "records", "B/record", "gzip answers"]  # fmt: skip
    table = [header, *rows(results)]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    info = results.get("server", {})
    lines.append("")
    lines.append(
        "server: front {front}, page limit {page_limit}, gzip answers {gzip_responses}, "
        "gzip pushes {gzip_requests}, pull says remaining {pull_has_remaining}".format(
            **{
                k: info.get(k)
                for k in ("front", "page_limit", "gzip_responses", "gzip_requests", "pull_has_remaining")
            }
        )  # fmt: skip
    )
    lines.append("targets (edge, our server):")
    for name, t in results.get("targets", {}).items():
        if isinstance(t, dict):
            lines.append(f"  {name}: {t['value']} (target {t['target']}) {t['verdict']}")
    return "\n".join(lines)


def render_markdown(results: dict) -> str:
    """The figures as the README's table (``--markdown FILE`` renders a saved JSON line)."""
    lines = [
        "| profile | server | scenario | compression | wall s | down B | up B | requests + connections "
        "| records | B/record |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows(results):
        if len(r) < 12:
            lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | | | | | |")
            continue
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} | {r[7]} + {r[8]} "
                     f"| {r[9]} | {r[10]} |")  # fmt: skip
    lines.append("")
    for name, t in results.get("targets", {}).items():
        if isinstance(t, dict):
            lines.append(f"- `{name}`: {t['value']} (target {t['target']}): **{t['verdict']}**")
    return "\n".join(lines)


def find_errors(tree: object, path: str = "") -> list[str]:
    if isinstance(tree, dict):
        if isinstance(tree.get("error"), str):
            return [f"{path}: {tree['error'][:200]}"]
        return [e for k, v in tree.items() for e in find_errors(v, f"{path}/{k}")]
    return []


class SteadyCleanup(Cleanup):
    """A :class:`Cleanup` that a second Ctrl-C or SIGTERM cannot cut short: while it runs, both
    are ignored, so the namespace is always deleted and every server stopped."""

    def run(self) -> None:
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            super().run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(render_markdown(json.loads(Path(args.markdown).read_text(encoding="utf-8"))))
        return 0
    if args.smoke:
        args.skip_kinto = True
    households = args.households or (SMOKE_HOUSEHOLDS if args.smoke else FULL_HOUSEHOLDS)
    chosen = args.profile or ("3g" if args.smoke else "all")
    profiles = list(PROFILES.values()) if chosen == "all" else [PROFILES[chosen]]
    runs = len(profiles) * len(MODES) * (1 if args.skip_kinto else 2)
    if households < runs * PER_RUN + 1:
        print(f"bench.network: --households must be at least {runs * PER_RUN + 1} for {runs} runs "
              f"(each edits {PER_RUN} households no other run touches)", file=sys.stderr)  # fmt: skip
        return 2
    try:
        check_root()
    except RootRequired as exc:
        print(f"bench.network: skipped: {exc}.", file=sys.stderr)
        print(json.dumps({"skipped": str(exc)}))
        return 0
    install_signal_handlers()
    results: dict = {
        "meta": {
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in os.getloadavg()],
            "households": households,
            "smoke": args.smoke,
            "db": args.db,
            "profiles": {p.name: vars(p) for p in profiles},
        }
    }
    from bench.run import git_commit

    results["meta"]["commit"] = git_commit()
    if os.environ.get("BENCH_APP_DIR"):  # the app measured is another checkout: say which
        head = subprocess.run(
            ["git", "-C", os.environ["BENCH_APP_DIR"], "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        )
        results["meta"]["app_commit"] = head.stdout.strip() or "unknown"
    interrupted = False
    with SteadyCleanup() as cleanup:
        try:
            stale = remove_stale()
            if stale:
                log(f"removed namespaces left by a killed run: {stale}")
            link = Link().open()
            cleanup.add(f"namespace {link.namespace}", link.close)
            logdir = Path(tempfile.mkdtemp(prefix="fs_bench_net_"))
            cleanup.add(f"folder {logdir}", lambda: subprocess.run(["rm", "-rf", str(logdir)], check=False))
            servers = Servers(args, link, cleanup, households)
            results["server"] = dict(servers.server_info, front=servers.front_kind)
            results["meta"]["records"] = len(servers.records)
            counter = [0]
            results["profiles"] = {}
            for profile in profiles:
                results["profiles"][profile.name] = {}
                run_profile(
                    profile, servers, link, cleanup, logdir, counter, results["profiles"][profile.name]
                )
        except KeyboardInterrupt:
            interrupted = True
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
            log("interrupted: stopping servers, removing the namespace")
        except Exception as exc:  # noqa: BLE001 - a broken harness is reported, then cleaned up
            results["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            log(f"failed: {results['error']}")
    results["targets"] = check_targets(results)
    results["meta"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["meta"]["interrupted"] = interrupted
    print(render(results))
    line = json.dumps(results, ensure_ascii=False, default=str)
    if args.out:
        Path(args.out).write_text(line + "\n", encoding="utf-8")
    print(line)
    if interrupted:
        return 1
    errors = find_errors(results)
    if args.strict and errors:
        log(f"--strict: {len(errors)} part(s) failed, e.g. {errors[0]}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
