"""Benchmark: secbase's tls.* checks against the sslyze command line, over lab HTTPS and STARTTLS endpoints.

    .venv/bin/python bench/tls.py [--baseline-sample K] [--web 50] [--mx 50] [--timeout 3]

One run starts a lab on 127.48.x.x in two child processes (pinned to the second CPU): a private PKI, N_WEB
HTTPS sites and N_MX SMTP servers offering STARTTLS (each on its own address, under its own name, most
of them modern and a few with legacy protocols, CBC-only, no-forward-secrecy or NULL suites and flawed
certificates) and listeners that take a TCP connection and never say a word; and, in a process of its
own, a DNS server answering for all their names and MX records. Then, each in a child process pinned to
the first CPU:

1. secbase: `run_scan` with every tls.* check over the towns (one website and one mail domain each);
   wall time of run_scan, the TLS handshakes the probe made per endpoint (mean and max, for HTTPS and for
   STARTTLS), the TCP connections made to port 443 and 25, and whether every result is pass, warn or fail.
   The same child then scans, with tls.* as well, websites and mail domains whose addresses take the
   connection and never answer, and ones where nothing listens: each of those scans should cost about
   one time-out, whatever the number of endpoints.
2. the baseline: `python -m sslyze` with its default scan commands (no command flags; that is
   Mozilla's "intermediate" check and every scan it needs) and `--certinfo_ca_file` set to the lab's
   root, run once per endpoint, one after another: `HOST:443{IP}` for websites and
   `--starttls smtp HOST:25{IP}` for mail servers. Each run is timed from the outside, interpreter
   start included, as a user would time it. `--baseline-sample K` runs K of each kind (spread over the
   kinds of server in proportion) and scales the per-endpoint mean up to all of them, saying so.

Every child refuses to connect or send anywhere outside 127.0.0.0/8 and counts its TCP connections.
Targets (from the issue) are printed as met or missed; the exit code is 0 either way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for bench._common

from bench._common import (
    LabProcess,
    answer_commands,
    capture_probes,
    date,
    fmt_counts,
    load,
    loopback_only,
    machine,
    no_pin,
    pin,
    python_prints,
    revision,
    run_child,
)

TARGET_RATIO = 20.0
TARGET_HANDSHAKES = 20  # per endpoint, at most, by default
TARGET_SILENT_TIMEOUTS = 2.0  # "about one time-out": anything below two means they overlapped
TARGET_REFUSED_TIMEOUTS = 1.0  # a refusal must not be waited out: well under one time-out
N_DEFAULT = 50
ISSUE_SSLYZE = "about 1.3 s per HTTPS endpoint and 6.5 s per STARTTLS endpoint, some 580 connections each"

# Server settings (OpenSSL cipher strings for TLS 1.2 and below; server_context appends @SECLEVEL=0).
MODERN = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
CBC = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES:!AESCCM:!aNULL:!eNULL"  # TLS 1.0/1.1 can only use CBC
NO_FS = "ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA"  # RSA key exchange: RSA certificate
NULL = "ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA256"  # no encryption at all: RSA certificate
ANON = "ECDHE-ECDSA-AES128-GCM-SHA256:AECDH-AES128-SHA"  # anonymous ECDH: no certificate at all


@dataclass(frozen=True)
class Profile:
    """One kind of server in the lab's mix."""

    name: str
    count: int  # of N_DEFAULT; scaled when fewer or more endpoints are asked for
    min_version: str | None = None  # "TLSv1", "TLSv1_1"... (ssl.TLSVersion names); None: Python's TLS 1.2
    max_version: str | None = None
    ciphers: str = MODERN
    key_type: str = "ec"


WEB_PROFILES = (
    Profile("modern (TLS 1.2-1.3, ECDHE+AEAD)", 34),
    Profile("TLS 1.0-1.3, CBC suites", 5, min_version="TLSv1", ciphers=CBC),
    Profile("TLS 1.2 at most, RSA key exchange", 4, max_version="TLSv1_2", ciphers=NO_FS, key_type="rsa"),
    Profile("NULL suite", 3, ciphers=NULL, key_type="rsa"),
    Profile("anonymous ECDH suite", 2, max_version="TLSv1_2", ciphers=ANON),
    Profile("TLS 1.0-1.1 only", 2, min_version="TLSv1", max_version="TLSv1_1", ciphers=CBC),
)
MX_PROFILES = (
    Profile("modern (TLS 1.2-1.3, ECDHE+AEAD)", 40),
    Profile("TLS 1.0-1.3, CBC suites", 5, min_version="TLSv1", ciphers=CBC),
    Profile("NULL suite", 3, ciphers=NULL, key_type="rsa"),
    Profile("TLS 1.2 at most, RSA key exchange", 2, max_version="TLSv1_2", ciphers=NO_FS, key_type="rsa"),
)
# Certificate flaws dealt to a few modern endpoints (the rest get "good" ones): the tls.certificate.* plants.
CERT_FLAWS = ("expiring", "expired", "wrong_name", "self_signed", "missing_intermediate", "weak_key", "sha1")


