"""Benchmark: secbase's email and DNS checks against checkdmarc, over N generated lab towns on loopback.

    .venv/bin/python bench/email_dns.py [--towns 500] [--timeout 2] [--checkdmarc-python PATH]

One run builds the bulk lab (secbase.lab.bulk), serves it from a separate process (so the server never
shares a GIL with the tool being measured), then runs, each in its own child process:

1. secbase: run_scan over every town with every email.* and dns.* check; wall time of run_scan, the DNS
   queries its probe sent (outcome.stats), the (name, type) questions it asked twice (must be 0) and the
   child's peak RSS (ru_maxrss, which includes the interpreter and imports; the RSS before the scan is
   printed beside it);
2. checkdmarc: its library call `check_domains(domains, nameservers=[lab resolver], timeout=...)`, sequential
   as it is, MX TLS/STARTTLS probing off (check_mx_tls=False, its default in 6.x); the lab server counts
   the queries it really received.

The lab server's reply cache and query counter are reset before each tool runs. Every child refuses to
send a packet outside 127.0.0.0/8. Targets (from the issue) are printed as met or missed; the exit code
is 0 either way (2 when checkdmarc cannot be imported): a benchmark reports, it does not assert.

checkdmarc 6.x needs cryptography>=50 and secbase pins cryptography<47, so checkdmarc lives in its own
venv (see bench/README.md); --checkdmarc-python or $CHECKDMARC_PYTHON points at that interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench._common, in this venv or checkdmarc's

from bench._common import (
    LabProcess,
    answer_commands,
    date,
    fmt_counts,
    loopback_only,
    machine,
    no_pin,
    pin,
    python_prints,
    revision,
    run_child,
)

TARGET_RATIO = 10.0
TARGET_WALL_S = 12.0  # for 500 towns on a 2-core machine
TARGET_TOWNS = 500
TARGET_PEAK_MB = 300.0
INSTALL_HINT = (
    "checkdmarc is not importable: pip install checkdmarc to run the comparison.\n"
    "checkdmarc 6.x needs cryptography>=50 while secbase pins cryptography<47, so give it its own venv:\n"
    "  python3 -m venv .bench-venv && .bench-venv/bin/pip install checkdmarc==6.0.4\n"
    "and run: .venv/bin/python bench/email_dns.py --checkdmarc-python .bench-venv/bin/python"
)


# -- shared by every process ----------------------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# -- the lab server process -----------------------------------------------------------------------------


def _delayed_server(delay_s: float) -> Any:
    """A LabDnsServer whose every reply leaves `delay_s` after its question came (UDP and TCP alike)."""
    import queue
    import threading

    from secbase.lab.dns import UDP_BATCH, LabDnsServer

    class DelayedLabDnsServer(LabDnsServer):
        """Like a recursive resolver that must ask further: the lab itself answers at once."""

        _due: queue.SimpleQueue[tuple[float, socket.socket, bytes, Any]]

        def start(self) -> None:
            self._due = queue.SimpleQueue()
            threading.Thread(target=self._send_due, name="lab-dns-delay", daemon=True).start()
            super().start()

        def _send_due(self) -> None:
            while True:  # the delay is constant, so the queue is already in order of due time
                due, sock, reply, peer = self._due.get()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                with contextlib.suppress(OSError):  # stopped meanwhile, or a full buffer: UDP may lose it
                    sock.sendto(reply, peer)

        def _on_udp(self, sock: socket.socket) -> None:
            for _ in range(UDP_BATCH):
                try:
                    wire, peer = sock.recvfrom(65535)
                except OSError:
                    return
                reply = self._handle(wire, tcp=False)
                if reply is not None:
                    self._due.put((time.monotonic() + delay_s, sock, reply, peer))

        def _handle(self, wire: bytes, *, tcp: bool) -> bytes | None:
            reply = super()._handle(wire, tcp=tcp)
            if tcp:
                time.sleep(delay_s)  # each TCP connection has its own thread
            return reply

    return DelayedLabDnsServer


def serve(spec_path: Path) -> int:
    """Serve the zone text until told to quit; a line protocol on stdin/stdout: reset, cpu, dump, quit."""
    from secbase.lab.dns import LabDnsServer

    pin(1)
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    delay_s = spec.get("latency_ms", 0) / 1000
    server_class = _delayed_server(delay_s) if delay_s > 0 else LabDnsServer
    t0 = time.perf_counter()
    server = server_class(
        spec["zone_text"], addresses=spec["addresses"], drop=spec["drop"], servfail=spec["servfail"]
    )
    server.start()

    def reset() -> str:
        server.reset_queries()
        server._cache.clear()  # each tool starts with a cold server, as the first did
        return "ok"

    try:
        answer_commands(
            {"parse_s": time.perf_counter() - t0},
            {"reset": reset, "dump": lambda: json.dumps([[n, t, c] for (n, t), c in server.queries.items()])},
        )
    finally:
        server.stop()
    return 0


class DnsLab(LabProcess):
    """The lab server in a child process."""

    def __init__(self, spec_path: Path) -> None:
        super().__init__(__file__, spec_path)
        self.parse_s = float(self.ready["parse_s"])

    def reset(self) -> None:
        self.send("reset")

    def queries(self) -> Counter[tuple[str, str]]:
        return Counter({(n, t): c for n, t, c in json.loads(self.send("dump"))})


# -- the secbase scan process ---------------------------------------------------------------------------


def scan_worker(spec_path: Path, out_path: Path) -> int:
    """Run secbase's scan over the config in the spec; write wall time, stats and peak RSS to out_path."""
    loopback_only()
    pin(0)
    from secbase.config import Config
    from secbase.plugins import load_checks
    from secbase.scan import run_scan

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    config = Config.model_validate(spec["config"])
    checks = load_checks().select(["email.*", "dns.*"])
    before_mb = _peak_mb()
    profile_path = spec.get("profile")
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if profile_path:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        outcome = profiler.runcall(run_scan, config, checks)
        wall = time.perf_counter() - t0
        profiler.dump_stats(f"{profile_path}.pstats")  # for pstats' print_callers
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
        stats.print_stats(25)
        stats.sort_stats("tottime").print_stats(25)
        Path(profile_path).write_text(text.getvalue(), encoding="utf-8")
    else:
        outcome = run_scan(config, checks)
        wall = time.perf_counter() - t0
    statuses = Counter(r.status.value for r in outcome.results)
    why_error: Counter[str] = Counter()
    for r in outcome.results:
        if r.status.value == "error":
            kinds = (
                ("did not answer", "timeout"),
                ("SERVFAIL", "SERVFAIL"),
                ("refused", "refused"),
                ("; see email.", "nothing to judge"),  # a record another check found missing or broken
            )
            why_error[next((k for w, k in kinds if w in r.summary), "other")] += 1
    covered = {r.target for r in outcome.results}
    out = {
        "wall_s": wall,
        "dns_queries": outcome.stats.get("dns_queries", 0),
        "dns_repeated": outcome.stats.get("dns_repeated", 0),
        "results": len(outcome.results),
        "statuses": dict(statuses),
        "errors": dict(why_error),
        "domains_with_results": len(covered),
        "checks": len(checks),
        "rss_before_mb": before_mb,
        "peak_mb": _peak_mb(),
        "cpu_s": time.process_time() - cpu0,
    }
    out_path.write_text(json.dumps(out), encoding="utf-8")
    return 0


