"""web.headers.*: the security headers of the HTTPS page (nosniff, framing, CSP, Referrer-Policy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check
from secbase.facts import HttpHop
from secbase.parse.csp import CspParseError, CspPolicy, parse_csp_headers

from .._text import clean, join_lines
from .https import judgeable_page

CSP = "Content-Security-Policy"
# frame-ancestors sources that let any site frame the page.
ANY_ANCESTOR = frozenset({"*", "http:", "https:", "http://*", "https://*"})
FRAME_OPTIONS = frozenset({"deny", "sameorigin"})
# W3C Referrer Policy: every policy a browser knows; the two that send full addresses elsewhere are weak.
REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "same-origin",
        "origin",
        "strict-origin",
        "origin-when-cross-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
WEAK_REFERRER_POLICIES = frozenset({"unsafe-url", "no-referrer-when-downgrade"})


def header_items(hop: HttpHop, name: str) -> list[str]:
    """A header's comma-separated items across repeated headers, as browsers combine them (RFC 9110 5.3)."""
    return [item.strip(" \t") for item in ",".join(hop.header(name)).split(",")]


def header_evidence(hop: HttpHop, name: str) -> str:
    return join_lines((f"{name}: {v}" for v in hop.header(name)), 500)


@check(id="web.headers.content_type_options", severity="low", target="website", facts=("http",))
def content_type_options(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The HTTPS page sends X-Content-Type-Options: nosniff."""
    page = judgeable_page(content_type_options, target, facts)
    if isinstance(page, Result):
        return [page]
    _answer, hop = page
    name = "X-Content-Type-Options"
    if not hop.header(name):
        return [Result.fail(content_type_options, target, f"The page sends no {name}: nosniff header.")]
    # Fetch standard "determine nosniff": only the first item counts, compared without regard to case;
    # a quoted "nosniff" is not understood.
    first = header_items(hop, name)[0]
    evidence = header_evidence(hop, name)
    if first.lower() == "nosniff":
        return [
            Result.passed(content_type_options, target, f"The page sends {name}: nosniff.", evidence=evidence)
        ]
    return [
        Result.fail(
            content_type_options,
            target,
            f'{name} is "{clean(first, 60)}" rather than "nosniff", so browsers ignore it.',
            evidence=evidence,
        )
    ]


def _policies(hop: HttpHop) -> list[CspPolicy] | str:
    """The page's enforced CSP policies, or why they could not be read."""
    try:
        return parse_csp_headers(hop.header(CSP))
    except CspParseError as exc:
        return f"the {CSP} header could not be read: {exc}"


@check(id="web.headers.frame_options", severity="low", target="website", facts=("http",))
def frame_options(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The HTTPS page forbids framing by other sites: CSP frame-ancestors, or X-Frame-Options."""
    page = judgeable_page(frame_options, target, facts)
    if isinstance(page, Result):
        return [page]
    _answer, hop = page
    policies = _policies(hop)
    if isinstance(policies, str):
        return [Result.error(frame_options, target, policies)]
    ancestors = [a for a in (p.frame_ancestors() for p in policies) if a is not None]
    if ancestors:
        # HTML "check a navigation response's adherence to X-Frame-Options": a CSP frame-ancestors
        # directive replaces X-Frame-Options; every policy is enforced, so one narrow list suffices.
        evidence = "\n".join(clean("frame-ancestors " + " ".join(a), 200) for a in ancestors)
        if any(not ANY_ANCESTOR.intersection(s.lower() for s in a) for a in ancestors):
            return [
                Result.passed(
                    frame_options,
                    target,
                    "The Content-Security-Policy limits which sites may show this page in a frame.",
                    evidence=evidence,
                )
            ]
        return [
            Result.fail(
                frame_options,
                target,
                "The Content-Security-Policy lets any site show this page in a frame (frame-ancestors), "
                "and browsers then ignore X-Frame-Options.",
                evidence=evidence,
            )
        ]
    name = "X-Frame-Options"
    if not hop.header(name):
        return [
            Result.fail(
                frame_options,
                target,
                f"Any site may show this page inside a frame of its own: neither {name} nor a "
                "Content-Security-Policy frame-ancestors rule forbids it.",
            )
        ]
    values = {item.lower() for item in header_items(hop, name)}
    evidence = header_evidence(hop, name)
    if len(values) == 1 and values <= FRAME_OPTIONS:
        return [
            Result.passed(
                frame_options, target, f"{name} forbids other sites to frame this page.", evidence=evidence
            )
        ]
    if len(values) > 1 and values & (FRAME_OPTIONS | {"allowall"}):
        # HTML: conflicting values make the browser refuse every frame, its own site's included.
        return [
            Result.passed(
                frame_options,
                target,
                f"{name} has conflicting values, so browsers refuse to show this page in any frame.",
                evidence=evidence,
            )
        ]
    return [
        Result.fail(
            frame_options,
            target,
            f"{name} is not DENY or SAMEORIGIN, so browsers ignore it and any site may frame this page.",
            evidence=evidence,
        )
    ]


def _script_rule(policy: CspPolicy) -> str:
    for name in ("script-src", "default-src"):
        sources = policy.get(name)
        if sources is not None:
            return " ".join((name, *sources))
    return "(no script-src or default-src)"


@check(id="web.headers.csp", severity="low", target="website", facts=("http",))
def csp(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The HTTPS page sends a Content-Security-Policy that limits scripts: no unsafe-inline, unsafe-eval or *."""
    page = judgeable_page(csp, target, facts)
    if isinstance(page, Result):
        return [page]
    _answer, hop = page
    policies = _policies(hop)
    if isinstance(policies, str):
        return [Result.error(csp, target, policies)]
    if not policies:
        said = "an empty" if hop.header(CSP) else "no"
        return [
            Result.warn(
                csp, target, f"The page sends {said} {CSP} (CSP).", evidence=header_evidence(hop, CSP)
            )
        ]
    evidence = join_lines((_script_rule(p) for p in policies), 500)
    if all(p.script_sources() is None for p in policies):
        return [
            Result.warn(
                csp,
                target,
                f"The {CSP} does not limit scripts at all (it has no script-src or default-src).",
                evidence=evidence,
            )
        ]
    # Every policy is enforced (CSP3 2.2.2): a script runs only if all of them allow it.
    allowed = []
    if all(p.allows_unsafe_inline_scripts() for p in policies):
        allowed.append("scripts written into the page ('unsafe-inline')")
    if all(p.allows_unsafe_eval() for p in policies):
        allowed.append("scripts made from text ('unsafe-eval')")
    if all(p.script_sources() is None or p.has_wildcard_script_source() for p in policies):
        allowed.append("scripts from any website (a * or bare https: source)")
    if allowed:
        return [
            Result.warn(csp, target, f"The {CSP} still allows {' and '.join(allowed)}.", evidence=evidence)
        ]
    return [Result.passed(csp, target, f"The {CSP} limits where scripts come from.", evidence=evidence)]


@check(id="web.headers.referrer_policy", severity="info", target="website", facts=("http",))
def referrer_policy(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The HTTPS page sends a Referrer-Policy other than unsafe-url and no-referrer-when-downgrade."""
    page = judgeable_page(referrer_policy, target, facts)
    if isinstance(page, Result):
        return [page]
    _answer, hop = page
    name = "Referrer-Policy"
    if not hop.header(name):
        return [Result.warn(referrer_policy, target, f"The page sends no {name} header.")]
    # W3C Referrer Policy, parsing the header: the last value the browser knows wins; others are skipped.
    known = [item.lower() for item in header_items(hop, name) if item.lower() in REFERRER_POLICIES]
    evidence = header_evidence(hop, name)
    if not known:
        return [
            Result.warn(
                referrer_policy,
                target,
                f"The {name} header holds no value browsers know, so they ignore it.",
                evidence=evidence,
            )
        ]
    policy = known[-1]
    if policy in WEAK_REFERRER_POLICIES:
        return [
            Result.warn(
                referrer_policy,
                target,
                f'{name} is "{policy}": the full address of a page, with anything in it, is sent to other sites.',
                evidence=evidence,
            )
        ]
    return [Result.passed(referrer_policy, target, f'{name} is "{policy}".', evidence=evidence)]
