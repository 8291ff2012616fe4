"""The ports probe against real listeners on loopback: open and closed ports, batching, nmap missing."""

from __future__ import annotations

import asyncio
import selectors
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from secbase_checks.net.service import scan_ports, service_risky, service_unexpected

from secbase.config import Config
from secbase.facts import (
    FactKey,
    Facts,
    PortsAnswer,
    PortsOutcome,
    PortState,
    dns_key,
    parse_port_ranges,
    port_ranges,
    ports_key,
)
from secbase.model import Status, Target, TargetKind
from secbase.plugins import CheckRegistry
from secbase.probes import Limiter
from secbase.probes.ports import PortsProbe, read_scan
from secbase.scan import run_scan
from tests.checks.factories import run

NET = "127.50.0."
LISTENING = {NET + "1": (3389, 8080), NET + "2": (5432,)}  # and nothing at all on .3 and .4
PORTS = (21, 22, 23, 3389, 5432, 8080)


class Listeners:
    """TCP listeners that accept each connection and close it, so that no backlog ever fills up."""

    def __init__(self, where: dict[str, tuple[int, ...]]) -> None:
        self._sel = selectors.DefaultSelector()
        self._socks = []
        for address, ports in where.items():
            for port in ports:
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((address, port))
                sock.listen(64)
                sock.setblocking(False)
                self._sel.register(sock, selectors.EVENT_READ)
                self._socks.append(sock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._sel.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    conn, _ = sock.accept()
                    conn.close()
                except BlockingIOError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self._socks:
            sock.close()
        self._sel.close()


@pytest.fixture(scope="module")
def listeners() -> Iterator[None]:
    running = Listeners(LISTENING)
    yield
    running.close()


def probe(**kw: object) -> PortsProbe:
    return PortsProbe(timeout_s=2, limiter=Limiter(total=8, per_server=2), **kw)  # type: ignore[arg-type]


def fetch_all(p: PortsProbe, addresses: Iterable[str], ports: Iterable[int] = PORTS) -> list[PortsAnswer]:
    async def main() -> list[PortsAnswer]:
        return await asyncio.gather(*(p.fetch(ports_key(a, ports)) for a in addresses))

    return asyncio.run(main())


# --- real scans ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_open_and_closed_ports_are_told_apart(listeners: None) -> None:
    one, two, nothing = fetch_all(probe(), [NET + "1", NET + "2", NET + "3"])
    assert one.outcome is PortsOutcome.OK and one.error is None
    assert one.open_ports == (3389, 8080)
    assert one.state(22) is PortState.CLOSED and one.state(3389) is PortState.OPEN
    assert two.open_ports == (5432,)
    assert nothing.open_ports == () and {s for _, s in nothing.states} == {PortState.CLOSED}
    assert [p for p, _ in one.states] == sorted(PORTS)
    assert one.state(9999) is None  # not scanned


@pytest.mark.slow
def test_ports_nmap_folds_into_extraports_still_get_a_state(listeners: None) -> None:
    # Over 25 closed ports nmap lists them in one <extraports>, which python-nmap drops.
    ports = (*range(1, 101), 3389)
    (answer,) = fetch_all(probe(), [NET + "1"], ports)
    assert answer.outcome is PortsOutcome.OK
    assert len(answer.states) == len(ports)
    assert answer.open_ports == (3389,)
    assert answer.state(50) is PortState.CLOSED


@pytest.mark.slow
def test_keys_asked_together_are_scanned_in_one_nmap_run(listeners: None) -> None:
    p = probe()
    answers = fetch_all(p, [NET + "1", NET + "2"])
    assert len(p.runs) == 1
    assert sorted(p.runs[0]) == [NET + "1", NET + "2"]
    assert [a.address for a in answers] == [NET + "1", NET + "2"]
    assert answers[0].open_ports == (3389, 8080) and answers[1].open_ports == (5432,)


@pytest.mark.slow
def test_a_round_larger_than_the_bound_is_cut_into_several_runs(listeners: None) -> None:
    p = probe(max_hosts_per_run=2)
    answers = fetch_all(p, [NET + str(i) for i in range(1, 6)])
    assert sorted(len(run) for run in p.runs) == [1, 2, 2]
    assert all(a.outcome is PortsOutcome.OK for a in answers)
    assert answers[0].open_ports == (3389, 8080)


@pytest.mark.slow
def test_different_port_lists_are_different_runs(listeners: None) -> None:
    p = probe()

    async def main() -> list[PortsAnswer]:
        return await asyncio.gather(
            p.fetch(ports_key(NET + "1", PORTS)), p.fetch(ports_key(NET + "1", (3389,)))
        )

    wide, narrow = asyncio.run(main())
    assert len(p.runs) == 2
    assert wide.open_ports == (3389, 8080) and narrow.open_ports == (3389,)
    assert narrow.ports == (3389,)


@pytest.mark.slow
def test_a_host_over_its_time_out_is_a_timeout_not_a_verdict(listeners: None) -> None:
    (answer,) = fetch_all(probe(host_timeout_s=0.001), [NET + "1"], range(1, 65536))
    assert answer.outcome is PortsOutcome.TIMEOUT
    assert answer.states == ()
    assert answer.error is not None and "host time-out" in answer.error


@pytest.mark.slow
def test_a_scan_of_declared_hosts_fails_risky_and_warns_unexpected_ports(
    listeners: None, registry: CheckRegistry
) -> None:
    config = Config.model_validate(
        {
            "version": 1,
            "scan": {"timeout": 2},
            "organisations": [
                {
                    "id": "alder",
                    "name": "Alder",
                    "hosts": [NET + "1", NET + "4"],
                    "expected_ports": {NET + "1": [8080]},
                }
            ],
        }
    )
    outcome = run_scan(config, registry.select(["net.*"]))
    by = {(r.check, r.target, r.subject): r for r in outcome.results}
    rdp = by[("net.service.risky", NET + "1", "3389/rdp")]
    assert rdp.status is Status.FAIL and rdp.severity == "critical"
    assert (
        by[("net.service.risky", NET + "1", "8080/web-admin")].status is Status.FAIL
    )  # declared: still high
    assert by[("net.service.risky", NET + "1", "22/ssh")].status is Status.PASS
    # A risky service's port is net.service.risky's alone: one problem, one finding.
    assert not {s for c, t, s in by if c == "net.service.unexpected" and s in ("3389/tcp", "8080/tcp")}
    assert by[("net.service.risky", NET + "1", "udp")].status is Status.ERROR
    quiet = [r for r in outcome.results if r.target == NET + "4" and r.subject != "udp"]
    assert quiet and {r.status for r in quiet} == {Status.PASS}


# --- nmap missing -------------------------------------------------------------------------------------


def test_nmap_missing_is_a_fact_for_every_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without nmap: no scan is even tried
    p = probe()
    answers = fetch_all(p, [NET + "1", NET + "2"])
    assert [a.outcome for a in answers] == [PortsOutcome.NMAP_MISSING] * 2
    assert all(a.error and "install nmap (apt-get install nmap)" in a.error for a in answers)
    assert len(p.runs) == 1  # still one batch


def test_a_program_called_nmap_that_is_not_nmap_counts_as_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "nmap"
    fake.write_text("#!/bin/sh\necho 'not a port scanner'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    (answer,) = fetch_all(probe(), [NET + "1"])
    assert answer.outcome is PortsOutcome.NMAP_MISSING
    assert answer.error is not None and "install nmap (apt-get install nmap)" in answer.error


# --- what nmap says, read -----------------------------------------------------------------------------

XML_HEAD = '<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap" version="7.93">'
RUNSTATS = '<runstats><finished elapsed="0.1" timestr="x"/><hosts up="1" down="0" total="1"/></runstats>'


def test_an_address_nmap_says_nothing_about_is_an_error() -> None:
    xml = XML_HEAD + RUNSTATS + "</nmaprun>"
    errors = ["Failed to resolve something\n"]  # nmap's error lines, as python-nmap sorts them out
    answers = read_scan(xml, [NET + "9"], (22,), host_timeout_s=30, errors=errors)
    answer = answers[NET + "9"]
    assert answer.outcome is PortsOutcome.ERROR
    assert answer.error is not None and "nmap said nothing about 127.50.0.9" in answer.error
    assert "Failed to resolve" in answer.error


def test_an_older_nmap_that_does_not_name_folded_ports_gives_them_the_folded_state() -> None:
    host = (
        f'<host><status state="up"/><address addr="{NET}9" addrtype="ipv4"/>'
        '<ports><extraports state="filtered" count="2"><extrareasons reason="no-response" count="2"/>'
        '</extraports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/></port>'
        "</ports></host>"
    )
    xml = XML_HEAD + host + RUNSTATS + "</nmaprun>"
    answer = read_scan(xml, [NET + "9"], (21, 22, 23), host_timeout_s=30)[NET + "9"]
    assert answer.outcome is PortsOutcome.OK
    assert dict(answer.states) == {21: PortState.FILTERED, 22: PortState.OPEN, 23: PortState.FILTERED}


def test_a_port_without_any_state_is_an_error_not_a_pass() -> None:
    host = (
        f'<host><status state="up"/><address addr="{NET}9" addrtype="ipv4"/><ports>'
        '<port protocol="tcp" portid="22"><state state="closed" reason="conn-refused"/></port></ports></host>'
    )
    xml = XML_HEAD + host + RUNSTATS + "</nmaprun>"
    answer = read_scan(xml, [NET + "9"], (22, 23), host_timeout_s=30)[NET + "9"]
    assert answer.outcome is PortsOutcome.ERROR
    assert answer.error is not None and "no state for port 23" in answer.error


def test_an_empty_state_word_is_no_state_not_a_filtered_port() -> None:
    host = (
        f'<host><status state="up"/><address addr="{NET}9" addrtype="ipv4"/><ports>'
        '<extraports state="" count="2"><extrareasons reason="x" count="2"/></extraports>'
        '<port protocol="tcp" portid="22"><state state="" reason="x"/></port></ports></host>'
    )
    xml = XML_HEAD + host + RUNSTATS + "</nmaprun>"
    answer = read_scan(xml, [NET + "9"], (21, 22, 23), host_timeout_s=30)[NET + "9"]
    assert answer.outcome is PortsOutcome.ERROR  # filtered would pass: an unknown state never does
    assert answer.error is not None and "no state for port 21-23" in answer.error


def test_a_port_s_own_line_wins_over_the_folded_list_naming_it() -> None:
    host = (
        f'<host><address addr="{NET}9" addrtype="ipv4"/><ports><extraports state="closed" count="2">'
        '<extrareasons reason="conn-refused" count="2" ports="21-22"/></extraports>'
        '<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/></port></ports></host>'
    )
    answer = read_scan(XML_HEAD + host + RUNSTATS + "</nmaprun>", [NET + "9"], (21, 22), host_timeout_s=30)
    assert dict(answer[NET + "9"].states) == {21: PortState.CLOSED, 22: PortState.OPEN}


def host_xml(ports_xml: str, status: str = '<status state="up" reason="user-set"/>') -> str:
    """nmap's XML with one host, 127.50.0.9, and the given `<ports>` content."""
    host = f'<host>{status}<address addr="{NET}9" addrtype="ipv4"/><ports>{ports_xml}</ports></host>'
    return XML_HEAD + host + RUNSTATS + "</nmaprun>"


@pytest.mark.parametrize("word", ["open|filtered", "closed|filtered", "unfiltered", "half-open"])
def test_a_state_word_that_is_not_open_closed_or_filtered_is_an_error_naming_it(word: str) -> None:
    xml = host_xml(
        f'<extraports state="{word}" count="2"><extrareasons reason="x" count="2" ports="21,23"/></extraports>'
        '<port protocol="tcp" portid="22"><state state="filtered" reason="no-response"/></port>'
        f'<port protocol="tcp" portid="25"><state state="{word}" reason="x"/></port>'
    )
    answer = read_scan(xml, [NET + "9"], (21, 22, 23, 25), host_timeout_s=30)[NET + "9"]
    assert answer.outcome is PortsOutcome.ERROR  # it was filtered, which passes
    assert answer.error is not None and f"the state '{word}' for port 21,23,25 at 127.50.0.9" in answer.error
    assert answer.states == ((22, PortState.FILTERED),)  # the word that says what it means is kept


def test_an_unknown_word_and_a_missing_one_are_both_named() -> None:
    xml = host_xml('<port protocol="tcp" portid="22"><state state="unfiltered" reason="reset"/></port>')
    answer = read_scan(xml, [NET + "9"], (22, 23), host_timeout_s=30)[NET + "9"]
    assert answer.error == (
        "nmap gave no state for port 23 and the state 'unfiltered' for port 22 at 127.50.0.9;"
        " only open, closed or filtered tells whether something answers"
    )


@pytest.mark.parametrize("word", ["open|filtered", "unfiltered"])
def test_the_net_checks_give_an_error_never_a_pass_for_a_port_of_unknown_state(word: str) -> None:
    scanned = scan_ports({})
    xml = host_xml(  # nmap before 7.80: the folded ports are not named, so the word is every port's
        f'<extraports state="{word}" count="{len(scanned)}"><extrareasons reason="x" count="1"/></extraports>'
    )
    answer = read_scan(xml, [NET + "9"], scanned, host_timeout_s=30)[NET + "9"]
    target = Target("alder", TargetKind.HOST, NET + "9")
    for chk in (service_risky, service_unexpected):
        results = run(chk, target, (ports_key(NET + "9", scanned), answer))
        assert results and {r.status for r in results} == {Status.ERROR}, chk.id
        assert any(f"'{word}'" in r.summary for r in results), chk.id


def test_two_extraports_blocks_are_both_read() -> None:
    xml = host_xml(  # nmap 7.80 and later: each folded state in its own block, its ports named
        '<extraports state="closed" count="2"><extrareasons reason="conn-refused" count="2" ports="21-22"/>'
        '</extraports><extraports state="filtered" count="2">'
        '<extrareasons reason="no-response" count="2" ports="23,25"/></extraports>'
        '<port protocol="tcp" portid="80"><state state="open" reason="syn-ack"/></port>'
    )
    answer = read_scan(xml, [NET + "9"], (21, 22, 23, 25, 80), host_timeout_s=30)[NET + "9"]
    assert answer.outcome is PortsOutcome.OK
    assert dict(answer.states) == {
        21: PortState.CLOSED,
        22: PortState.CLOSED,
        23: PortState.FILTERED,
        25: PortState.FILTERED,
        80: PortState.OPEN,
    }


def test_two_extraports_blocks_without_port_names_leave_the_ports_without_state() -> None:
    xml = host_xml(  # which port is in which block cannot be told: neither state is given to any port
        '<extraports state="closed" count="1"><extrareasons reason="conn-refused" count="1"/></extraports>'
        '<extraports state="filtered" count="1"><extrareasons reason="no-response" count="1"/></extraports>'
        '<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/></port>'
    )
    answer = read_scan(xml, [NET + "9"], (21, 22, 23), host_timeout_s=30)[NET + "9"]
    assert answer.outcome is PortsOutcome.ERROR
    assert answer.error is not None and "no state for port 21,23" in answer.error


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            '<status state="down" reason="no-response" reason_ttl="0"/>',
            "nmap reports the host as down: no-response (at 127.50.0.9)",
        ),
        ('<status state="down"/>', "nmap reports the host as down (at 127.50.0.9)"),
        ('<status state="skipped" reason="x"/>', "nmap reports the host as skipped: x (at 127.50.0.9)"),
    ],
)
def test_a_host_nmap_reports_as_down_is_an_error_saying_so(status: str, expected: str) -> None:
    xml = host_xml("", status=status)
    answer = read_scan(xml, [NET + "9"], (21, 22, 23), host_timeout_s=30)[NET + "9"]
    assert answer.outcome is PortsOutcome.ERROR and answer.states == ()
    assert answer.error == expected