# -- the checkdmarc process (runs in checkdmarc's own venv: standard library and checkdmarc only) ---------


def checkdmarc_worker(spec_path: Path, out_path: Path) -> int:
    """Run checkdmarc's check_domains over the domains in the spec, as its users do."""
    loopback_only()
    pin(0)
    import logging

    import checkdmarc  # type: ignore[import-not-found]  # lives in its own venv

    logging.getLogger("checkdmarc").setLevel(logging.CRITICAL)  # it logs a warning per unsigned zone
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    domains: list[str] = spec["domains"]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    results = checkdmarc.check_domains(
        domains,
        nameservers=[spec["resolver"]],
        timeout=spec["timeout"],
        check_mx_tls=False,  # no TLS/STARTTLS probing of MX hosts (6.x: opt-in; skip_tls is deprecated)
    )
    wall = time.perf_counter() - t0
    listed = results if isinstance(results, list) else [results]
    out = {
        "wall_s": wall,
        "version": checkdmarc.__version__,
        "domains": len(listed),
        "spf_valid": sum(1 for r in listed if r.get("spf", {}).get("valid")),
        "dmarc_valid": sum(1 for r in listed if r.get("dmarc", {}).get("valid")),
        "dnssec_true": sum(1 for r in listed if r.get("dnssec") is True),
        "mx_hosts": sum(len(r.get("mx", {}).get("hosts", [])) for r in listed),
        "peak_mb": _peak_mb(),
        "cpu_s": time.process_time() - cpu0,
    }
    out_path.write_text(json.dumps(out), encoding="utf-8")
    return 0


