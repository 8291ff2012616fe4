"""Hostile websites, end to end: a real scan of them, stored and rendered, costs time-outs, never a crash.

Everything a server sends is data. A town whose websites flood headers, stream an endless body, answer a
byte a second, send invalid UTF-8, escape sequences, markup or a broken status line is scanned with every
web.* check and the real probes, through the lab's DNS and web servers on 127.46.x.x; the outcome is
stored and rendered as text and JSON. Each site must end in "could not check" with a reason naming the
time-out or the cap, or in a verdict on what really came; what is stored and printed is clipped and
escaped.
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from secbase._version import __version__
from secbase.config import Config
from secbase.lab.dns import LabDnsServer
from secbase.lab.pki import LabPki
from secbase.lab.web import LabSite, LabWebServer, Misbehaviour
from secbase.model import Finding, Result, Status
from secbase.plugins import CheckRegistry
from secbase.probes.http import HOP_BUDGET, MAX_HEADER_VALUE
from secbase.report import render_findings, render_results, results_json
from secbase.scan import ScanOutcome, run_scan
from secbase.store import Store, db_url

# The hang guard. "thread", not "signal": a scan stuck in a probe's worker thread would outlive the signal,
# since asyncio.run waits for its threads; "thread" dumps every stack and ends the run.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120, method="thread")]

TIMEOUT_S = 1.0
RESOLVER = "127.46.0.53"
ZONE = "hostile.test"
MAX_LINE = 4000  # characters in a stored field or a printed line: a few fields of at most 2,000 each
SCRIPT = "<script>alert(1)</script>"
ANSI = "\x1b[2J\x1b[31m"  # clear the screen, then red
TITLE = "\x1b]0;pwned\x07"  # sets the terminal's title
RTL = "\u202e"  # right-to-left override
# A raw control character (newline allowed only where texts are multi-line), a lone surrogate.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
# What reports escape besides: invisible and direction-changing characters (secbase.report.clean).
INVISIBLE = re.compile(r"[\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
HOSTILE: dict[Misbehaviour, str] = {
    "huge_headers": "127.46.1.1",
    "header_flood": "127.46.1.2",
    "huge_body": "127.46.1.3",
    "slow": "127.46.1.4",
    "bad_utf8": "127.46.1.5",
}
INJECT, AWAY, NOWHERE, GARBAGE, LONG = "127.46.1.6", "127.46.1.7", "127.46.1.8", "127.46.1.9", "127.46.1.10"
# A status line a terminal would obey: http.client quotes one it cannot read raw in its error, and the
# probe that error in its reason.
GARBAGE_REPLY = f"XTTP/1.1 200 {TITLE}{ANSI}OK\r\n\r\n".encode("latin-1")


def host(name: str) -> str:
    return f"{name.replace('_', '-')}.{ZONE}"


def injecting_site(pki: LabPki) -> LabSite:
    """Headers with markup, escape sequences, a folded line, 60,000-character values, a bogus charset."""
    name = host("inject")
    return LabSite(
        name,
        INJECT,
        pki.issue("inject", sans=[name]),
        headers={
            "Server": [f"Apache/2.4.1 {SCRIPT} {ANSI}red"],
            # obs-fold (RFC 9112 5.2): the CR LF reaches the client inside the value.
            "X-Powered-By": ["PHP/8.1\r\n Injected: yes"],
            "Referrer-Policy": [f"{TITLE}unsafe-url"],
            "X-Frame-Options": [f"{ANSI}" + "DENY " * 12_000],
            "Content-Security-Policy": [f"default-src 'self' {ANSI}" + "https://a.test " * 4000],
            "Content-Type": [f"text/html; charset={ANSI}bogus"],
        },
        cookies=[f"{SCRIPT}{ANSI}{'c' * 5000}=1; Path=/"],
        # A generator naming itself backwards: U+202E turns the rest of a terminal line around.
        body=f'<html><head><meta name="generator" content="{ANSI}{RTL}WordPress 6.1"></head></html>',
    )


def redirecting_sites(pki: LabPki) -> list[LabSite]:
    """Plain HTTP sends visitors on to a long URL full of escapes, or to a host that cannot be a name."""
    away, nowhere = host("away"), host("nowhere")
    return [
        LabSite(
            away,
            AWAY,
            pki.issue("away", sans=[away]),
            http_behaviour="redirect_other_host",
            redirect_to=f"https://{host('inject')}/{ANSI}{TITLE}" + "a" * 20_000,
        ),
        LabSite(
            nowhere,
            NOWHERE,
            pki.issue("nowhere", sans=[nowhere]),
            http_behaviour="redirect_other_host",
            redirect_to=f"https://{ANSI}evil.{ZONE}/",
        ),
    ]


def long_header_site(pki: LabPki) -> LabSite:
    """A CSP folded over two lines (obs-fold) into 120,000 characters: over what the probe reads."""
    name = host("long")
    folded = "\r\n ".join(["default-src 'self' " + "https://a.test " * 4000] * 2)
    return LabSite(name, LONG, pki.issue("long", sans=[name]), headers={"Content-Security-Policy": [folded]})


class _GarbageHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            self.request.recv(65536)
            self.request.sendall(GARBAGE_REPLY)
        except OSError:
            return  # the probe gave up first: nothing to answer


class _GarbageServer(socketserver.ThreadingTCPServer):
    """Answers anything on port 80 and 443 with a status line full of escape sequences (no TLS at all)."""

    daemon_threads = True
    allow_reuse_address = True


def zone_text(sites: list[LabSite]) -> str:
    lines = [
        f"$ORIGIN {ZONE}.",
        "$TTL 300",
        f"@ SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300",
        f"@ NS ns.{ZONE}.",
        f"ns A {RESOLVER}",
        f"{host('garbage')}. A {GARBAGE}",
        *(f"{site.host}. A {site.address}" for site in sites),
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Scanned:
    """One scan of the hostile town, and everything made from it."""

    outcome: ScanOutcome
    elapsed_s: float
    stored: list[Result]
    findings: list[Finding]
    text: str
    json_text: str
    findings_text: str
    findings_json: str

    def results(self, site: str) -> list[Result]:
        return [r for r in self.outcome.results if r.target == site]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, registry: CheckRegistry) -> Iterator[Scanned]:
    tmp = tmp_path_factory.mktemp("hostile")
    pki = LabPki(tmp / "pki", now=datetime.now(UTC))
    sites = [
        LabSite(host(name), address, pki.issue(name, sans=[host(name)]), misbehaviour=name)
        for name, address in HOSTILE.items()
    ]
    sites += [injecting_site(pki), *redirecting_sites(pki), long_header_site(pki)]
    config = Config.model_validate(
        {
            "version": 1,
            "scan": {"resolvers": [RESOLVER], "timeout": TIMEOUT_S, "ca_file": str(pki.ca_pem_path)},
            "organisations": [
                {
                    "id": "hostile",
                    "name": "Township of Hostile",
                    "websites": [*(s.host for s in sites), host("garbage")],
                }
            ],
        }
    )
    garbage = [_GarbageServer((GARBAGE, port), _GarbageHandler) for port in (80, 443)]
    threads = [threading.Thread(target=g.serve_forever, args=(0.05,), daemon=True) for g in garbage]
    for thread in threads:
        thread.start()
    try:
        with LabDnsServer(zone_text(sites), addresses=[RESOLVER]), LabWebServer(sites):
            began = time.monotonic()
            outcome = run_scan(config, registry.select(["web.*"]))
            elapsed_s = time.monotonic() - began
    finally:
        for g in garbage:
            g.shutdown()
            g.server_close()
    store = Store(db_url(str(tmp / "hostile.db")))
    try:
        scan_id = store.record_scan(outcome, config_digest="0" * 64, tool_version=__version__)
        stored = store.results(scan_id)
        found = store.findings()
    finally:
        store.close()
    now = datetime.now(UTC)
    yield Scanned(
        outcome=outcome,
        elapsed_s=elapsed_s,
        stored=stored,
        findings=found,
        text=render_results(outcome, config, registry.checks),
        json_text=json.dumps(results_json(outcome, config), indent=2),
        findings_text=render_findings(found, as_json=False, now=now),
        findings_json=render_findings(found, as_json=True, now=now),
    )


def test_the_scan_ends_within_its_time_outs_not_when_the_servers_stop(scanned: Scanned) -> None:
    # Not a speed test: a hang (a body read to its end, headers a byte a second) takes minutes or forever.
    # Fetches run side by side: one DNS time-out and one hop's budget, with a wide margin for slow CI.
    assert scanned.elapsed_s < TIMEOUT_S + HOP_BUDGET * TIMEOUT_S + 15
    assert {r.target for r in scanned.outcome.results} == {
        *(host(n) for n in HOSTILE),
        host("inject"),
        host("away"),
        host("nowhere"),
        host("garbage"),
        host("long"),
    }


@pytest.mark.parametrize(
    ("site", "cause"),
    [
        (host("huge_headers"), "more than 100 headers"),
        (host("header_flood"), "more than 100 headers"),
        (host("slow"), f"(within {HOP_BUDGET * TIMEOUT_S:g} s|over {TIMEOUT_S:g} s)"),
        (host("long"), f"content-security-policy header longer than {MAX_HEADER_VALUE} characters"),
    ],
)
def test_a_flooding_trickling_or_overlong_site_is_could_not_check_naming_the_cap(
    scanned: Scanned, site: str, cause: str
) -> None:
    results = scanned.results(site)
    assert results and all(r.status is Status.ERROR for r in results), results
    assert all(r.summary.startswith("Could not check:") and re.search(cause, r.summary) for r in results), [
        r.summary for r in results
    ]


def test_an_endless_body_still_gives_verdicts_on_the_headers_that_came(scanned: Scanned) -> None:
    by_check = {r.check: r for r in scanned.results(host("huge_body"))}
    assert by_check["web.https.available"].status is Status.PASS  # it did answer, over HTTPS
    assert by_check["web.hsts"].status is Status.FAIL  # and sent no HSTS header
    # Every verdict but one: whether the unread rest of the page names its software is not known.
    assert all(r.status is not Status.ERROR for c, r in by_check.items() if c != "web.software.disclosed")


def test_a_page_cut_at_the_size_cap_is_not_passed_as_naming_no_software(scanned: Scanned) -> None:
    (result,) = [r for r in scanned.results(host("huge_body")) if r.check == "web.software.disclosed"]
    assert result.status is not Status.PASS


def test_invalid_utf8_is_replaced_and_judged(scanned: Scanned) -> None:
    results = scanned.results(host("bad_utf8"))
    assert results and all(r.status is not Status.ERROR for r in results), results


def test_markup_and_escape_sequences_from_headers_are_data_in_every_output(scanned: Scanned) -> None:
    (software,) = [r for r in scanned.results(host("inject")) if r.check == "web.software.disclosed"]
    assert software.status is Status.WARN
    assert SCRIPT in software.summary and "\x1b" not in software.summary
    # The folded header stays in its value: no report line starts with what it tried to inject.
    assert "PHP/8.1 Injected: yes" in software.summary
    assert not any(line.lstrip().startswith("Injected") for line in scanned.text.splitlines())
    # Markup is not HTML-escaped in plain text and JSON (neither is HTML): it stays a quoted string, and
    # comes back from the JSON exactly as it was stored.
    shown = [line for line in scanned.text.splitlines() if "which software it runs" in line]
    assert len(shown) == 1 and SCRIPT in shown[0]
    summaries = {r["summary"] for r in json.loads(scanned.json_text)["results"]}
    assert software.summary in summaries
    stored = {r.summary for r in scanned.stored}
    assert software.summary in stored


def test_a_long_cookie_name_with_markup_is_a_clipped_subject(scanned: Scanned) -> None:
    # The subject is part of a finding's identity and a column of its own in the store.
    cookies = [r for r in scanned.results(host("inject")) if r.check == "web.cookies.secure"]
    assert [r.status for r in cookies] == [Status.FAIL]
    subject = cookies[0].subject
    assert subject.startswith(SCRIPT) and "\x1b" not in subject and len(subject) <= 255


def test_a_redirect_to_a_name_that_is_no_host_name_is_could_not_check(scanned: Scanned) -> None:
    (redirect,) = [r for r in scanned.results(host("nowhere")) if r.check == "web.https.redirect"]
    assert redirect.status is Status.ERROR
    assert "cannot follow a redirect" in redirect.summary and "\\x1b" in redirect.summary


def test_a_status_line_with_escape_sequences_is_quoted_escaped(scanned: Scanned) -> None:
    results = scanned.results(host("garbage"))
    assert results and all(r.status in (Status.ERROR, Status.FAIL) for r in results), results
    (plain,) = [r for r in results if r.check == "web.https.redirect"]
    assert plain.status is Status.ERROR and "XTTP/1.1 200 \\x1b]0;pwned\\x07\\x1b[2J" in plain.summary


def _texts(scanned: Scanned) -> list[tuple[str, str, bool]]:
    """(where, text, may hold newlines) for every text stored or printed."""
    out: list[tuple[str, str, bool]] = []
    for r in [*scanned.outcome.results, *scanned.stored]:
        out += [
            (f"{r.check} {r.target} {name}", getattr(r, name), name == "evidence")
            for name in ("summary", "subject", "target", "evidence")
        ]
    for f in scanned.findings:
        out += [
            (f"finding {f.check} summary", f.summary, False),
            (f"finding {f.check} subject", f.subject, False),
        ]
    for row in json.loads(scanned.json_text)["results"]:
        out += [(f"json {row['check']} {key}", str(value), key == "evidence") for key, value in row.items()]
    for row in json.loads(scanned.findings_json):
        out += [(f"findings json {row['check']} {key}", str(value), False) for key, value in row.items()]
    rendered = {"text": scanned.text, "json": scanned.json_text, "findings": scanned.findings_text}
    for name, text in rendered.items():
        out += [(f"{name} line {i}", line, False) for i, line in enumerate(text.splitlines())]
    return out


def test_stored_and_rendered_texts_hold_no_raw_control_characters(scanned: Scanned) -> None:
    found = []
    for where, text, multiline in _texts(scanned):
        bad = RAW_CONTROL.findall(text.replace("\n", "") if multiline else text)
        if bad or "\r" in text:
            found.append((where, bad[:3]))
    assert not found, found[:10]


def test_stored_and_rendered_texts_are_valid_unicode(scanned: Scanned) -> None:
    assert not [where for where, text, _ in _texts(scanned) if SURROGATE.search(text)]


def test_stored_and_rendered_texts_are_clipped(scanned: Scanned) -> None:
    long = [(where, len(text)) for where, text, _ in _texts(scanned) if len(text) > MAX_LINE]
    assert not long, long[:10]


def test_stored_texts_hold_no_direction_changing_or_invisible_characters(scanned: Scanned) -> None:
    found = [
        (r.check, r.target) for r in scanned.stored if INVISIBLE.search(r.summary + r.subject + r.evidence)
    ]
    assert not found


def test_printed_texts_hold_no_direction_changing_or_invisible_characters(scanned: Scanned) -> None:
    (software,) = [r for r in scanned.results(host("inject")) if r.check == "web.software.disclosed"]
    assert "WordPress 6.1" in software.summary
    printed = {"text": scanned.text, "json": scanned.json_text, "findings": scanned.findings_text}
    assert not {name: INVISIBLE.findall(text) for name, text in printed.items() if INVISIBLE.search(text)}


def test_the_json_output_escapes_what_a_terminal_would_obey(scanned: Scanned) -> None:
    assert not RAW_CONTROL.search(scanned.json_text) and not RAW_CONTROL.search(scanned.findings_json)
    assert "\x1b" not in scanned.text and "\x1b" not in scanned.findings_text
