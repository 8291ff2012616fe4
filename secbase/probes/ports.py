"""Port facts: TCP connect scans of declared hosts' addresses with nmap (python-nmap), batched per round.

Polite on purpose: a connect scan (`-sT`, no raw packets, no root), no host discovery (`-Pn`), no reverse
DNS of nmap's own (`-n`: every name was resolved through the scan's resolvers before it got here), a rate
limit per scanned host and a host time-out. Keys asked for together (one gathering round: every host of
every organisation) are scanned in as few nmap runs as the bound on hosts per run allows.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import queue
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import nmap

from secbase.facts import FactKey, PortsAnswer, PortsOutcome, PortState, parse_port_ranges, port_ranges
from secbase.parse import UNSAFE_CHARS, clip
from secbase.probes import FactSource, Limiter

log = logging.getLogger(__name__)

RATE_PER_HOST = 300  # connection attempts a second towards one scanned host (nmap --max-rate, scaled)
MAX_HOSTS_PER_RUN = 64  # addresses in one nmap run: a bigger round is cut into several runs
MAX_RUNS = 4  # nmap runs at the same time
COLLECT_S = 0.02  # a batch waits this long after its last key for more keys of the same round...
MAX_WAIT_S = 0.5  # ...but no longer than this after its first
HOST_BUDGET = 10  # a host's time-out: this many scan time-outs, plus the time its ports take at the rate
RUN_SLACK_S = 30.0  # on top of the host time-out, before a whole nmap run is given up
REASON_CHARS = 300


@dataclass
class _Batch:
    """Keys of one round with the same ports and address family, waiting for their nmap run."""

    ports: tuple[int, ...]
    ipv6: bool
    started: float
    waiters: dict[str, list[asyncio.Future[PortsAnswer]]] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None


class PortsProbe:
    """Answers ports(address, ports): the state of each port at one address, from a TCP connect scan."""

    kinds: tuple[str, ...] = ("ports",)

    def __init__(
        self,
        *,
        timeout_s: float,
        limiter: Limiter,
        rate_per_host: int = RATE_PER_HOST,
        max_hosts_per_run: int = MAX_HOSTS_PER_RUN,
        max_runs: int = MAX_RUNS,
        collect_s: float = COLLECT_S,
        max_wait_s: float = MAX_WAIT_S,
        host_timeout_s: float | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.limiter = limiter
        self.rate_per_host = rate_per_host
        self.max_hosts_per_run = max_hosts_per_run
        self.collect_s = collect_s
        self.max_wait_s = max_wait_s
        self.host_timeout_s = host_timeout_s  # None: from the scan's time-out and the number of ports
        self.runs: list[tuple[str, ...]] = []  # the addresses of each nmap run, in order (stats, tests)
        self._runs = asyncio.Semaphore(max_runs)
        self._open: dict[tuple[tuple[int, ...], bool], _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._warming = False
        self._scanners: queue.SimpleQueue[nmap.PortScanner] = queue.SimpleQueue()  # one per thread at a time

    async def fetch(self, key: FactKey, facts: FactSource | None = None) -> PortsAnswer:
        """The fact for a ports(address, ports) key, from the nmap run of the batch it joins."""
        address = str(ipaddress.ip_address(key.args[0]))
        ports = parse_port_ranges(key.args[1])
        loop = asyncio.get_running_loop()
        ipv6 = ":" in address
        batch = self._open.get((ports, ipv6))
        if batch is None:
            batch = self._open[(ports, ipv6)] = _Batch(ports, ipv6, loop.time())
            if not self._warming and self._scanners.empty():
                # python-nmap runs `nmap -V` to start a scanner: done while the batch collects its keys
                self._warming = True
                self._keep(loop.create_task(asyncio.to_thread(self._warm_up)))
        waiter: asyncio.Future[PortsAnswer] = loop.create_future()
        batch.waiters.setdefault(address, []).append(waiter)
        if batch.timer is not None:
            batch.timer.cancel()
        if len(batch.waiters) >= self.max_hosts_per_run:
            self._start(batch)
        else:  # wait a little for the rest of the round; each new key restarts the wait, up to a bound
            delay = min(self.collect_s, max(0.0, batch.started + self.max_wait_s - loop.time()))
            batch.timer = loop.call_later(delay, self._start, batch)
        return await waiter

    def _start(self, batch: _Batch) -> None:
        if self._open.get((batch.ports, batch.ipv6)) is batch:
            del self._open[(batch.ports, batch.ipv6)]
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None
        self._keep(asyncio.get_running_loop().create_task(self._run(batch)))

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)  # the loop holds tasks weakly: a batch's run must not vanish mid-way
        task.add_done_callback(self._tasks.discard)

    def _warm_up(self) -> None:
        """Start one scanner ahead of the first run; a missing nmap is left for the run to report."""
        try:
            path = shutil.which("nmap")
            if path is not None:
                self._scanners.put(nmap.PortScanner(nmap_search_path=(path,)))
        except nmap.PortScannerError as exc:  # the run finds out again, and says so in every fact
            log.debug("nmap does not start yet: %s", exc)
        finally:
            self._warming = False

    async def _run(self, batch: _Batch) -> None:
        addresses = tuple(batch.waiters)
        try:
            async with self._runs, self.limiter.slot(None):
                self.runs.append(addresses)
                answers = await asyncio.to_thread(self.scan, addresses, batch.ports, ipv6=batch.ipv6)
        except BaseException as exc:  # our bug or a cancelled scan: every waiter hears of it, none hangs
            for waiters in batch.waiters.values():
                for w in waiters:
                    if w.done():
                        continue
                    if isinstance(exc, Exception):
                        w.set_exception(exc)  # the fact store turns it into a ProbeFailure per key
                    else:
                        w.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for address, waiters in batch.waiters.items():
            for w in waiters:
                if not w.done():
                    w.set_result(answers[address])

    def host_timeout(self, ports: int) -> float:
        """Seconds nmap may spend on one host: the scan's time-outs plus the time its ports take at the rate."""
        if self.host_timeout_s is not None:
            return self.host_timeout_s
        return HOST_BUDGET * self.timeout_s + 2 * ports / self.rate_per_host

    def arguments(self, hosts: int, ports: int, *, ipv6: bool = False) -> str:
        """nmap's options for one run over `hosts` addresses and `ports` ports each.

        All hosts of a run are scanned side by side (--min-hostgroup), so the run takes about one host's
        time; the rate bound grows with them, so each host still sees at most `rate_per_host` a second.
        """
        host_timeout_ms = max(1, math.ceil(self.host_timeout(ports) * 1000))
        args = [
            "-sT",  # a full TCP connect: no raw packets, nothing half-open left on the town's firewall
            "-Pn",  # no host discovery: a declared host is scanned even if it ignores ping
            "-n",  # no reverse DNS: nmap would ask the system's resolver, not the scan's
            f"--max-rate {self.rate_per_host * hosts}",
            f"--host-timeout {host_timeout_ms}ms",
            f"--min-hostgroup {hosts}",
        ]
        if ipv6:
            args.append("-6")  # nmap scans one address family per run
        return " ".join(args)

    def scan(
        self, addresses: Iterable[str], ports: tuple[int, ...], *, ipv6: bool = False
    ) -> dict[str, PortsAnswer]:
        """One nmap run over `addresses` (all of one family); blocking, so it runs in a worker thread.

        Returns an answer for every address; nmap missing, failing or overrunning is an answer too.
        """
        wanted = [str(ipaddress.ip_address(a)) for a in addresses]

        def every(outcome: PortsOutcome, reason: str) -> dict[str, PortsAnswer]:
            return {a: PortsAnswer(a, ports, outcome, reason=reason) for a in wanted}

        path = shutil.which("nmap")
        if path is None:
            return every(
                PortsOutcome.NMAP_MISSING, "nmap is not installed here; install nmap (apt-get install nmap)"
            )
        try:
            scanner = self._scanners.get_nowait()
        except queue.Empty:
            try:
                scanner = nmap.PortScanner(nmap_search_path=(path,))
            except nmap.PortScannerError as exc:
                log.warning("nmap at %s does not start: %s", path, exc)
                return every(
                    PortsOutcome.NMAP_MISSING,
                    f"{path} does not answer like nmap ({_plain(str(exc))}); install nmap (apt-get install nmap)",
                )
        run_timeout = self.host_timeout(len(ports)) + RUN_SLACK_S
        try:
            result = scanner.scan(
                hosts=" ".join(wanted),
                ports=port_ranges(ports),
                arguments=self.arguments(len(wanted), len(ports), ipv6=ipv6),
                timeout=run_timeout,
            )
            xml = scanner.get_nmap_last_output()
        except nmap.PortScannerTimeout:
            return every(PortsOutcome.TIMEOUT, f"nmap did not finish within {run_timeout:g} s")
        except nmap.PortScannerError as exc:
            log.warning("nmap failed on %s: %s", " ".join(wanted), exc)
            return every(PortsOutcome.ERROR, f"nmap failed: {_plain(str(exc))}")
        finally:
            self._scanners.put(scanner)
        return read_scan(result, xml, wanted, ports, host_timeout_s=self.host_timeout(len(ports)))


