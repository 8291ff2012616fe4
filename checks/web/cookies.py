"""web.cookies.secure: are the cookies the site sets over HTTPS marked Secure, HttpOnly and SameSite?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Status, Target, check
from secbase.parse.cookies import CookieParseError, SetCookie, parse_set_cookie

from .._text import clean
from .https import is_https, judgeable_page

# RFC 6265bis: the SameSite values a browser knows; any other value counts as no SameSite.
SAME_SITE_VALUES = frozenset({"strict", "lax", "none"})
_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def _evidence(raw: str, cookie: SetCookie) -> str:
    """The Set-Cookie header with the cookie's value hidden: it may be someone's session."""
    _pair, _, attributes = raw.partition(";")
    hidden = "(value hidden)" if cookie.value else ""
    return clean(f"Set-Cookie: {cookie.name}={hidden}" + (f";{attributes}" if attributes else ""))


@check(id="web.cookies.secure", severity="medium", target="website", facts=("http",))
def cookies_secure(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Each cookie set over HTTPS has Secure (else fail), HttpOnly and SameSite (else warn); subject: its name."""
    page = judgeable_page(cookies_secure, target, facts)
    if isinstance(page, Result):
        return [page]
    answer, _final = page
    worst: dict[str, Result] = {}
    # Cookies set by a redirect on the way count too: the browser keeps them like any other.
    for hop in answer.hops:
        if not is_https(hop.url):
            continue
        for raw in hop.header("set-cookie"):
            try:
                cookie = parse_set_cookie(raw)
            except CookieParseError:
                continue  # browsers ignore the whole header, so there is no cookie to judge
            if cookie.max_age is not None and cookie.max_age <= 0:
                continue  # RFC 6265 5.2.2: this deletes a cookie rather than setting one
            result = _judge(target, cookie, raw)
            # The same name set twice (on a redirect and on the page): the weaker one is reported.
            old = worst.get(result.subject)
            if old is None or _RANK[result.status] >= _RANK[old.status]:
                worst[result.subject] = result
    if not worst:
        return [Result.passed(cookies_secure, target, "The site sets no cookies on its home page.")]
    return list(worst.values())


def _listed(words: list[str]) -> str:
    """Join words as a sentence does: A; A and B; A, B and C."""
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]]))


def _judge(target: Target, cookie: SetCookie, raw: str) -> Result:
    name = clean(cookie.name, 100) or "(no name)"  # "" is the subject of "no cookies at all"
    evidence = _evidence(raw, cookie)
    lacking = [
        attribute
        for attribute, present in (
            ("Secure", cookie.secure),
            ("HttpOnly", cookie.http_only),
            ("SameSite", cookie.same_site in SAME_SITE_VALUES),
        )
        if not present
    ]
    if not cookie.secure:
        return Result.fail(
            cookies_secure,
            target,
            f'The cookie "{name}" lacks {_listed(lacking)}: without Secure, browsers also send it '
            "over unencrypted HTTP, where others on the network can read it.",
            subject=name,
            evidence=evidence,
        )
    if lacking:
        return Result.warn(
            cookies_secure,
            target,
            f'The cookie "{name}" lacks {_listed(lacking)}.',
            subject=name,
            evidence=evidence,
        )
    return Result.passed(
        cookies_secure,
        target,
        f'The cookie "{name}" is marked Secure, HttpOnly and SameSite.',
        subject=name,
        evidence=evidence,
    )