@dataclass(frozen=True)
class Endpoint:
    """One lab server: a website on 443 or a mail server on 25 offering STARTTLS."""

    kind: str  # "https" or "smtp"
    host: str  # the name (SNI, certificate)
    address: str
    profile: str
    cert: str  # the planted certificate kind
    town: str  # townNN.test, the zone it lives in

    @property
    def port(self) -> int:
        return 443 if self.kind == "https" else 25


@dataclass(frozen=True)
class Plan:
    """The whole lab, computed the same way by the driver and the lab process."""

    net: int
    web: list[Endpoint]
    mx: list[Endpoint]
    silent: int

    @property
    def resolver(self) -> str:
        return f"127.{self.net}.0.1"

    def silent_web(self) -> list[tuple[str, str]]:
        return [(f"www{i:02d}.silent.test", f"127.{self.net}.200.{i}") for i in range(1, self.silent + 1)]

    def silent_mx(self) -> list[tuple[str, str]]:
        return [(f"mx{i:02d}.silent.test", f"127.{self.net}.202.{i}") for i in range(1, self.silent + 1)]

    def refused_web(self) -> list[tuple[str, str]]:
        return [(f"www{i:02d}.refused.test", f"127.{self.net}.201.{i}") for i in range(1, self.silent + 1)]

    def refused_mx(self) -> list[tuple[str, str]]:
        return [(f"mx{i:02d}.refused.test", f"127.{self.net}.203.{i}") for i in range(1, self.silent + 1)]