def test_a_host_that_is_down_is_an_error_even_with_port_lines() -> None:
    xml = host_xml(
        '<extraports state="filtered" count="3"><extrareasons reason="x" count="3" ports="21-23"/></extraports>',
        status='<status state="down" reason="no-response"/>',
    )
    answer = read_scan(xml, [NET + "9"], (21, 22, 23), host_timeout_s=30)[NET + "9"]
    assert answer.outcome is PortsOutcome.ERROR
    assert answer.error is not None and "as down" in answer.error


def test_repeated_error_lines_are_read_once_in_order() -> None:
    # python-nmap keeps the whole of stderr once for each of its error lines
    stderr = "Failed to resolve a\nWARNING: slow\nFailed to resolve b\n"
    answers = read_scan(
        XML_HEAD + RUNSTATS + "</nmaprun>", [NET + "9"], (22,), host_timeout_s=30, errors=[stderr] * 2
    )
    assert (
        answers[NET + "9"].error
        == "nmap said nothing about 127.50.0.9: Failed to resolve a Failed to resolve b"
    )
    # a text on its own is one text, not a row of characters
    answers = read_scan(
        XML_HEAD + RUNSTATS + "</nmaprun>", [NET + "9"], (22,), host_timeout_s=30, errors="oops"
    )
    assert answers[NET + "9"].error == "nmap said nothing about 127.50.0.9: oops"


