"""web.https.*: does the site answer over HTTPS with a certificate browsers accept, and does plain HTTP lead there?

Also the helpers every web check shares: the site's addresses, the HTTPS page to judge, and evidence text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from secbase import Check, Facts, Result, Target, check
from secbase.facts import HttpAnswer, HttpHop, HttpOutcome, http_key

from .._text import clean, join_lines

EVIDENCE_CHARS = 200
URL_CHARS = 100
NO_HTTPS = "no HTTPS answer to judge; see web.https.available"
NEITHER = "the site answers neither HTTP nor HTTPS"


def site_url(target: Target, scheme: str, path: str = "/") -> str:
    """The address a web check fetches: https://HOST/ or http://HOST/, or a path on it."""
    return f"{scheme}://{target.name}{path}"


def is_https(url: str) -> bool:
    return url[:8].lower() == "https://"


def host_of(url: str) -> str:
    """The lower-cased host name of a URL ("" when it has none or cannot be read)."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def next_url(hop: HttpHop) -> str | None:
    """Where a redirect hop sends the browser, as an absolute URL (None if it sends nowhere readable)."""
    if hop.location is None:
        return None
    try:
        return urljoin(hop.url, hop.location)
    except ValueError:
        return None


def chain_text(answer: HttpAnswer) -> str:
    """The redirect chain as evidence: one "STATUS URL" line per answer, then how it ended if it broke."""
    lines = [f"{hop.status} {clean(hop.url, URL_CHARS)}" for hop in answer.hops]
    if answer.outcome is not HttpOutcome.OK:
        lines.append(answer.reason or str(answer.outcome))
    return join_lines(lines, 2000)


def judgeable_page(check_: Check, target: Target, facts: Facts) -> tuple[HttpAnswer, HttpHop] | Result:
    """The fetch of https://HOST/ and its final answer, or the `error` result saying why none can be judged.

    Headers are judged only on a page that was itself served over HTTPS: no HTTPS answer, or a redirect
    back to plain HTTP, is web.https.available's finding, so this check says it could not check (which
    never closes its own finding) rather than "not applicable" (which would).
    """
    answer = facts.http(site_url(target, "https"))
    if answer.error is not None:
        return Result.error(check_, target, answer.error)
    final = answer.final
    if answer.outcome is not HttpOutcome.OK or final is None:
        return Result.error(check_, target, NO_HTTPS, evidence=chain_text(answer))
    if not is_https(final.url):
        return Result.error(
            check_,
            target,
            f"the HTTPS address sends visitors on to plain HTTP ({clean(final.url, URL_CHARS)}), "
            "so there is no HTTPS page to judge; see web.https.available",
            evidence=chain_text(answer),
        )
    return answer, final


@check(id="web.https.available", severity="high", target="website", facts=("http",))
def https_available(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The site answers over HTTPS, with a certificate browsers accept, and keeps visitors on HTTPS."""
    https_url, http_url = site_url(target, "https"), site_url(target, "http")
    facts.require(http_key(https_url), http_key(http_url))  # both at once: one round of fetching
    https = facts.http(https_url)
    if https.outcome is HttpOutcome.TLS_ERROR:
        # Whatever plain HTTP does: a browser shows a full-page warning instead of the site.
        return [
            Result.fail(
                https_available,
                target,
                f"Browsers do not accept the website's certificate, so visitors get a security warning "
                f"instead of the page: {clean(https.reason, 300)}",
                evidence=chain_text(https),
            )
        ]
    if https.error is not None:
        return [Result.error(https_available, target, https.error)]
    final = https.final
    if https.outcome is HttpOutcome.OK and final is not None:
        if is_https(final.url):
            return [
                Result.passed(
                    https_available, target, "The website answers over HTTPS.", evidence=chain_text(https)
                )
            ]
        return [
            Result.fail(
                https_available,
                target,
                f"The HTTPS address sends visitors on to plain, unencrypted HTTP ({clean(final.url, URL_CHARS)}).",
                evidence=chain_text(https),
            )
        ]
    if https.hops:  # an HTTPS server answered, then its redirects lead where no browser can follow
        return [
            Result.fail(
                https_available,
                target,
                f"The HTTPS address answers, but its redirects never reach a page: {clean(https.reason, 300)}",
                evidence=chain_text(https),
            )
        ]
    http = facts.http(http_url)
    if http.hops:  # a server answered on plain HTTP, even if only to redirect
        return [
            Result.fail(
                https_available,
                target,
                "The website answers only over plain, unencrypted HTTP: nothing answers over HTTPS.",
                evidence=join_lines([https.reason, chain_text(http)], 2000),
            )
        ]
    if http.error is not None:
        return [Result.error(https_available, target, http.error)]
    return [
        Result.error(https_available, target, NEITHER, evidence=join_lines([https.reason, http.reason], 600))
    ]