def _apportion(n: int, weights: list[int]) -> list[int]:
    """n split in proportion to the weights, by largest remainders (ties to the first)."""
    total = sum(weights)
    exact = [w * n / total for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: counts[i] - exact[i])[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _deal(profiles: tuple[Profile, ...], n: int) -> list[Profile]:
    """n profiles in the mix's proportions, interleaved so that any stretch of endpoints is mixed."""
    counts = _apportion(n, [p.count for p in profiles])
    # Spread each profile evenly over 0..n-1 (its k-th member at (k + 0.5) * n / count), then sort.
    placed = [((k + 0.5) * n / c, j, profiles[j]) for j, c in enumerate(counts) for k in range(c)]
    return [p for _, _, p in sorted(placed, key=lambda t: (t[0], t[1]))]


def make_plan(n_web: int, n_mx: int, n_silent: int, net: int) -> Plan:
    web: list[Endpoint] = []
    mx: list[Endpoint] = []
    for kind, n, profiles, octet, out in (
        ("https", n_web, WEB_PROFILES, 1, web),
        ("smtp", n_mx, MX_PROFILES, 2, mx),
    ):
        flaws = iter(CERT_FLAWS)
        modern = 0
        for i, profile in enumerate(_deal(profiles, n), start=1):
            cert = "good"
            if profile is profiles[0]:
                # Every fifth modern endpoint (from the third) gets a flawed certificate, while flaws last.
                modern += 1
                if modern % 5 == 3:
                    cert = next(flaws, "good")
            town = f"town{i:02d}.test"
            host = f"www.{town}" if kind == "https" else f"mx.{town}"
            out.append(Endpoint(kind, host, f"127.{net}.{octet}.{i}", profile.name, cert, town))
    return Plan(net, web, mx, n_silent)


def zone_text(plan: Plan) -> str:
    """Master-file text for every lab zone: the towns (A for www and mx, MX), silent.test and refused.test."""
    ttl = 300
    ns = "ns1.tlsbench.test."
    lines: list[str] = []

    def zone(origin: str, body: list[str]) -> None:
        lines.append(f"{origin}. {ttl} IN SOA {ns} hostmaster.{origin}. 2026112501 3600 600 86400 300")
        lines.append(f"{origin}. {ttl} IN NS {ns}")
        lines.extend(body)

    zone("tlsbench.test", [f"{ns} {ttl} IN A {plan.resolver}"])
    towns: dict[str, list[str]] = {}
    for ep in plan.web:
        towns.setdefault(ep.town, []).append(f"{ep.host}. {ttl} IN A {ep.address}")
    for ep in plan.mx:
        towns.setdefault(ep.town, []).append(f"{ep.town}. {ttl} IN MX 10 {ep.host}.")
        towns[ep.town].append(f"{ep.host}. {ttl} IN A {ep.address}")
    for town, body in towns.items():
        zone(town, body)
    for origin, web, mx in (
        ("silent.test", plan.silent_web(), plan.silent_mx()),
        ("refused.test", plan.refused_web(), plan.refused_mx()),
    ):
        body = [f"{host}. {ttl} IN A {ip}" for host, ip in web]
        for host, ip in mx:
            domain = "m" + host.removeprefix("mx")  # mx07.silent.test serves m07.silent.test
            body += [f"{domain}. {ttl} IN MX 10 {host}.", f"{host}. {ttl} IN A {ip}"]
        zone(origin, body)
    return "\n".join(lines) + "\n"


def configs(plan: Plan, ca_file: str, timeout: float, concurrency: int) -> dict[str, dict[str, Any]]:
    """The secbase configs: the towns, and the silent and refused websites and mail domains."""
    scan = {"resolvers": [plan.resolver], "timeout": timeout, "ca_file": ca_file, "concurrency": concurrency}
    orgs: list[dict[str, Any]] = []
    for i in range(1, max(len(plan.web), len(plan.mx)) + 1):
        town = f"town{i:02d}.test"
        org: dict[str, Any] = {"id": f"town{i:02d}", "name": f"Town {i:02d}"}
        if i <= len(plan.web):
            org["websites"] = [f"www.{town}"]
        if i <= len(plan.mx):
            org["domains"] = [town]
        orgs.append(org)

    def one(org: dict[str, Any]) -> dict[str, Any]:
        return {"version": 1, "scan": scan, "organisations": [org]}

    def domains(mx: list[tuple[str, str]]) -> list[str]:
        return ["m" + host.removeprefix("mx") for host, _ in mx]

    return {
        "towns": {"version": 1, "scan": scan, "organisations": orgs},
        "silent_web": one({"id": "silent", "name": "Silent", "websites": [h for h, _ in plan.silent_web()]}),
        "silent_mx": one({"id": "silent", "name": "Silent", "domains": domains(plan.silent_mx())}),
        "refused_web": one(
            {"id": "refused", "name": "Refused", "websites": [h for h, _ in plan.refused_web()]}
        ),
        "refused_mx": one({"id": "refused", "name": "Refused", "domains": domains(plan.refused_mx())}),
    }


# -- shared by every process ----------------------------------------------------------------------------

CONNECTIONS: Counter[tuple[str, int]] = Counter()  # TCP connections this process made, by (address, port)


def _plan_from(spec: dict[str, Any]) -> Plan:
    return make_plan(spec["web"], spec["mx"], spec["silent"], spec["net"])


# -- the lab process ------------------------------------------------------------------------------------


class SilentListeners:
    """Listeners that accept every TCP connection and never send a byte (a stuck server, a tarpit)."""

    def __init__(self, endpoints: list[tuple[str, int]]) -> None:
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._listeners: list[socket.socket] = []
        for address, port in endpoints:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(256)
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
            self._listeners.append(sock)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="lab-silent", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                with contextlib.suppress(OSError):
                    while True:
                        conn, _ = sock.accept()
                        with self._lock:
                            self.accepted += 1
                            self._held.append(conn)  # held open, never read or written

    def release(self) -> int:
        """Close the connections held so far; return how many were accepted since the last call."""
        with self._lock:
            held, self._held = self._held, []
            accepted, self.accepted = self.accepted, 0
        for conn in held:
            conn.close()
        return accepted

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self.release()
        for sock in self._listeners:
            sock.close()
        self._selector.close()


def serve(spec_path: Path) -> int:
    """Start the lab, print `ready {json}`, then answer a line protocol on stdin: cpu, silent, quit."""
    import ssl
    import warnings
    from datetime import UTC, datetime

    from secbase.lab.mail import LabMailServer
    from secbase.lab.pki import LabPki
    from secbase.lab.web import LabSite, LabWebServer

    pin(1)
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # ssl.TLSVersion.TLSv1 is planted
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    plan = _plan_from(spec)
    profiles = {p.name: p for p in (*WEB_PROFILES, *MX_PROFILES)}
    t0 = time.perf_counter()
    pki = LabPki(Path(spec["workdir"]) / "pki", now=datetime.now(UTC))

    def version(name: str | None) -> ssl.TLSVersion | None:
        return None if name is None else ssl.TLSVersion[name]

    def issue(ep: Endpoint) -> Any:
        profile = profiles[ep.profile]
        return pki.issue(f"{ep.kind}-{ep.host}", sans=[ep.host], kind=ep.cert, key_type=profile.key_type)  # type: ignore[arg-type]

    sites = [
        LabSite(
            ep.host,
            ep.address,
            issue(ep),
            http_behaviour="none",
            tls_min_version=version(profiles[ep.profile].min_version),
            tls_max_version=version(profiles[ep.profile].max_version),
            ciphers=profiles[ep.profile].ciphers,
        )
        for ep in plan.web
    ]
    mail = [
        LabMailServer(
            ep.host,
            ep.address,
            starttls=True,
            cert=issue(ep),
            tls_min_version=version(profiles[ep.profile].min_version),
            tls_max_version=version(profiles[ep.profile].max_version),
            ciphers=profiles[ep.profile].ciphers,
        )
        for ep in plan.mx
    ]
    pki_s = time.perf_counter() - t0
    web = LabWebServer(sites)
    silent = SilentListeners(
        [(ip, 443) for _, ip in plan.silent_web()] + [(ip, 25) for _, ip in plan.silent_mx()]
    )
    started: list[Any] = []
    try:
        servers: list[Any] = [web, *mail]
        for server in servers:
            server.start()
            started.append(server)
        ready = {"ca_file": str(pki.ca_pem_path), "pki_s": pki_s, "start_s": time.perf_counter() - t0}
        answer_commands(ready, {"silent": silent.release})
    finally:
        silent.stop()
        for server in reversed(started):
            server.stop()
    return 0


def serve_dns(spec_path: Path) -> int:
    """The lab's DNS server, in a process of its own, so that its answers never wait for the GIL behind the
    web and mail servers' handshake threads: whatever DNS trouble the scan has is then the scan's own."""
    from secbase.lab.dns import LabDnsServer

    pin(1)
    plan = _plan_from(json.loads(spec_path.read_text(encoding="utf-8")))
    t0 = time.perf_counter()
    server = LabDnsServer(zone_text(plan), addresses=[plan.resolver])
    server.start()
    try:
        answer_commands(
            {"start_s": time.perf_counter() - t0},
            {"queries": lambda: sum(server.queries.values())},
        )
    finally:
        server.stop()
    return 0


class TlsLab(LabProcess):
    """Part of the lab in a child process: `--serve` (web, mail, silent) or `--serve-dns`."""

    def __init__(self, spec_path: Path, role: str = "--serve") -> None:
        super().__init__(__file__, spec_path, role)

    def queries(self) -> int:
        """DNS queries the lab DNS server received so far (--serve-dns only)."""
        return int(self.send("queries"))

    def silent_accepted(self) -> int:
        """Connections the silent listeners took since the last call (and let go of them)."""
        return int(self.send("silent"))


# -- the secbase process --------------------------------------------------------------------------------


def scan_worker(spec_path: Path, out_path: Path) -> int:
    """Run secbase's tls.* checks over the towns, then over the silent and refused endpoints."""
    loopback_only(CONNECTIONS)
    pin(0)
    import secbase.scan as scan_module
    from secbase.config import Config
    from secbase.plugins import load_checks
    from secbase.probes.tls import TlsProbe

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    checks = load_checks().select(["tls.*"])
    captured = capture_probes()  # to read the TLS probe's handshakes per endpoint
    out: dict[str, Any] = {"checks": len(checks), "scans": {}}
    for name, raw in spec["configs"].items():
        config = Config.model_validate(raw)
        CONNECTIONS.clear()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        outcome = scan_module.run_scan(config, checks)
        wall = time.perf_counter() - t0
        probe = captured.get("tls")
        per_kind: dict[str, list[int]] = {"https": [], "smtp": []}
        if isinstance(probe, TlsProbe):
            for key, n in probe.handshakes.items():
                per_kind["smtp" if key.args[3] else "https"].append(n)
        statuses = Counter(r.status.value for r in outcome.results)
        errors = Counter(r.summary for r in outcome.results if r.status.value == "error")
        by_port: Counter[int] = Counter()
        for (_, port), n in CONNECTIONS.items():
            by_port[port] += n
        out["scans"][name] = {
            "wall_s": wall,
            "cpu_s": time.process_time() - cpu0,
            "stats": outcome.stats,
            "handshakes": per_kind,
            "results": len(outcome.results),
            "statuses": dict(statuses),
            "errors": errors.most_common(5),
            "connections": {str(p): n for p, n in sorted(by_port.items())},
        }
        if name == "towns":
            by_check: dict[str, Counter[str]] = {}
            for r in outcome.results:
                by_check.setdefault(r.check, Counter())[r.status.value] += 1
            out["by_check"] = {c: dict(v) for c, v in sorted(by_check.items())}
    out_path.write_text(json.dumps(out), encoding="utf-8")
    return 0


# -- the sslyze process ---------------------------------------------------------------------------------


def sslyze_worker(out_path: Path, argv: list[str]) -> int:
    """`python -m sslyze ARGV`, exactly, but refusing non-loopback traffic and counting connections."""
    import runpy

    loopback_only(CONNECTIONS)
    pin(0)
    sys.argv = ["sslyze", *argv]
    code: object = 0
    t0 = time.perf_counter()
    try:
        runpy.run_module("sslyze", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    wall = time.perf_counter() - t0
    out = {"inside_s": wall, "exit": code, "connections": sum(CONNECTIONS.values())}
    out_path.write_text(json.dumps(out), encoding="utf-8")
    return 0


def run_sslyze(ep: Endpoint, ca_file: str, work: Path) -> dict[str, Any]:
    """One sslyze command line on one endpoint, timed from the outside (interpreter start included)."""
    target = f"{ep.host}:{ep.port}{{{ep.address}}}"
    argv = [*(["--starttls", "smtp"] if ep.kind == "smtp" else []), "--certinfo_ca_file", ca_file, target]
    out_path = work / "sslyze-out.json"
    out_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--sslyze-worker", str(out_path), "--", *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    inside: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8")) if out_path.exists() else {}
    text = done.stdout
    if "OK - Compliant" in text or "FAILED - Not compliant" in text:
        state = "scanned"
    elif "ERROR - Scan did not run successfully" in text:
        state = "incomplete"
    else:
        state = "no connection"
    return {
        "host": ep.host,
        "kind": ep.kind,
        "profile": ep.profile,
        "wall_s": wall,
        "inside_s": inside.get("inside_s"),
        "connections": inside.get("connections"),
        "state": state,
        "command": f"python -m sslyze {' '.join(argv)}",
        "tail": text.strip().splitlines()[-3:] if state != "scanned" else [],
        "stderr": done.stderr.strip().splitlines()[-3:] if done.returncode else [],
    }