def test_the_scanner_keeps_nmap_s_error_lines_once_and_no_warnings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import secbase.probes.ports as ports_module

    fake = tmp_path / "nmap"  # answers `nmap -V` like nmap; a scan writes two error lines and a warning
    xml = XML_HEAD + RUNSTATS + "</nmaprun>"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-V" ]; then echo "Nmap version 7.93 ( https://nmap.org )"; exit 0; fi\n'
        "printf 'Failed to resolve a\\nWarning: slow\\nFailed to resolve b\\n' >&2\n"
        f"echo '{xml}'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(ports_module, "_SCANNERS", {})
    answers = probe().scan([NET + "9"], (22,))
    assert (
        answers[NET + "9"].error
        == "nmap said nothing about 127.50.0.9: Failed to resolve a Failed to resolve b"
    )
    (pool,) = ports_module._SCANNERS.values()
    scanner = pool.get_nowait()
    assert scanner.errors == ("Failed to resolve a", "Failed to resolve b")
    # python-nmap's defaults: no error at all is no error line, not one per character
    scanner.analyse_nmap_xml_scan(xml)
    assert scanner.errors == ()


def test_nmap_arguments_are_polite_and_never_resolve_names() -> None:
    p = probe()
    args = p.arguments(10, 34).split()
    assert args[:3] == ["-sT", "-Pn", "-n"]
    assert args[args.index("--max-rate") + 1] == str(10 * p.rate_per_host)
    assert args[args.index("--host-timeout") + 1].endswith("ms")
    assert "-6" not in args and "-6" in p.arguments(1, 34, ipv6=True).split()


def test_the_rate_is_per_host_and_a_round_of_200_hosts_is_one_run() -> None:
    p = probe()
    assert p.rate_per_host == 1000  # 34 ports of one host in no less than 34 ms
    args = p.arguments(200, 34).split()
    assert args[args.index("--max-rate") + 1] == "200000"
    assert args[args.index("--min-hostgroup") + 1] == "200"
    assert p.max_hosts_per_run >= 200


# --- batching, without nmap ---------------------------------------------------------------------------


def fake_probe(**kw: object) -> tuple[PortsProbe, list[float]]:
    """A probe whose nmap runs are faked (every port closed), and the loop time each run started at."""
    p = probe(**kw)
    started: list[float] = []
    loop_time: list[asyncio.AbstractEventLoop] = []

    def scan(
        addresses: Iterable[str], ports: tuple[int, ...], *, ipv6: bool = False
    ) -> dict[str, PortsAnswer]:
        started.append(loop_time[0].time())
        states = tuple((port, PortState.CLOSED) for port in ports)
        return {a: PortsAnswer(a, ports, PortsOutcome.OK, states=states) for a in addresses}

    p.scan = scan  # type: ignore[method-assign]
    p.loop_time = loop_time  # type: ignore[attr-defined]
    return p, started


class Store(Facts):
    """The scan's facts as a probe is given them (a FactSource); the ports probe only counts them."""

    async def fact(self, key: FactKey) -> object:
        raise AssertionError(f"the ports probe needs no other fact, but asked for {key}")


FIRST_ROUND = Store()  # the scan's facts before any is known: its first round of questions
LATER = Store({dns_key("alder.test", "A"): object()})  # ...and after one is


def run_fetches(
    p: PortsProbe, schedule: list[tuple[float, str]], facts: Store | None = FIRST_ROUND
) -> tuple[list[PortsAnswer], float]:
    """Fetch each address after its delay (seconds from the start); the answers, and the loop's start."""

    async def one(delay: float, address: str) -> PortsAnswer:
        if delay:
            await asyncio.sleep(delay)
        return await p.fetch(ports_key(address, PORTS), facts)

    async def main() -> tuple[list[PortsAnswer], float]:
        loop = asyncio.get_running_loop()
        p.loop_time.append(loop)  # type: ignore[attr-defined]
        t0 = loop.time()
        return list(await asyncio.gather(*(one(d, a) for d, a in schedule))), t0

    return asyncio.run(main())


def test_the_first_round_runs_at_once_without_waiting_for_the_window() -> None:
    p, started = fake_probe(collect_s=5.0, max_wait_s=10.0)  # a window the test would notice
    answers, t0 = run_fetches(p, [(0, NET + str(i)) for i in range(1, 5)])
    assert [len(run) for run in p.runs] == [4]
    assert started[0] - t0 < 1.0
    assert [a.address for a in answers] == [NET + str(i) for i in range(1, 5)]
    assert all(a.outcome is PortsOutcome.OK for a in answers)
    p, started = fake_probe(collect_s=5.0, max_wait_s=10.0)
    _, t0 = run_fetches(p, [(0, NET + "1")])  # one host declared, by address
    assert len(p.runs) == 1 and started[0] - t0 < 1.0


def test_keys_that_trickle_in_wait_for_the_window_and_share_one_run() -> None:
    p, started = fake_probe(collect_s=0.3, max_wait_s=5.0)
    schedule = [(0, NET + "1"), (0.05, NET + "2"), (0.1, NET + "3")]  # hosts by name: one by one
    answers, t0 = run_fetches(p, schedule, LATER)
    assert [sorted(run) for run in p.runs] == [[NET + "1", NET + "2", NET + "3"]]
    assert started[0] - t0 >= 0.1 + 0.3 - 0.01  # the window, from the last key
    assert len(answers) == 3


def test_keys_asked_after_a_fact_wait_for_the_window_up_to_the_bound() -> None:
    p, started = fake_probe(collect_s=0.2, max_wait_s=5.0)
    _, t0 = run_fetches(p, [(0, NET + "1"), (0, NET + "2")], LATER)  # together, but not the first round
    assert len(p.runs) == 1 and started[0] - t0 >= 0.2 - 0.01
    _, t0 = run_fetches(p, [(0, NET + "1")], None)  # no facts to tell by: the window too
    assert len(p.runs) == 2 and started[1] - t0 >= 0.2 - 0.01
    p, started = fake_probe(collect_s=0.2, max_wait_s=0.3)  # a steady trickle: cut at the bound
    run_fetches(p, [(i * 0.1, f"{NET}{i + 1}") for i in range(6)], LATER)
    assert len(p.runs[0]) < 6 and sum(len(run) for run in p.runs) == 6


def test_a_full_batch_runs_at_once() -> None:
    p, started = fake_probe(collect_s=0.5, max_wait_s=10.0, max_hosts_per_run=2)
    schedule = [(0, NET + "1"), (0, NET + "1"), (0.05, NET + "2"), (0.05, NET + "3"), (0.1, NET + "4")]
    answers, t0 = run_fetches(p, schedule, LATER)  # .1 twice: one host
    assert [sorted(run) for run in p.runs] == [[NET + "1", NET + "2"], [NET + "3", NET + "4"]]
    assert started[0] - t0 < 0.25 and started[1] - t0 < 0.25  # full: neither waits for the window
    assert answers[0] == answers[1]


def test_a_first_round_larger_than_the_bound_runs_at_once_in_several_runs() -> None:
    p, started = fake_probe(collect_s=5.0, max_wait_s=10.0, max_hosts_per_run=2)
    answers, t0 = run_fetches(p, [(0, NET + str(i)) for i in range(1, 6)])
    assert [len(run) for run in p.runs] == [2, 2, 1] and len(answers) == 5
    assert max(started) - t0 < 1.0


def test_nmap_is_asked_its_version_once_per_process(monkeypatch: pytest.MonkeyPatch, listeners: None) -> None:
    import nmap

    import secbase.probes.ports as ports_module

    made: list[object] = []
    real = nmap.PortScanner.__init__

    def counting(self: object, *args: object, **kw: object) -> None:  # every scanner runs `nmap -V` here
        made.append(self)
        real(self, *args, **kw)

    monkeypatch.setattr(nmap.PortScanner, "__init__", counting)
    monkeypatch.setattr(ports_module, "_SCANNERS", {})
    for _ in range(3):  # three scans, as three run_scan calls would make them
        (answer,) = fetch_all(probe(), [NET + "1"])
        assert answer.open_ports == (3389, 8080)
    assert len(made) == 1


def test_an_answer_reads_a_port_by_lookup_and_still_compares_by_its_fields() -> None:
    states = tuple((p, PortState.OPEN if p == 22 else PortState.CLOSED) for p in range(1, 1001))
    one = PortsAnswer(NET + "1", tuple(range(1, 1001)), PortsOutcome.OK, states=states)
    two = PortsAnswer(NET + "1", tuple(range(1, 1001)), PortsOutcome.OK, states=states)
    assert one.state(22) is PortState.OPEN and one.state(23) is PortState.CLOSED and one.state(0) is None
    assert one.open_ports == (22,)
    assert one == two and hash(one) == hash(two) and repr(one) == repr(two)


# --- keys ---------------------------------------------------------------------------------------------


def test_a_ports_key_is_one_spelling_per_address_and_set_of_ports() -> None:
    assert ports_key("127.50.0.1", [443, 80, 80, 21, 22, 23]) == ports_key(
        " 127.50.0.1", (21, 22, 23, 80, 443)
    )
    assert ports_key("127.50.0.1", [443, 80, 21, 22, 23]).args == ("127.50.0.1", "21-23,80,443")
    assert ports_key("2001:DB8::0:1", [22]).args[0] == "2001:db8::1"


@pytest.mark.parametrize(
    ("address", "ports"), [("www.alder.test", [22]), ("127.50.0.1", []), ("127.50.0.1", [0])]
)
def test_a_ports_key_takes_addresses_and_real_ports_only(address: str, ports: list[int]) -> None:
    with pytest.raises(ValueError):
        ports_key(address, ports)


@given(st.sets(st.integers(min_value=1, max_value=65535), min_size=1, max_size=200))
def test_port_ranges_round_trip(ports: set[int]) -> None:
    text = port_ranges(ports)
    assert parse_port_ranges(text) == tuple(sorted(ports))
    assert text.count(",") < len(ports)
    assert port_ranges(sorted(ports, reverse=True)) == text  # cached per list, whatever its order
    assert ports_key("127.50.0.1", list(ports)).args[1] == text