# -- the driver ---------------------------------------------------------------------------------------


def _repeats(queries: Counter[tuple[str, str]]) -> tuple[int, Counter[str]]:
    """How many questions were asked again, and of which record types."""
    by_type: Counter[str] = Counter()
    for (_, rdtype), count in queries.items():
        if count > 1:
            by_type[rdtype] += count - 1
    return sum(by_type.values()), by_type


def _spread(lab: Any, k: int) -> list[str]:
    """k of the lab's domains, evenly spread, keeping the share of towns whose DNS times out or fails."""
    broken = set(lab.drop) | set(lab.servfail)
    bad = [t.domain for t in lab.towns if {t.domain, f"_dmarc.{t.apex}"} & broken]
    good = [t.domain for t in lab.towns if t.domain not in bad]
    k_bad = min(len(bad), round(k * len(bad) / len(lab.towns)))
    chosen: list[str] = []
    for pool, m in ((bad, k_bad), (good, k - k_bad)):
        chosen += [pool[int(i * len(pool) / m)] for i in range(m)] if m else []
    return chosen


def _fmt_types(by_type: Counter[str]) -> str:
    return ", ".join(f"{t} {n}" for t, n in by_type.most_common()) or "none"


def main(args: argparse.Namespace) -> int:
    if args.no_pin:
        no_pin()
    version = python_prints(args.checkdmarc_python, "import checkdmarc; print(checkdmarc.__version__)")
    if version is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    from datetime import UTC, datetime

    from secbase.lab.bulk import build_bulk

    n = args.towns
    out: dict[str, Any] = {
        "date": date(),
        "towns": n,
        "timeout_s": args.timeout,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": machine(),
    }
    out["latency_ms"] = args.latency_ms
    out["secbase_revision"] = revision()
    latency = f", every lab reply delayed {args.latency_ms:g} ms" if args.latency_ms else ""
    print(
        f"email/DNS benchmark: {n} towns, timeout {args.timeout:g} s{latency}, {out['machine']}, "
        f"Python {out['python']}, secbase {out['secbase_revision']}"
    )

    t0 = time.perf_counter()
    lab = build_bulk(n, now=datetime.now(UTC), net=args.net, seed=args.seed)
    out["build_s"] = time.perf_counter() - t0
    lines = lab.zone_text.count("\n")
    print(
        f"lab: built in {out['build_s']:.2f} s: {lines} zone lines, {lab.signed} DNSSEC-signed town zones, "
        f"{len(lab.addresses)} addresses on 127.{args.net}.x, {len(lab.drop)} names that time out, "
        f"{len(lab.servfail)} that answer SERVFAIL"
    )

    with tempfile.TemporaryDirectory(prefix="secbase-bench-") as tmp:
        work = Path(tmp)
        server_spec = work / "server.json"
        server_spec.write_text(
            json.dumps(
                {
                    "zone_text": lab.zone_text,
                    "addresses": lab.addresses,
                    "drop": lab.drop,
                    "servfail": lab.servfail,
                    "latency_ms": args.latency_ms,
                }
            ),
            encoding="utf-8",
        )
        with DnsLab(server_spec) as server:
            out["server_parse_s"] = server.parse_s
            print(f"lab server: pid {server.proc.pid}, zones parsed in {server.parse_s:.2f} s")

            # secbase
            config = lab.config(
                timeout_s=args.timeout, concurrency=args.concurrency, per_server=args.per_server
            )
            scan_spec, scan_out = work / "scan.json", work / "scan-out.json"
            scan_spec.write_text(json.dumps({"config": config, "profile": args.profile}), encoding="utf-8")
            server.reset()
            server_cpu0 = server.cpu_s()
            print(
                f"secbase: scanning (concurrency {args.concurrency}, per_server {args.per_server})...",
                flush=True,
            )
            run_child(
                [sys.executable, __file__, "--scan-worker", str(scan_spec), str(scan_out)], "secbase scan"
            )
            sec = json.loads(scan_out.read_text(encoding="utf-8"))
            sec["server_cpu_s"] = server.cpu_s() - server_cpu0
            sec_lab = server.queries()
            sec["lab_received"] = sum(sec_lab.values())
            sec["lab_repeated"], sec_types = _repeats(sec_lab)
            out["secbase"] = sec

            # checkdmarc, on every town or on an evenly spread subset
            subset = args.checkdmarc_towns if 0 < args.checkdmarc_towns < n else n
            domains = _spread(lab, subset)
            cd_spec, cd_out = work / "cd.json", work / "cd-out.json"
            cd_spec.write_text(
                json.dumps({"domains": domains, "resolver": lab.resolver, "timeout": args.timeout}),
                encoding="utf-8",
            )
            server.reset()
            server_cpu0 = server.cpu_s()
            print(f"checkdmarc {version}: checking {subset} of {n} towns, sequentially...", flush=True)
            run_child(
                [args.checkdmarc_python, __file__, "--checkdmarc-worker", str(cd_spec), str(cd_out)],
                "checkdmarc",
            )
            cd = json.loads(cd_out.read_text(encoding="utf-8"))
            cd["server_cpu_s"] = server.cpu_s() - server_cpu0
            cd_lab = server.queries()
            cd["towns_checked"] = subset
            cd["lab_received"] = sum(cd_lab.values())
            cd["lab_repeated"], cd_types = _repeats(cd_lab)
            cd["wall_s_all_towns"] = cd["wall_s"] * n / subset
            out["checkdmarc"] = cd

    ratio = cd["wall_s_all_towns"] / sec["wall_s"]
    out["ratio"] = ratio
    target_wall = TARGET_WALL_S * n / TARGET_TOWNS
    extrapolated = "" if subset == n else f" (measured {cd['wall_s']:.1f} s on {subset} towns, scaled to {n})"
    print()
    print(f"secbase    wall {sec['wall_s']:8.2f} s   {sec['dns_queries'] / n:6.1f} queries/town sent", end="")
    print(f" (lab received {sec['lab_received'] / n:.1f})   repeated (name, type): {sec['dns_repeated']}")
    print(
        f"checkdmarc wall {cd['wall_s_all_towns']:8.2f} s   {cd['lab_received'] / subset:6.1f} queries/town"
        f" received by the lab   asked more than once: {cd['lab_repeated']}{extrapolated}"
    )
    print(f"ratio (checkdmarc / secbase): {ratio:.1f}x")
    print(
        f"secbase peak RSS {sec['peak_mb']:.0f} MB (child process ru_maxrss; {sec['rss_before_mb']:.0f} MB "
        f"before the scan: interpreter, imports, config); checkdmarc peak RSS {cd['peak_mb']:.0f} MB"
    )
    print(
        f"secbase: {sec['results']} results from {sec['checks']} checks on {sec['domains_with_results']} of {n} "
        f"domains: {fmt_counts(sec['statuses'])} (errors: {fmt_counts(sec['errors'])})"
    )
    print(
        f"lab-side repeats during secbase: {sec['lab_repeated']} ({_fmt_types(sec_types)}): the lab counts "
        "(name, type) whatever address it came to, so a zone's SOA asked of the resolver and of each name "
        "server counts; the rest are UDP resends"
    )
    print(
        f"CPU seconds: secbase {sec['cpu_s']:.1f} (lab server {sec['server_cpu_s']:.1f} meanwhile); "
        f"checkdmarc {cd['cpu_s']:.1f} (lab server {cd['server_cpu_s']:.1f} meanwhile)"
    )
    print(f"lab-side repeats during checkdmarc: {cd['lab_repeated']} ({_fmt_types(cd_types)})")
    print(
        f"checkdmarc found: SPF valid {cd['spf_valid']}, DMARC valid {cd['dmarc_valid']}, "
        f"DNSSEC true {cd['dnssec_true']}, {cd['mx_hosts']} MX hosts, over {cd['domains']} domains"
    )
    targets = [
        (f"secbase >= {TARGET_RATIO:g}x faster than checkdmarc", ratio >= TARGET_RATIO, f"{ratio:.1f}x"),
        (
            f"secbase <= {target_wall:g} s for {n} towns ({TARGET_WALL_S:g} s per {TARGET_TOWNS})",
            sec["wall_s"] <= target_wall,
            f"{sec['wall_s']:.2f} s",
        ),
        ("no (name, type) asked twice by secbase", sec["dns_repeated"] == 0, str(sec["dns_repeated"])),
        (
            f"secbase peak memory < {TARGET_PEAK_MB:g} MB",
            sec["peak_mb"] < TARGET_PEAK_MB,
            f"{sec['peak_mb']:.0f} MB",
        ),
    ]
    print("targets:")
    for label, ok, value in targets:
        print(f"  [{'met' if ok else 'MISSED'}] {label}: {value}")
    out["targets"] = {label: ok for label, ok, _ in targets}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--towns", type=int, default=TARGET_TOWNS, help="how many lab towns (default 500)")
    p.add_argument(
        "--timeout", type=float, default=2.0, help="DNS timeout in seconds, both tools (default 2)"
    )
    p.add_argument(
        "--net", type=int, default=56, help="serve on 127.NET.x.y (default 56; the tests use 53 and 55)"
    )
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="delay every lab reply this long, like a resolver that must ask further (default 0: loopback)",
    )
    p.add_argument("--seed", type=int, default=1, help="the bulk lab's seed (default 1)")
    p.add_argument("--concurrency", type=int, default=64, help="secbase scan.concurrency (default 64)")
    p.add_argument(
        "--per-server",
        type=int,
        default=64,
        help="secbase scan.per_server (default 64, not 16: all the towns share a few lab name servers)",
    )
    p.add_argument(
        "--checkdmarc-python",
        default=os.environ.get("CHECKDMARC_PYTHON", sys.executable),
        help="the interpreter that can import checkdmarc (default $CHECKDMARC_PYTHON, else this one)",
    )
    p.add_argument(
        "--checkdmarc-towns",
        type=int,
        default=0,
        help="run checkdmarc on this many evenly spread towns and scale its time to all (default: all)",
    )
    p.add_argument(
        "--profile",
        metavar="PATH",
        help="run secbase's scan under cProfile; top 25 entries to PATH, raw stats to PATH.pstats",
    )
    p.add_argument(
        "--no-pin", action="store_true", help="do not pin the server and the tool to separate CPUs"
    )
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    p.add_argument("--serve", metavar="SPEC", help=argparse.SUPPRESS)
    p.add_argument("--scan-worker", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--checkdmarc-worker", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    return p


def _entry(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.serve:
        return serve(Path(args.serve))
    if args.scan_worker:
        return scan_worker(Path(args.scan_worker[0]), Path(args.scan_worker[1]))
    if args.checkdmarc_worker:
        return checkdmarc_worker(Path(args.checkdmarc_worker[0]), Path(args.checkdmarc_worker[1]))
    if not 1 <= args.towns <= 9999:
        print("--towns must be from 1 to 9999", file=sys.stderr)
        return 2
    return main(args)


if __name__ == "__main__":
    sys.exit(_entry())