def _sample(endpoints: list[Endpoint], k: int | None) -> list[Endpoint]:
    """k endpoints: each kind of server in proportion to its share, spread evenly within it."""
    if k is None or k >= len(endpoints):
        return list(endpoints)
    groups: dict[str, list[Endpoint]] = {}
    for ep in endpoints:
        groups.setdefault(ep.profile, []).append(ep)
    chosen: list[Endpoint] = []
    for group, c in zip(groups.values(), _apportion(k, [len(g) for g in groups.values()]), strict=True):
        chosen += [group[int((j + 0.5) * len(group) / c)] for j in range(c)]
    return sorted(chosen, key=endpoints.index)


# -- the driver -----------------------------------------------------------------------------------------


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main(args: argparse.Namespace) -> int:
    if args.no_pin:
        no_pin()
    version = python_prints(sys.executable, "from sslyze.__version__ import __version__; print(__version__)")
    if version is None:
        print("sslyze is not importable in this interpreter: pip install -e . (it is a dependency)")
        return 2
    plan = make_plan(args.web, args.mx, args.silent, args.net)
    out: dict[str, Any] = {
        "date": date(),
        "machine": machine(),
        "python": platform.python_version(),
        "sslyze": version,
        "secbase_revision": revision(),
        "timeout_s": args.timeout,
        "web": len(plan.web),
        "mx": len(plan.mx),
        "load_before": load(),
    }
    print(
        f"TLS benchmark: {len(plan.web)} HTTPS + {len(plan.mx)} STARTTLS endpoints on 127.{args.net}.x, "
        f"timeout {args.timeout:g} s, {out['machine']}, Python {out['python']}, sslyze {version}, "
        f"secbase {out['secbase_revision']}; load average {out['load_before']} (another workload skews "
        "every figure)"
    )
    for label, profiles, eps in (
        ("websites", WEB_PROFILES, plan.web),
        ("mail servers", MX_PROFILES, plan.mx),
    ):
        mix = Counter(ep.profile for ep in eps)
        certs = Counter(ep.cert for ep in eps if ep.cert != "good")
        print(
            f"  {label}: "
            + "; ".join(f"{mix[p.name]} {p.name}" for p in profiles if mix[p.name])
            + f"; flawed certificates: {fmt_counts(dict(certs))}"
        )

    with tempfile.TemporaryDirectory(prefix="secbase-bench-tls-") as tmp:
        work = Path(tmp)
        lab_spec = work / "lab.json"
        lab_spec.write_text(
            json.dumps(
                {"workdir": tmp, "web": args.web, "mx": args.mx, "silent": args.silent, "net": args.net}
            ),
            encoding="utf-8",
        )
        print("lab: starting (PKI, web and mail servers, DNS, silent listeners)...", flush=True)
        with TlsLab(lab_spec, "--serve-dns") as dns_lab, TlsLab(lab_spec) as lab:
            ca_file = lab.ready["ca_file"]
            out["lab_start_s"] = lab.ready["start_s"]
            print(
                f"lab: ready in {lab.ready['start_s']:.1f} s (certificates {lab.ready['pki_s']:.1f} s), "
                f"pid {lab.proc.pid}; DNS at {plan.resolver}, pid {dns_lab.proc.pid}"
            )

            # secbase
            scan_spec, scan_out = work / "scan.json", work / "scan-out.json"
            scan_spec.write_text(
                json.dumps({"configs": configs(plan, ca_file, args.timeout, args.concurrency)}),
                encoding="utf-8",
            )
            cpu0, dns_cpu0, queries0 = lab.cpu_s(), dns_lab.cpu_s(), dns_lab.queries()
            lab.silent_accepted()
            print("secbase: scanning with tls.* (towns, then silent and refused endpoints)...", flush=True)
            run_child(
                [sys.executable, __file__, "--scan-worker", str(scan_spec), str(scan_out)], "secbase scan"
            )
            sec = json.loads(scan_out.read_text(encoding="utf-8"))
            sec["lab_cpu_s"] = lab.cpu_s() - cpu0
            sec["dns_cpu_s"] = dns_lab.cpu_s() - dns_cpu0
            sec["dns_received"] = dns_lab.queries() - queries0
            sec["silent_accepted"] = lab.silent_accepted()
            out["secbase"] = sec

            # sslyze, one endpoint after another
            runs: list[dict[str, Any]] = []
            chosen = {
                "https": _sample(plan.web, args.baseline_sample),
                "smtp": _sample(plan.mx, args.baseline_sample),
            }
            every = len(chosen["https"]) == len(plan.web) and len(chosen["smtp"]) == len(plan.mx)
            how = "every endpoint" if every else f"{args.baseline_sample} of each kind (then scaled up)"
            cpu0 = lab.cpu_s()
            for kind, eps in chosen.items():
                if not eps:
                    continue
                print(f"sslyze {version}: {how}, {kind}: {len(eps)} runs one after another...", flush=True)
                for ep in eps:
                    runs.append(run_sslyze(ep, ca_file, work))
                    r = runs[-1]
                    if args.verbose or r["state"] != "scanned":
                        print(
                            f"  {r['host']:<18} {r['wall_s']:6.2f} s  {r['connections']} connections  {r['state']}"
                        )
            out["sslyze_lab_cpu_s"] = lab.cpu_s() - cpu0
            out["sslyze_runs"] = runs

    out["load_after"] = load()
    report(out, plan, args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


def report(out: dict[str, Any], plan: Plan, args: argparse.Namespace) -> None:
    sec = out["secbase"]
    towns = sec["scans"]["towns"]
    timeout = args.timeout
    n_web, n_mx = len(plan.web), len(plan.mx)
    n = n_web + n_mx
    hs = towns["handshakes"]
    all_hs = hs["https"] + hs["smtp"]
    runs = out["sslyze_runs"]
    base: dict[str, dict[str, Any]] = {}
    for kind, total in (("https", n_web), ("smtp", n_mx)):
        mine = [r for r in runs if r["kind"] == kind]
        walls = [r["wall_s"] for r in mine]
        inside = [r["inside_s"] for r in mine if r["inside_s"] is not None]
        conns = [r["connections"] for r in mine if r["connections"] is not None]
        base[kind] = {
            "runs": len(mine),
            "endpoints": total,
            "mean_s": _mean(walls),
            "mean_inside_s": _mean(inside),
            "connections_mean": _mean(conns),
            "total_s": _mean(walls) * total,
            "measured_s": sum(walls),
            "states": dict(Counter(r["state"] for r in mine)),
        }
    base_total = base["https"]["total_s"] + base["smtp"]["total_s"]
    base_inside = base["https"]["mean_inside_s"] * n_web + base["smtp"]["mean_inside_s"] * n_mx
    extrapolated = base["https"]["runs"] < n_web or base["smtp"]["runs"] < n_mx
    measured = bool(runs)
    ratio = base_total / towns["wall_s"] if towns["wall_s"] and measured else 0.0
    out["baseline"] = base
    out["ratio"] = ratio
    conns = towns["connections"]

    print()
    print(f"secbase: {towns['results']} results from {sec['checks']} tls.* checks over {n} endpoints")
    print(f"  statuses: {fmt_counts(towns['statuses'])}")
    for check_id, counts in sec["by_check"].items():
        print(f"    {check_id:<26} {fmt_counts(counts)}")
    for summary, count in towns["errors"]:
        print(f"  error x{count}: {summary}")
    print(
        f"  TLS handshakes per endpoint: HTTPS mean {_mean(hs['https']):.1f} max {max(hs['https'], default=0)}; "
        f"STARTTLS mean {_mean(hs['smtp']):.1f} max {max(hs['smtp'], default=0)} "
        f"(stats: {towns['stats'].get('tls_handshakes', 0)} handshakes on {towns['stats'].get('tls_endpoints', 0)} "
        f"endpoints, max {towns['stats'].get('tls_handshakes_max', 0)})"
    )
    print(
        f"  TCP connections: port 443 {conns.get('443', 0)} ({conns.get('443', 0) / max(n_web, 1):.1f} per website), "
        f"port 25 {conns.get('25', 0)} ({conns.get('25', 0) / max(n_mx, 1):.1f} per mail server, "
        "the SMTP probe's own session included)"
    )
    print(
        f"  CPU seconds: secbase {towns['cpu_s']:.1f} for this scan; during all of secbase's scans (this one, "
        f"the silent and the refused ones) the web and mail servers {sec['lab_cpu_s']:.1f}, the DNS server "
        f"{sec['dns_cpu_s']:.1f} ({sec['dns_received']} queries received)"
    )
    print(
        f"sslyze (one command line per endpoint, {'extrapolated' if extrapolated else 'measured on every endpoint'}):"
    )
    for kind, label in (("https", "HTTPS"), ("smtp", "STARTTLS")):
        b = base[kind]
        if not b["runs"]:
            continue
        scaled = f", scaled to {b['endpoints']}" if b["runs"] < b["endpoints"] else ""
        print(
            f"  {label:<8} {b['runs']} runs: {b['mean_s']:.2f} s per endpoint ({b['mean_inside_s']:.2f} s of it "
            f"inside sslyze, the rest interpreter start), {b['connections_mean']:.0f} connections per endpoint; "
            f"{b['measured_s']:.1f} s measured{scaled}: {b['total_s']:.1f} s; {fmt_counts(b['states'])}"
        )
    print(f"  (the issue measured {ISSUE_SSLYZE})")

    print()
    conn_per = (conns.get("443", 0) + conns.get("25", 0)) / max(n, 1)
    rows = [
        (
            "secbase run_scan, tls.* checks",
            str(n),
            f"{towns['wall_s']:.2f} s",
            f"{towns['wall_s'] / n:.3f} s",
            f"{_mean(all_hs):.1f} / {max(all_hs, default=0)}",
            f"{conn_per:.1f}",
        )
    ]
    for kind, label in (("https", "HTTPS"), ("smtp", "STARTTLS")):
        b = base[kind]
        if b["runs"]:
            how = f"{b['runs']} run, scaled" if b["runs"] < b["endpoints"] else "all run"
            rows.append(
                (
                    f"sslyze CLI {label} ({how})",
                    str(b["endpoints"]),
                    f"{b['total_s']:.1f} s",
                    f"{b['mean_s']:.2f} s",
                    "(one per connection)",
                    f"{b['connections_mean']:.0f}",
                )
            )
    if measured:
        rows.append(
            (
                "sslyze CLI, all" + (" (EXTRAPOLATED)" if extrapolated else ""),
                str(n),
                f"{base_total:.1f} s",
                f"{base_total / n:.2f} s",
                "",
                "",
            )
        )
        rows.append(("  of it inside sslyze (no start-up)", "", f"{base_inside:.1f} s", "", "", ""))
    head = ("", "endpoints", "wall", "per endpoint", "handshakes mean/max", "connections/endpoint")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    for row in (head, *rows):
        print(
            row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)), sep="  "
        )
    if measured:
        print(f"ratio (sslyze / secbase): {ratio:.1f}x{' (EXTRAPOLATED baseline)' if extrapolated else ''}")
        inside_ratio = base_inside / towns["wall_s"] if towns["wall_s"] else 0.0
        print(f"ratio without sslyze's interpreter start-ups: {inside_ratio:.1f}x")
    else:
        print("ratio: not measured (--baseline-sample 0 runs no sslyze)")

    print()
    print(f"endpoints that never answer or refuse (timeout {timeout:g} s, each scan all at once):")
    silent_costs: list[float] = []
    for name, label in (
        ("silent_web", "silent websites (accept TCP, never answer)"),
        ("silent_mx", "silent mail servers (accept TCP, no banner)"),
        ("refused_web", "refused websites (nothing listens)"),
        ("refused_mx", "refused mail servers (nothing listens)"),
    ):
        s = sec["scans"][name]
        cost = s["wall_s"] / timeout
        if name.startswith("silent"):
            silent_costs.append(cost)
        print(
            f"  {plan.silent} {label:<44} {s['wall_s']:6.2f} s = {cost:4.2f} time-outs; "
            f"connections {sum(s['connections'].values())}; results: {fmt_counts(s['statuses'])}"
        )
        for summary, count in s["errors"][:1]:
            print(f"      e.g. x{count}: {summary}")
    refused_s = max(sec["scans"]["refused_web"]["wall_s"], sec["scans"]["refused_mx"]["wall_s"])
    print(f"  the silent listeners accepted {sec['silent_accepted']} connections in all")

    hs_max = max(all_hs, default=0)
    clean = set(towns["statuses"]) <= {"pass", "warn", "fail"}
    silent_worst = max(silent_costs, default=0.0)
    targets = [
        (
            f"secbase >= {TARGET_RATIO:g}x faster than the sslyze command line",
            ratio >= TARGET_RATIO if measured else None,
            f"{ratio:.1f}x" + (" (extrapolated)" if extrapolated else "") if measured else "sslyze not run",
        ),
        (
            f"<= {TARGET_HANDSHAKES} TLS handshakes per endpoint",
            hs_max <= TARGET_HANDSHAKES,
            f"max {hs_max}, mean {_mean(all_hs):.1f}",
        ),
        (
            f"{plan.silent} silent endpoints cost about one time-out (< {TARGET_SILENT_TIMEOUTS:g})",
            silent_worst < TARGET_SILENT_TIMEOUTS,
            f"{silent_worst:.2f} time-outs at worst",
        ),
        (
            f"{plan.silent} refused endpoints wait for no time-out (< {TARGET_REFUSED_TIMEOUTS:g})",
            refused_s / timeout < TARGET_REFUSED_TIMEOUTS,
            f"{refused_s:.2f} s = {refused_s / timeout:.2f} time-outs at worst",
        ),
        ("every result is pass, warn or fail (sanity)", clean, fmt_counts(towns["statuses"])),
    ]
    print()
    print(f"targets (load average before {out['load_before']}, after {out['load_after']}):")
    for label, ok, value in targets:
        print(f"  [{'not measured' if ok is None else 'met' if ok else 'MISSED'}] {label}: {value}")
    out["targets"] = {label: ok for label, ok, _ in targets}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--web", type=int, default=N_DEFAULT, help="HTTPS endpoints (default 50)")
    p.add_argument("--mx", type=int, default=N_DEFAULT, help="STARTTLS endpoints (default 50)")
    p.add_argument(
        "--silent", type=int, default=N_DEFAULT, help="silent and refused endpoints of each kind (default 50)"
    )
    p.add_argument(
        "--baseline-sample",
        type=int,
        default=None,
        metavar="K",
        help="run sslyze on K endpoints of each kind and scale up (default: all; 0: no baseline)",
    )
    p.add_argument("--timeout", type=float, default=3.0, help="secbase scan.timeout in seconds (default 3)")
    p.add_argument("--concurrency", type=int, default=64, help="secbase scan.concurrency (default 64)")
    p.add_argument("--net", type=int, default=48, help="serve on 127.NET.x.y (default 48)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the lab and the tool to separate CPUs")
    p.add_argument("--verbose", action="store_true", help="print every sslyze run")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    p.add_argument("--serve", metavar="SPEC", help=argparse.SUPPRESS)
    p.add_argument("--serve-dns", metavar="SPEC", help=argparse.SUPPRESS)
    p.add_argument("--scan-worker", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--sslyze-worker", metavar="OUT", help=argparse.SUPPRESS)
    return p


def _entry(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--sslyze-worker" in argv[:1] and "--" in argv:
        split = argv.index("--")
        return sslyze_worker(Path(argv[1]), argv[split + 1 :])
    args = _parser().parse_args(argv)
    if args.serve:
        return serve(Path(args.serve))
    if args.serve_dns:
        return serve_dns(Path(args.serve_dns))
    if args.scan_worker:
        return scan_worker(Path(args.scan_worker[0]), Path(args.scan_worker[1]))
    for name in ("web", "mx", "silent"):
        if not 1 <= getattr(args, name) <= 254:
            print(f"--{name} must be from 1 to 254", file=sys.stderr)
            return 2
    if args.baseline_sample is not None and args.baseline_sample < 0:
        print("--baseline-sample must be 0 or more", file=sys.stderr)
        return 2
    return main(args)


if __name__ == "__main__":
    sys.exit(_entry())