@check(id="web.https.redirect", severity="high", target="website", facts=("http",))
def https_redirect(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """http://HOST/ ends, hop by hop, on a working https:// page, switching to HTTPS before any other host."""
    http_url = site_url(target, "http")
    answer = facts.http(http_url)
    if answer.error is not None:
        return [Result.error(https_redirect, target, answer.error)]
    final = answer.final
    if final is None:  # nothing answers on port 80: no unencrypted page to leave visitors on
        https = facts.http(site_url(target, "https"))
        if https.error is not None:
            return [Result.error(https_redirect, target, https.error)]
        if not https.hops:
            return [
                Result.error(
                    https_redirect, target, NEITHER, evidence=join_lines([answer.reason, https.reason], 600)
                )
            ]
        return [
            Result.not_applicable(
                https_redirect,
                target,
                "Nothing answers on plain HTTP, so there is no unencrypted address to redirect.",
                evidence=clean(answer.reason, 300),
            )
        ]
    evidence = chain_text(answer)
    own = target.name.lower().rstrip(".")
    if answer.outcome is not HttpOutcome.OK:
        broken = next_url(final) or ""
        if (
            answer.outcome in (HttpOutcome.TLS_ERROR, HttpOutcome.REFUSED)
            and is_https(broken)
            and host_of(broken) == own
        ):
            # The redirect goes the right way; the site's own HTTPS is broken, which is another finding.
            return [
                Result.error(
                    https_redirect,
                    target,
                    f"plain HTTP leads to {clean(broken, URL_CHARS)}, which does not work; see web.https.available",
                    evidence=evidence,
                )
            ]
        return [
            Result.fail(
                https_redirect,
                target,
                f"Plain HTTP does not lead to a working HTTPS page: {clean(answer.reason, 300)}",
                evidence=evidence,
            )
        ]
    if not is_https(final.url):
        return [
            Result.fail(
                https_redirect,
                target,
                "Visitors who type the plain http:// address stay on an unencrypted page "
                f"({clean(final.url, URL_CHARS)}).",
                evidence=evidence,
            )
        ]
    if final.status >= 500:
        # A server error at the end is a passing state of the site, not of its redirect: try again later.
        return [
            Result.error(
                https_redirect,
                target,
                f"plain HTTP leads to {clean(final.url, URL_CHARS)}, which answered with server error {final.status}",
                evidence=evidence,
            )
        ]
    # The final hop is https and the first is http, so there are at least two hops.
    second = answer.hops[1].url
    if not is_https(second) and host_of(second) != own:
        return [
            Result.warn(
                https_redirect,
                target,
                f"Plain HTTP first sends visitors to another name ({clean(host_of(second), URL_CHARS)}) "
                "before switching to HTTPS.",
                evidence=evidence,
            )
        ]
    return [Result.passed(https_redirect, target, "Plain HTTP sends visitors to HTTPS.", evidence=evidence)]
