"""Strict-Transport-Security response headers (RFC 6797 section 6.1): max-age, includeSubDomains, preload."""

import re
from dataclasses import dataclass
from functools import lru_cache

from secbase.parse import ParseError, clip


class HstsParseError(ParseError):
    """A Strict-Transport-Security header that does not follow RFC 6797."""


@dataclass(frozen=True)
class HstsPolicy:
    """A valid HSTS header; ``directives`` keeps every directive, unknown ones too, names lower-cased.

    ``max_age`` is None when the header has no max-age: RFC 6797 6.1.1 makes it required, and a browser
    ignores such a header, but saying so is the check's job.  Values are unquoted; a directive written
    without "=" has the value None.
    """

    max_age: int | None
    include_subdomains: bool
    preload: bool
    directives: tuple[tuple[str, str | None], ...]


# Work limits for values sent by hostile servers; real headers are well under 200 characters.
MAX_LENGTH = 64 * 1024
MAX_DIRECTIVES = 1000
# A max-age longer than this many digits is read as the largest 18-digit number (about 31 billion
# years); it avoids Python's limit on converting very long digit strings and changes no verdict.
_MAX_DIGITS = 18

_OWS = re.compile(r"[ \t]*")
# RFC 6797 6.1: directive-name = token; directive-value = token / quoted-string (RFC 2616 2.2).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# quoted-string: qdtext (any visible or non-ASCII character but '"' and "\") or a quoted-pair "\" char.
_QUOTED = re.compile(r'"((?:[\t !#-\[\]-~\x80-\U0010ffff]|\\[\t -~\x80-\U0010ffff])*)"')
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
# RFC 6797 6.1.1: max-age-value = delta-seconds, and delta-seconds = 1*DIGIT.
_DIGITS = re.compile(r"[0-9]+")


@lru_cache(maxsize=4096)  # pure, and a scan reads the same headers many times
def parse_hsts(value: str) -> HstsPolicy:
    """Parse one Strict-Transport-Security header value; raises HstsParseError."""
    if not value.strip(" \t"):
        raise HstsParseError("empty header")
    if len(value) > MAX_LENGTH:
        raise HstsParseError(
            "the header is longer than 64 KiB, far more than any real one, so it was not read"
        )
    directives: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    pos = _skip_space(value, 0)
    # RFC 6797 6.1: [ directive ] *( ";" [ directive ] ), so empty directives between ";" are allowed.
    while pos < len(value):
        if value[pos] == ";":
            pos = _skip_space(value, pos + 1)
            continue
        name, directive_value, pos = _directive(value, pos)
        # RFC 6797 6.1 item 3: directive names are case-insensitive.
        name = name.lower()
        # RFC 6797 6.1 item 2: all directives MUST appear only once in an STS header field.
        if name in seen:
            raise HstsParseError(f'the directive "{clip(name)}" appears more than once')
        seen.add(name)
        directives.append((name, directive_value))
        if len(directives) > MAX_DIRECTIVES:
            raise HstsParseError(f"the header has more than {MAX_DIRECTIVES} directives, so it was not read")
        if pos < len(value) and value[pos] != ";":
            raise HstsParseError(
                f'the character {value[pos]!r} after the directive "{clip(name)}" should be ";" '
                "(directives are separated by semicolons)"
            )
    values = dict(directives)
    # RFC 6797 6.1 item 4: unrecognized directives are ignored; they stay in ``directives``.
    return HstsPolicy(
        max_age=_max_age(values["max-age"]) if "max-age" in values else None,
        include_subdomains="includesubdomains" in values,
        preload="preload" in values,
        directives=tuple(directives),
    )


def parse_hsts_headers(values: list[str]) -> HstsPolicy:
    """Parse the Strict-Transport-Security headers of one response, in the order they arrived.

    RFC 6797 8.1: when a response carries more than one STS header field, the user agent MUST process
    only the first, so only ``values[0]`` is read and the others are ignored even when broken.  Pass the
    header fields separately: an HTTP library that joins repeated headers with ", " produces a value
    that is not valid HSTS (a comma is not allowed outside a quoted string) and gives an HstsParseError.
    """
    if not values:
        raise HstsParseError("the response has no Strict-Transport-Security header")
    return parse_hsts(values[0])


def _skip_space(value: str, pos: int) -> int:
    match = _OWS.match(value, pos)
    return match.end() if match else pos


def _directive(value: str, pos: int) -> tuple[str, str | None, int]:
    """Read ``name [= value]`` at ``pos``; return it and the position of the next ";" or the end."""
    name_match = _TOKEN.match(value, pos)
    if not name_match:
        raise HstsParseError(
            f"the header has the character {value[pos]!r} where a directive name should start "
            f'(in "{clip(value[pos:])}")'
        )
    name = name_match.group()
    pos = _skip_space(value, name_match.end())
    if pos >= len(value) or value[pos] != "=":
        return name, None, pos
    pos = _skip_space(value, pos + 1)
    token = _TOKEN.match(value, pos)
    if token:
        return name, token.group(), _skip_space(value, token.end())
    quoted = _QUOTED.match(value, pos)
    if quoted:
        return name, _QUOTED_PAIR.sub(r"\1", quoted.group(1)), _skip_space(value, quoted.end())
    if pos < len(value) and value[pos] == '"':
        raise HstsParseError(f'the directive "{clip(name)}" has a quoted value with no closing quote')
    raise HstsParseError(f'the directive "{clip(name)}" has "=" but no valid value after it')


def _max_age(value: str | None) -> int:
    if value is None:
        raise HstsParseError('max-age has no value (expected e.g. "max-age=31536000")')
    # RFC 6797 6.1.1: delta-seconds is digits only: no sign, no decimal point, no unit.
    if not _DIGITS.fullmatch(value):
        raise HstsParseError(f'max-age "{clip(value)}" is not a whole number of seconds')
    digits = value.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else int("9" * _MAX_DIGITS)