def read_scan(
    result: Mapping[str, Any],
    xml: bytes | str,
    addresses: Iterable[str],
    ports: tuple[int, ...],
    *,
    host_timeout_s: float,
) -> dict[str, PortsAnswer]:
    """Each address's answer from python-nmap's result and nmap's XML.

    python-nmap lists the ports nmap lists one by one; nmap folds 26 or more ports of one state into an
    `extraports` element (with the ports named in `extrareasons`), and marks a host it gave up on with
    `timedout`: python-nmap drops both, so they are read from the XML it kept.
    """
    scanned = {str(ipaddress.ip_address(a)): h for a, h in dict(result.get("scan") or {}).items()}
    extra = _read_xml(xml)
    nmap_errors = " ".join(
        str(e).strip() for e in (result.get("nmap", {}).get("scaninfo", {}).get("error") or ())
    )
    out: dict[str, PortsAnswer] = {}
    for address in addresses:
        host = scanned.get(address)
        if address in extra.timed_out:
            out[address] = PortsAnswer(
                address,
                ports,
                PortsOutcome.TIMEOUT,
                reason=f"the port scan of {address} did not finish within the host time-out of {host_timeout_s:g} s",
            )
            continue
        if host is None and address not in extra.folded:
            why = f": {_plain(nmap_errors)}" if nmap_errors else ""
            out[address] = PortsAnswer(
                address, ports, PortsOutcome.ERROR, reason=f"nmap said nothing about {address}{why}"
            )
            continue
        listed = {
            int(p): str(info.get("state", "")) for p, info in dict((host or {}).get("tcp") or {}).items()
        }
        states: list[tuple[int, PortState]] = []
        missing = []
        for port in ports:
            raw = listed.get(port) or extra.folded.get(address, {}).get(port) or extra.rest.get(address)
            if raw is None:
                missing.append(port)
            else:
                states.append((port, _state(raw)))
        if missing:
            out[address] = PortsAnswer(
                address,
                ports,
                PortsOutcome.ERROR,
                states=tuple(states),
                reason=f"nmap gave no state for port {port_ranges(missing)} at {address}",
            )
        else:
            out[address] = PortsAnswer(address, ports, PortsOutcome.OK, states=tuple(states))
    return out


