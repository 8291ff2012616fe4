"""Port facts: TCP connect scans of declared hosts' addresses with nmap (python-nmap), batched per round.

Polite on purpose: a connect scan (`-sT`, no raw packets, no root), no host discovery (`-Pn`), no reverse
DNS of nmap's own (`-n`: every name was resolved through the scan's resolvers before it got here), a rate
limit per scanned host and a host time-out. Keys asked for together (one gathering round: every host of
every organisation) are scanned in as few nmap runs as the bound on hosts per run allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import queue
import re
import shutil
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import nmap

from secbase.facts import (
    FactKey,
    Facts,
    PortsAnswer,
    PortsOutcome,
    PortState,
    parse_port_ranges,
    port_ranges,
)
from secbase.parse import clip, one_line
from secbase.probes import FactSource, Limiter

log = logging.getLogger(__name__)

# Connection attempts a second towards one scanned host; nmap's --max-rate is this times the hosts of a
# run. Politeness that matters is per remote host: 1,000 a second puts the 34 default ports of one host
# within 34 ms at the fastest, where nmap's own connect scan has no bound at all (its congestion control
# and parallelism decide). Measured on loopback (bench/ports.py, 50 hosts x 34 ports, one pinned CPU):
# plain `nmap -sT -Pn -n` 0.127 s; with --max-rate 15,000 (300 a host) 0.182 s, the rate being the floor
# (1,700 attempts / 15,000 = 0.113 s, plus nmap's start); with --max-rate 50,000 (1,000 a host) 0.128 s,
# no longer a floor. --max-parallelism 64 instead of a rate cost as little (0.129 s) but bounds nothing
# per host, so the rate is kept.
RATE_PER_HOST = 1000
# Addresses in one nmap run: a bigger round is cut into several runs. One nmap run scans its hosts side by
# side (--min-hostgroup), so one run of 200 is cheaper than four of 64 (each its own process, its own
# start, fighting for the same CPU); the bound is there for very large portfolios only.
MAX_HOSTS_PER_RUN = 256
MAX_RUNS = 4  # nmap runs at the same time
# When a batch runs. The scan's first round (the checks' first questions, before any fact is known) is
# asked in one turn of the event loop: every host declared by address. Its batch runs as soon as a turn
# passes without a new key (a fixed wait here was 26 ms of the benchmark's 0.3 s). Keys asked for later
# (hosts declared by name, each when its DNS answers are in) cannot be told complete from inside the
# probe: they wait COLLECT_S after the last key, so that one round stays one run. Measured on the lab
# (bench/ports.py --names): 50 names' keys come in two waves up to 8 ms apart; a 10 ms window split the
# round into two nmap runs (32 and 18 hosts) in 4 scans of 15 on a loaded machine, so 20 ms stays. 200
# names' waves are up to 45 ms apart, which no short window spans: telling a round complete for sure
# needs the scan to say that no other fact is still in flight...
COLLECT_S = 0.02
MAX_WAIT_S = 0.5  # ...and no batch waits longer than this after its first key
HOST_BUDGET = 10  # a host's time-out: this many scan time-outs, plus the time its ports take at the rate
RUN_SLACK_S = 30.0  # on top of the host time-out, before a whole nmap run is given up
REASON_CHARS = 300

# python-nmap's PortScanner runs `nmap -V` when made (14 ms on the benchmark's CPU): scanners are kept for
# the life of the process, per nmap program, and lent to one scan at a time.
_SCANNERS: dict[str, queue.SimpleQueue[_Scanner]] = {}
_MAKING = threading.Lock()  # one `nmap -V` at a time: a scan waits for the warm-up rather than repeat it


class _Scanner(nmap.PortScanner):  # type: ignore[misc]  # python-nmap has no type hints
    """python-nmap's scanner (it finds nmap, checks its version, runs it, bounds its time, sorts its error
    lines from its warnings), reading nmap's XML once, for the probe.

    python-nmap's own reading builds a dictionary of eight fields for every port nmap lists, and leaves out
    what the probe needs most: the ports nmap folds into `extraports` (every closed port, on most hosts)
    and the hosts it gave up on (`timedout`). The probe then parsed the same XML a second time. Here the
    parsed tree is kept for read_scan instead, and python-nmap's result has its run's figures only.
    """

    root: ET.Element | None = None  # the last run's XML, parsed
    errors: tuple[str, ...] = ()  # the last run's error lines from nmap (not its warnings)

    def analyse_nmap_xml_scan(
        self,
        nmap_xml_output: bytes | str | None = None,
        nmap_err: str = "",
        nmap_err_keep_trace: list[str] | str = "",
        nmap_warn_keep_trace: list[str] | str = "",
    ) -> dict[str, Any]:
        if nmap_xml_output is not None:
            self._nmap_last_output = nmap_xml_output
        self.root, self.errors = None, _error_lines(nmap_err_keep_trace)
        try:
            root = ET.fromstring(self._nmap_last_output)
        except ET.ParseError:  # as python-nmap: no XML at all, so nmap failed; say what it said
            raise nmap.PortScannerError(nmap_err or self._nmap_last_output) from None
        self.root = root
        finished = root.find("runstats/finished")
        scaninfo: dict[str, Any] = {"error": list(self.errors)} if self.errors else {}
        if nmap_warn_keep_trace:
            scaninfo["warning"] = list(nmap_warn_keep_trace)
        self._scan_result = {
            "nmap": {
                "command_line": root.get("args"),
                "scaninfo": scaninfo,
                "scanstats": {"elapsed": finished.get("elapsed") if finished is not None else None},
            },
            "scan": {},  # read_scan reads the hosts from the tree
        }
        return self._scan_result


def _error_lines(trace: Iterable[str] | str) -> tuple[str, ...]:
    """nmap's error lines, each once, in order, from what python-nmap kept of its stderr.

    python-nmap keeps the whole of stderr once for every line of it that is not a warning, so one text
    comes several times, warnings and all: it is cut into lines here, warnings left out (python-nmap hands
    them over apart), and each line kept once. A text on its own (python-nmap's default is "") is one
    text, never a run of characters.
    """
    texts = (trace,) if isinstance(trace, str) else trace
    lines = (line.strip() for text in texts for line in str(text).splitlines())
    return tuple(dict.fromkeys(line for line in lines if line and not _WARNING.match(line)))


_WARNING = re.compile("warning: ", re.IGNORECASE)  # as python-nmap tells a warning line from an error line


def _borrow_scanner(path: str) -> _Scanner:
    """A scanner for the nmap at `path`, made if none is free; nmap.PortScannerError if it does not start."""
    pool = _SCANNERS.setdefault(path, queue.SimpleQueue())
    with contextlib.suppress(queue.Empty):  # none free: make one below
        return pool.get_nowait()
    with _MAKING:
        try:
            return pool.get_nowait()  # the warm-up made one while this thread waited
        except queue.Empty:
            return _Scanner(nmap_search_path=(path,))


def _have_scanner() -> bool:
    """Whether a scanner of the nmap on the PATH is free (or there is no nmap to make one of)."""
    path = shutil.which("nmap")
    return path is None or not _SCANNERS.get(path, queue.SimpleQueue()).empty()


def _return_scanner(path: str, scanner: _Scanner) -> None:
    _SCANNERS.setdefault(path, queue.SimpleQueue()).put(scanner)


@dataclass
class _Batch:
    """Keys of one round with the same ports and address family, waiting for their nmap run."""

    ports: tuple[int, ...]
    ipv6: bool
    started: float
    waiters: dict[str, list[asyncio.Future[PortsAnswer]]] = field(default_factory=dict)
    keys: int = 0  # keys joined so far
    turns: int = 0  # turns of the event loop in which keys joined, as counted by the settling callbacks
    settle: asyncio.Handle | None = None
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

    async def fetch(self, key: FactKey, facts: FactSource | None = None) -> PortsAnswer:
        """The fact for a ports(address, ports) key, from the nmap run of the batch it joins."""
        address = _canonical(key.args[0])
        ports = parse_port_ranges(key.args[1])
        loop = asyncio.get_running_loop()
        ipv6 = ":" in address
        batch = self._open.get((ports, ipv6))
        if batch is None:
            batch = self._open[(ports, ipv6)] = _Batch(ports, ipv6, loop.time())
            batch.timer = loop.call_later(self.max_wait_s, self._start, batch)
            if isinstance(facts, Facts) and len(facts) == 0:  # the scan's first round: one burst
                batch.settle = loop.call_soon(self._settle, batch, 0)
            if not self._warming and not _have_scanner():
                # python-nmap runs `nmap -V` to make a scanner: done while the batch collects its keys
                self._warming = True
                self._keep(loop.create_task(asyncio.to_thread(self._warm_up)))
        waiter: asyncio.Future[PortsAnswer] = loop.create_future()
        batch.waiters.setdefault(address, []).append(waiter)
        batch.keys += 1
        if len(batch.waiters) >= self.max_hosts_per_run:
            self._start(batch)
        elif batch.settle is None:  # a straggler: wait a little for the rest, up to the batch's bound
            if batch.timer is not None:
                batch.timer.cancel()
            delay = min(self.collect_s, max(0.0, batch.started + self.max_wait_s - loop.time()))
            batch.timer = loop.call_later(delay, self._start, batch)
        return await waiter

    def _settle(self, batch: _Batch, keys_before: int) -> None:
        """Called once a turn of the event loop while keys of the first round keep joining a batch.

        A turn in which keys joined schedules the next call; the first turn without one ends the chain.
        If every key came in one turn, the round was one burst and is complete: the batch runs now.
        Otherwise the keys trickle in after all, and the time window takes over from here. The chain never
        outlives the keys: it keeps the loop busy only while they keep coming.
        """
        if self._open.get((batch.ports, batch.ipv6)) is not batch:
            return  # started already (full, or its bound ran out)
        if batch.keys != keys_before:
            batch.turns += 1
            batch.settle = asyncio.get_running_loop().call_soon(self._settle, batch, batch.keys)
            return
        batch.settle = None
        if batch.turns == 1:
            self._start(batch)
            return
        loop = asyncio.get_running_loop()  # the time window, from now: the chain saw the last key
        if batch.timer is not None:
            batch.timer.cancel()
        delay = min(self.collect_s, max(0.0, batch.started + self.max_wait_s - loop.time()))
        batch.timer = loop.call_later(delay, self._start, batch)

    def _start(self, batch: _Batch) -> None:
        if self._open.get((batch.ports, batch.ipv6)) is not batch:
            return
        del self._open[(batch.ports, batch.ipv6)]
        for handle in (batch.timer, batch.settle):
            if handle is not None:
                handle.cancel()
        batch.timer = batch.settle = None
        self._keep(asyncio.get_running_loop().create_task(self._run(batch)))

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)  # the loop holds tasks weakly: a batch's run must not vanish mid-way
        task.add_done_callback(self._tasks.discard)

    def _warm_up(self) -> None:
        """Have a scanner ready ahead of the first run; a missing nmap is left for the run to report."""
        try:
            path = shutil.which("nmap")
            if path is not None:
                _return_scanner(path, _borrow_scanner(path))
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
        wanted = [_canonical(a) for a in addresses]

        def every(outcome: PortsOutcome, reason: str) -> dict[str, PortsAnswer]:
            return {a: PortsAnswer(a, ports, outcome, reason=reason) for a in wanted}

        path = shutil.which("nmap")
        if path is None:
            return every(
                PortsOutcome.NMAP_MISSING, "nmap is not installed here; install nmap (apt-get install nmap)"
            )
        try:
            scanner = _borrow_scanner(path)
        except nmap.PortScannerError as exc:
            log.warning("nmap at %s does not start: %s", path, exc)
            return every(
                PortsOutcome.NMAP_MISSING,
                f"{path} does not answer like nmap ({_plain(str(exc))}); install nmap (apt-get install nmap)",
            )
        run_timeout = self.host_timeout(len(ports)) + RUN_SLACK_S
        try:
            scanner.scan(
                hosts=" ".join(wanted),
                ports=port_ranges(ports),
                arguments=self.arguments(len(wanted), len(ports), ipv6=ipv6),
                timeout=run_timeout,
            )
            root, errors = scanner.root, scanner.errors
        except nmap.PortScannerTimeout:
            return every(PortsOutcome.TIMEOUT, f"nmap did not finish within {run_timeout:g} s")
        except nmap.PortScannerError as exc:
            log.warning("nmap failed on %s: %s", " ".join(wanted), exc)
            return every(PortsOutcome.ERROR, f"nmap failed: {_plain(str(exc))}")
        finally:
            _return_scanner(path, scanner)
        if root is None:  # cannot happen: scan() returns only once the XML is read
            return every(PortsOutcome.ERROR, "nmap's output was not read")
        return read_scan(root, wanted, ports, host_timeout_s=self.host_timeout(len(ports)), errors=errors)


def read_scan(
    xml: bytes | str | ET.Element,
    addresses: Iterable[str],
    ports: tuple[int, ...],
    *,
    host_timeout_s: float,
    errors: Iterable[str] = (),
) -> dict[str, PortsAnswer]:
    """Each address's answer from nmap's XML (text, or the tree the scanner parsed) and its error lines.

    nmap lists ports one by one, but folds 26 or more ports of one state into an `extraports` element
    (naming them in `extrareasons`), and marks a host it gave up on with `timedout`: all three are read.
    """
    hosts = _read_xml(xml)
    nmap_errors = " ".join(_error_lines(errors))
    out: dict[str, PortsAnswer] = {}
    for address in addresses:
        host = hosts.get(address)
        if host is not None and host.timed_out:
            out[address] = PortsAnswer(
                address,
                ports,
                PortsOutcome.TIMEOUT,
                reason=f"the port scan of {address} did not finish within the host time-out of {host_timeout_s:g} s",
            )
            continue
        if host is None:
            why = f": {_plain(nmap_errors)}" if nmap_errors else ""
            out[address] = PortsAnswer(
                address, ports, PortsOutcome.ERROR, reason=f"nmap said nothing about {address}{why}"
            )
            continue
        if host.status is not None:  # down, or any word but up: nmap read no port of it
            why = f": {_plain(host.status_reason)}" if host.status_reason else ""
            out[address] = PortsAnswer(
                address,
                ports,
                PortsOutcome.ERROR,
                reason=f"nmap reports the host as {_word(host.status)}{why} (at {address})",
            )
            continue
        # A port's word: nmap's own line for it, else the folded ports' state, else the state of the rest.
        if host.rest is not None:
            words = dict.fromkeys(ports, host.rest)
            words.update(host.words)
        else:
            words = host.words
        states = [(p, s) for p in ports if (s := _STATES.get(words.get(p, ""))) is not None]
        if len(states) < len(ports):
            out[address] = PortsAnswer(
                address,
                ports,
                PortsOutcome.ERROR,
                states=tuple(states),
                reason=_unknown_reason(address, ports, words),
            )
        else:
            out[address] = PortsAnswer(address, ports, PortsOutcome.OK, states=tuple(states))
    return out


def _unknown_reason(address: str, ports: tuple[int, ...], words: dict[int, str]) -> str:
    """Why some ports have no state: no word from nmap, or a word that is none of the three states."""
    missing: list[int] = []
    odd: dict[str, list[int]] = {}  # word -> its ports, in order
    for p in ports:
        word = words.get(p, "")
        if not word:
            missing.append(p)
        elif word not in _STATES:
            odd.setdefault(word, []).append(p)
    parts = [f"no state for port {port_ranges(missing)}"] if missing else []
    parts += [f"the state '{_word(w)}' for port {port_ranges(ps)}" for w, ps in odd.items()]
    reason = f"nmap gave {' and '.join(parts)} at {address}"
    if odd:  # open|filtered, closed|filtered, unfiltered...: whether something answers is not known
        reason += "; only open, closed or filtered tells whether something answers"
    return clip(reason, REASON_CHARS)


@dataclass
class _Host:
    """What nmap's XML says about one address."""

    words: dict[int, str]  # port -> nmap's word for it: listed, or folded and named
    rest: str | None  # the state of every port neither listed nor named, if nmap says (before 7.80)
    timed_out: bool
    status: str | None = None  # the host's state when nmap says it is not up (down, ...), else None
    status_reason: str = ""  # nmap's reason for it (no-response, ...), if it gives one


def _read_xml(xml: bytes | str | ET.Element) -> dict[str, _Host]:
    if isinstance(xml, ET.Element):
        root = xml
    else:
        try:
            root = ET.fromstring(xml)
        except ET.ParseError:
            return {}  # nothing to read: every address is one nmap said nothing about
    out: dict[str, _Host] = {}
    for host in root.iterfind("host"):
        addr = next(
            (a.get("addr") for a in host.iterfind("address") if a.get("addrtype") in ("ipv4", "ipv6")), None
        )
        if addr is None:
            continue
        folded: dict[int, str] = {}
        listed: dict[int, str] = {}
        extras = []
        for item in host.iterfind("ports/*"):
            # An empty word is no word: the port is left to the next source, or to "no state", an error.
            if item.tag == "port":
                line = item.find("state")
                if item.get("protocol") == "tcp" and line is not None and (word := line.get("state")):
                    listed[int(item.get("portid", "0"))] = word
            elif item.tag == "extraports":
                extras.append(item)
                if word := item.get("state"):
                    for reasons in item.iterfind("extrareasons"):
                        folded.update(dict.fromkeys(parse_port_ranges(reasons.get("ports") or ""), word))
        rest = None
        if len(extras) == 1 and not any(r.get("ports") for r in extras[0].iterfind("extrareasons")):
            rest = extras[0].get("state") or None  # nmap before 7.80 does not name folded ports
        folded.update(listed)  # a port's own line wins over a folded list
        found = _Host(folded, rest, host.get("timedout") == "true")
        # A host nmap says is down (or anything but up) has no port states: an error, never "nothing
        # answers". No status line, or an empty word, leaves the host to its ports.
        status = host.find("status")
        if status is not None and (state := status.get("state")) and state != "up":
            found.status, found.status_reason = state, status.get("reason") or ""
        out[_canonical(addr)] = found
    return out


# nmap's words for a port that say what they mean: a connection made (open), refused (closed), or no answer
# at all (filtered). Every other word is no state, an error: open|filtered and closed|filtered leave open
# whether anything answers, unfiltered (reachable, open or closed not known) too, and a word nmap adds
# later is not known here.
_STATES = {"open": PortState.OPEN, "closed": PortState.CLOSED, "filtered": PortState.FILTERED}


def _word(word: str) -> str:
    return one_line(word, 40)


@lru_cache(maxsize=65536)  # every address is written out several times on its way through a scan
def _canonical(address: str) -> str:
    return str(ipaddress.ip_address(address))


def _plain(text: str) -> str:
    return one_line(text, REASON_CHARS)
