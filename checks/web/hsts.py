"""web.hsts: are browsers told to use only HTTPS for the site, and for long enough (RFC 6797)?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check
from secbase.parse.hsts import HstsParseError, parse_hsts_headers

from .._text import join_lines
from .https import judgeable_page

HEADER = "Strict-Transport-Security"
DAY_S = 86_400


def duration_text(seconds: int) -> str:
    """A max-age in words a clerk can picture: days from one day up, seconds below."""
    if seconds >= DAY_S:
        days = seconds // DAY_S
        return f"{days:,} day{'' if days == 1 else 's'}"
    return f"{seconds:,} second{'' if seconds == 1 else 's'}"


@check(
    id="web.hsts",
    severity="medium",
    target="website",
    facts=("http",),
    defaults={"min_max_age_s": 31_536_000},  # one year; a policy may raise it
)
def hsts(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The HTTPS page sends Strict-Transport-Security with a max-age of at least a year."""
    page = judgeable_page(hsts, target, facts)
    if isinstance(page, Result):
        return [page]
    _answer, hop = page
    values = hop.header(HEADER)
    if not values:
        return [
            Result.fail(
                hsts,
                target,
                "Browsers are not told to always use HTTPS for this site: its pages send no HSTS header.",
            )
        ]
    evidence = join_lines((f"{HEADER}: {v}" for v in values), 500)
    try:
        # RFC 6797 8.1: only the first header counts when there are several.
        policy = parse_hsts_headers(values)
    except HstsParseError as exc:
        return [
            Result.fail(
                hsts,
                target,
                f"The HSTS header cannot be read, so browsers ignore it: {exc}",
                evidence=evidence,
            )
        ]
    if policy.max_age is None:  # RFC 6797 6.1.1: max-age is required; browsers ignore the header
        return [
            Result.fail(
                hsts, target, "The HSTS header has no max-age, so browsers ignore it.", evidence=evidence
            )
        ]
    if policy.max_age == 0:  # RFC 6797 6.1.1: max-age=0 tells browsers to forget the site
        return [
            Result.fail(
                hsts,
                target,
                "The HSTS header says max-age=0, which tells browsers to stop insisting on HTTPS.",
                evidence=evidence,
            )
        ]
    minimum = int(limits["min_max_age_s"])
    if policy.max_age < minimum:
        return [
            Result.warn(
                hsts,
                target,
                f"Browsers are told to insist on HTTPS for {duration_text(policy.max_age)} only, "
                f"under the {duration_text(minimum)} recommended.",
                evidence=evidence,
            )
        ]
    return [
        Result.passed(
            hsts,
            target,
            f"Browsers are told to insist on HTTPS for this site for {duration_text(policy.max_age)}.",
            evidence=evidence,
        )
    ]