@dataclass
class _Xml:
    """What python-nmap leaves out of nmap's XML, per address."""

    folded: dict[str, dict[int, str]] = field(default_factory=dict)  # port -> state of the folded ports
    rest: dict[str, str] = field(default_factory=dict)  # the state of every unlisted port, if nmap says
    timed_out: set[str] = field(default_factory=set)


def _read_xml(xml: bytes | str) -> _Xml:
    out = _Xml()
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return out  # python-nmap has parsed it already, so this cannot happen; nothing more to read then
    for host in root.iter("host"):
        addr = next(
            (a.get("addr") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")), None
        )
        if addr is None:
            continue
        address = str(ipaddress.ip_address(addr))
        if host.get("timedout") == "true":
            out.timed_out.add(address)
        states = out.folded.setdefault(address, {})
        extras = host.findall("ports/extraports")
        for extra in extras:
            for reasons in extra.findall("extrareasons"):
                states.update(
                    dict.fromkeys(parse_port_ranges(reasons.get("ports") or ""), extra.get("state", ""))
                )
        if len(extras) == 1 and not any(r.get("ports") for r in extras[0].findall("extrareasons")):
            out.rest[address] = extras[0].get("state", "")  # nmap before 7.80 does not name folded ports
    return out


def _state(raw: str) -> PortState:
    """nmap's word for a port: a connect scan says open, closed or filtered; anything else is no connection."""
    if raw == "open":
        return PortState.OPEN
    if raw == "closed":
        return PortState.CLOSED
    return PortState.FILTERED


def _plain(text: str) -> str:
    return clip(UNSAFE_CHARS.sub(" ", text), REASON_CHARS)
