"""Set-Cookie response headers, read with the lenient user-agent algorithm of RFC 6265 section 5.2."""

import re
from dataclasses import dataclass
from functools import lru_cache

from secbase.parse import ParseError


class CookieParseError(ParseError):
    """A Set-Cookie header that a browser ignores entirely (RFC 6265 5.2)."""


@dataclass(frozen=True)
class SetCookie:
    """One cookie as a browser reads it; for each attribute the last valid occurrence wins (RFC 6265 5.3).

    ``same_site`` is the SameSite value lower-cased ("strict", "lax", "none", or whatever else was
    written, "" for a bare SameSite), None when absent.  ``domain`` is lower-cased with a leading "."
    removed (RFC 6265 5.2.3).  ``path`` is None when absent or not starting with "/" (the browser then
    uses the request's default path, RFC 6265 5.2.4).  ``expires`` is the Expires value as written: the
    cookie-date is not interpreted.  ``max_age`` may be negative or 0 (the cookie expires at once).
    """

    name: str
    value: str
    secure: bool
    http_only: bool
    same_site: str | None
    domain: str | None
    path: str | None
    max_age: int | None
    expires: str | None


# Work limits for values sent by hostile servers; browsers keep at most 4 KiB of a cookie.
MAX_LENGTH = 64 * 1024
MAX_ATTRIBUTES = 1000
# A Max-Age longer than this many digits is read as the largest 18-digit number (about 31 billion
# years); it avoids Python's limit on converting very long digit strings and changes no verdict.
_MAX_DIGITS = 18

# RFC 6265 5.2: "whitespace" in this algorithm is WSP, that is SP and HTAB only.
_WSP = " \t"
# RFC 6265 5.2.2: Max-Age is an optional "-" then DIGITs; anything else makes the attribute ignored.
_MAX_AGE = re.compile(r"(-?)([0-9]+)")


@lru_cache(maxsize=4096)  # pure, and a scan reads the same headers many times
def parse_set_cookie(value: str) -> SetCookie:
    """Parse one Set-Cookie header value (without "Set-Cookie:"); raises CookieParseError.

    Give each Set-Cookie header separately: they must never be joined with "," (RFC 6265 3 and RFC 9110
    5.3), because Expires dates contain commas, so a joined value cannot be split back reliably.
    """
    if len(value) > MAX_LENGTH:
        raise CookieParseError("the header is longer than 64 KiB, far more than any browser keeps")
    # RFC 6265 5.2 step 1: the name-value-pair runs to the first ";"; the rest holds the attributes.
    pair, _, attributes = value.partition(";")
    # Step 2: without "=" in the name-value-pair, the user agent ignores the whole header.
    if "=" not in pair:
        raise CookieParseError(
            'the cookie has no "=" between its name and value, so browsers ignore the whole header'
        )
    # Steps 3-4: name before the first "=", value after it, WSP around each removed.
    name, _, cookie_value = pair.partition("=")
    name, cookie_value = name.strip(_WSP), cookie_value.strip(_WSP)
    # Step 5 of RFC 6265 ignores an empty name; browsers now follow RFC 6265bis, which keeps a cookie
    # with an empty name and a value, and ignores it only when the name and the value are both empty.
    if not name and not cookie_value:
        raise CookieParseError(
            "the cookie has neither a name nor a value, so browsers ignore the whole header"
        )

    secure = http_only = False
    same_site = domain = path = expires = None
    max_age: int | None = None
    for av in attributes.split(";")[:MAX_ATTRIBUTES]:
        # RFC 6265 5.2: attribute name before the first "=", value after it (or empty), WSP removed.
        raw_name, _, raw_value = av.partition("=")
        attribute, attribute_value = raw_name.strip(_WSP).lower(), raw_value.strip(_WSP)
        # RFC 6265 5.2 step 4 and its subsections: attribute names are matched case-insensitively.
        if attribute == "secure":  # 5.2.5
            secure = True
        elif attribute == "httponly":  # 5.2.6
            http_only = True
        elif attribute == "samesite":  # RFC 6265bis: the value too is case-insensitive
            same_site = attribute_value.lower()
        elif attribute == "domain" and attribute_value:  # 5.2.3: an empty Domain is ignored
            domain = attribute_value.removeprefix(".").lower()
        elif attribute == "path":  # 5.2.4: a value not starting with "/" means the default path
            path = attribute_value if attribute_value.startswith("/") else None
        elif attribute == "max-age":  # 5.2.2
            max_age = _max_age(attribute_value, max_age)
        elif attribute == "expires" and attribute_value:  # 5.2.1 (the date is kept as written)
            expires = attribute_value
        # Unknown attributes are ignored (RFC 6265 5.2 step 4).
    return SetCookie(
        name=name,
        value=cookie_value,
        secure=secure,
        http_only=http_only,
        same_site=same_site,
        domain=domain,
        path=path,
        max_age=max_age,
        expires=expires,
    )


def _max_age(value: str, previous: int | None) -> int | None:
    match = _MAX_AGE.fullmatch(value)
    if not match:
        return previous  # RFC 6265 5.2.2: ignore the cookie-av
    digits = match.group(2).lstrip("0") or "0"
    number = int(digits) if len(digits) <= _MAX_DIGITS else int("9" * _MAX_DIGITS)
    return -number if match.group(1) else number
