"""tls.protocols.*: which TLS versions do the organisation's websites and mail servers accept?"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from secbase import Facts, Result, Status, Target, check
from secbase.facts import LEGACY_PROTOCOLS, TlsAnswer

from .._text import clean
from ._endpoints import REASON_CHARS, Verdict, endpoints, judge, judge_all

# What each version is, in words a town's IT generalist can weigh (RFC 6176, RFC 7568, RFC 8996).
ABOUT = {
    "SSL 2.0": "SSL 2.0 (a 1995 encryption version, broken and forbidden since 2011)",
    "SSL 3.0": "SSL 3.0 (a 1996 encryption version, broken by the POODLE attack in 2014)",
    "TLS 1.0": "TLS 1.0 (a 1999 encryption version browsers dropped in 2020)",
    "TLS 1.1": "TLS 1.1 (a 2006 encryption version browsers dropped in 2020)",
    "TLS 1.2": "TLS 1.2 (the 2008 encryption version, still safe)",
    "TLS 1.3": "TLS 1.3 (the current encryption version, from 2018: faster and safer)",
}
TARGETS = ("website", "domain")
FACTS = ("dns", "smtp", "tls")


def accepted(answer: TlsAnswer, name: str) -> bool | None:
    """Whether the server accepted the version; None when it was not tested or its test failed."""
    test = answer.protocol(name)
    return None if test is None else test.accepted


def untested(answer: TlsAnswer, name: str) -> str:
    """Why a version's acceptance is unknown, as a reason for an `error`."""
    test = answer.protocol(name)
    if test is None:
        return f"{name} was not tested"
    why = clean(test.reason, REASON_CHARS) if test.reason else "no reason given"
    return f"the test of {name} failed: {why}"


def versions_line(answer: TlsAnswer) -> str:
    """Evidence: which versions were accepted, refused, or could not be tested."""
    groups: dict[str, list[str]] = {"accepts": [], "refuses": [], "could not test": []}
    for test in answer.protocols:
        key = {True: "accepts", False: "refuses", None: "could not test"}[test.accepted]
        groups[key].append(clean(test.name, 20))
    parts = [f"{verb} {', '.join(names)}" for verb, names in groups.items() if names]
    return "; ".join(parts) or "no version was tested"


def _legacy_verdict(name: str) -> Callable[[TlsAnswer], Verdict]:
    def verdict(answer: TlsAnswer) -> Verdict:
        state = accepted(answer, name)
        if state is None:
            return Status.ERROR, untested(answer, name)
        if state:
            return Status.FAIL, f"The server still accepts {ABOUT[name]}."
        return Status.PASS, f"The server refuses {name}."

    return verdict


@check(id="tls.protocols.legacy", severity="high", target=TARGETS, facts=FACTS)
def protocols_legacy(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """No endpoint accepts SSL 2.0, SSL 3.0, TLS 1.0 or TLS 1.1: one result per version (RFC 8996).

    A pass per version refused, so that a version turned off resolves its own finding in the next scan.
    A version the probe did not try at all (SSL 2.0, often) gets no result.
    """
    results: list[Result] = []
    for found in endpoints(protocols_legacy, target, facts):
        if isinstance(found, Result):
            results.append(found)
            continue
        answered = [p for p in found.probes if isinstance(p, TlsAnswer) and p.error is None]
        listed = [name for name in LEGACY_PROTOCOLS if any(a.protocol(name) for a in answered)]
        if not listed:
            # Nothing answered (judge says why, under the endpoint's subject), or no old version was tried.
            results.append(judge(protocols_legacy, target, found, _no_legacy_tested, versions_line))
            continue
        for name in listed:
            subject = f"{found.subject} {name}" if found.subject else name
            results.append(
                judge(protocols_legacy, target, found, _legacy_verdict(name), versions_line, subject=subject)
            )
    return results


def _no_legacy_tested(answer: TlsAnswer) -> Verdict:
    return Status.ERROR, "none of the old versions (SSL 2.0 to TLS 1.1) was tested"


def _modern_verdict(answer: TlsAnswer) -> Verdict:
    tls12, tls13 = accepted(answer, "TLS 1.2"), accepted(answer, "TLS 1.3")
    if tls13:
        return Status.PASS, f"The server accepts {ABOUT['TLS 1.3']}."
    if tls12 is False and tls13 is False:
        old = [name for name in LEGACY_PROTOCOLS if accepted(answer, name)]
        only = f": only {', '.join(old)}, which are no longer safe" if old else ""
        return Status.FAIL, f"The server accepts neither TLS 1.2 nor TLS 1.3{only}."
    if tls12 and tls13 is False:
        return Status.WARN, f"The server accepts TLS 1.2 but not {ABOUT['TLS 1.3']}."
    # Unknown is never a pass: with a version untested, the verdict could be any of the three.
    unknown = [name for name, state in (("TLS 1.2", tls12), ("TLS 1.3", tls13)) if state is None]
    return Status.ERROR, "; ".join(untested(answer, name) for name in unknown)


@check(id="tls.protocols.modern", severity="medium", target=TARGETS, facts=FACTS)
def protocols_modern(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Every endpoint accepts TLS 1.3, or at least TLS 1.2 (RFC 9325 3.1.1)."""
    return judge_all(protocols_modern, target, facts, _modern_verdict, versions_line)
