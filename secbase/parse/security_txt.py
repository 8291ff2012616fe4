"""security.txt files (RFC 9116): the fields, the Expires date, and what is wrong with them."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from secbase.parse import ParseError, clip


class SecurityTxtParseError(ParseError):
    """A text that is clearly not a security.txt file at all (a web page, or no fields)."""


@dataclass(frozen=True)
class SecurityTxt:
    """The fields of a security.txt file, values as written, in file order.

    ``expires`` is the first Expires field as a timezone-aware UTC time, None when missing or
    unreadable; comparing it with the current time is the caller's job.  ``signed`` says the file has
    the framing of a PGP cleartext signature; the signature itself is not verified.  ``problems``
    holds one plain-English sentence for each thing RFC 9116 does not allow (missing Contact or
    Expires, a repeated Expires, an unreadable date, a line that is not a field, ...).
    """

    contacts: tuple[str, ...]
    expires: datetime | None
    expires_raw: str | None
    encryption: tuple[str, ...]
    acknowledgments: tuple[str, ...]
    preferred_languages: tuple[str, ...]
    canonical: tuple[str, ...]
    policy: tuple[str, ...]
    hiring: tuple[str, ...]
    signed: bool
    problems: tuple[str, ...]


# Work limits for files sent by hostile servers; real files are a few dozen lines.
MAX_LENGTH = 64 * 1024
MAX_LINES = 1000
# Lines that are not fields are listed one by one up to this many, then counted.
_MAX_LINE_PROBLEMS = 5

# RFC 9116 2.5: the registered fields, by lower-cased name (2.4: field names are case-insensitive).
_FIELDS = {
    name.lower(): name
    for name in (
        "Acknowledgments",
        "Canonical",
        "Contact",
        "Encryption",
        "Expires",
        "Hiring",
        "Policy",
        "Preferred-Languages",
    )
}
# RFC 9116 2.5: these hold URIs, and a web URI in any of them MUST begin with "https://".
_URI_FIELDS = ("contact", "encryption", "acknowledgments", "canonical", "policy", "hiring")

# RFC 9116 4: field = field-name ":" [WSP] value; names in practice are letters, digits and "-".
_FIELD = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)[ \t]*:[ \t]*(.*?)[ \t]*", re.DOTALL)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# RFC 3339 5.6 date-time, also taking ISO 8601's space separator, a lower-case "t"/"z", an offset
# without a colon, and no offset at all (reported as a problem and read as UTC).
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?"
)

# RFC 4880 7: the cleartext signature framework that RFC 9116 2.3 uses for signed files.
_BEGIN_SIGNED = "-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = "-----BEGIN PGP SIGNATURE-----"
_END_SIGNATURE = "-----END PGP SIGNATURE-----"
_ARMOR_HEADER = re.compile(r"Hash[ \t]*:.*", re.IGNORECASE | re.DOTALL)


def parse_security_txt(text: str) -> SecurityTxt:
    """Parse a security.txt file already decoded to text; raises SecurityTxtParseError.

    Only the first 64 KiB and 1000 lines are read; a longer file gets a ``problems`` entry.
    """
    # Only the part that is read reaches the cache, so a huge file is not kept in memory.
    return _parse(text[: MAX_LENGTH + 1])


@lru_cache(maxsize=4096)  # pure, and a scan reads the same files many times
def _parse(text: str) -> SecurityTxt:
    problems: list[str] = []
    if len(text) > MAX_LENGTH:
        text = text[:MAX_LENGTH]
        # Drop the line cut in two, unless the whole head is one line.
        text = text[: text.rfind("\n")] if "\n" in text else text
        problems.append("the file is longer than 64 KiB; only the first 64 KiB were read")
    text = text.removeprefix("\ufeff")  # a byte order mark is not part of the first field name
    if not text.strip():
        raise SecurityTxtParseError("the file is empty")
    # A server that answers every path with its home page or an error page sends HTML.
    if text.lstrip().startswith("<"):
        raise SecurityTxtParseError("the file is a web page (HTML), not a security.txt")
    # RFC 9116 2.2: lines end in CRLF or LF.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        problems.append(f"the file is longer than {MAX_LINES} lines; only the first {MAX_LINES} were read")
    content, signed = _signed_content(lines, problems)

    values: dict[str, list[str]] = {name: [] for name in _FIELDS}
    bad_lines: list[int] = []
    any_field = False
    for number, line in content:
        stripped = line.strip(" \t")
        # RFC 9116 2.1: a line starting with "#" is a comment; empty lines are allowed (4: *line).
        if not stripped or stripped.startswith("#"):
            continue
        match = _FIELD.fullmatch(stripped)
        if not match:
            bad_lines.append(number)
            continue
        any_field = True
        key, value = match.group(1).lower(), match.group(2)
        # RFC 9116 2.4: fields that are not registered are ignored.
        if key not in _FIELDS:
            continue
        if not value:
            problems.append(f"the {_FIELDS[key]} field on line {number} is empty")
            continue
        values[key].append(value)
    if not any_field:
        raise SecurityTxtParseError('the file has no "Field: value" lines, so it is not a security.txt')

    problems.extend(
        f'line {n} is not a "Field: value" line or a "#" comment' for n in bad_lines[:_MAX_LINE_PROBLEMS]
    )
    if len(bad_lines) > _MAX_LINE_PROBLEMS:
        problems.append(f"{len(bad_lines) - _MAX_LINE_PROBLEMS} more lines are not fields or comments")
    # RFC 9116 2.5.3: at least one Contact field is required.
    if not values["contact"]:
        problems.append("the file has no Contact field, which RFC 9116 requires")
    for key in _URI_FIELDS:
        for value in values[key]:
            problem = _uri_problem(_FIELDS[key], value)
            if problem:
                problems.append(problem)

    expires: datetime | None = None
    expires_raw = values["expires"][0] if values["expires"] else None
    # RFC 9116 2.5.5: Expires is required and MUST NOT appear more than once.
    if expires_raw is None:
        problems.append("the file has no Expires field, which RFC 9116 requires")
    else:
        if len(values["expires"]) > 1:
            problems.append("the Expires field appears more than once; only the first is read")
        expires, date_problem = _date_time(expires_raw)
        if date_problem:
            problems.append(date_problem)

    # RFC 9116 2.5.8: Preferred-Languages is a comma-separated list and MUST NOT appear more than once.
    languages: tuple[str, ...] = ()
    if values["preferred-languages"]:
        if len(values["preferred-languages"]) > 1:
            problems.append("the Preferred-Languages field appears more than once; only the first is read")
        languages = tuple(
            part.strip(" \t") for part in values["preferred-languages"][0].split(",") if part.strip(" \t")
        )

    return SecurityTxt(
        contacts=tuple(values["contact"]),
        expires=expires,
        expires_raw=expires_raw,
        encryption=tuple(values["encryption"]),
        acknowledgments=tuple(values["acknowledgments"]),
        preferred_languages=languages,
        canonical=tuple(values["canonical"]),
        policy=tuple(values["policy"]),
        hiring=tuple(values["hiring"]),
        signed=signed,
        problems=tuple(problems),
    )


def _signed_content(lines: list[str], problems: list[str]) -> tuple[list[tuple[int, str]], bool]:
    """The numbered lines to read as fields, and whether they came from a PGP cleartext signature."""
    begin = next((i for i, line in enumerate(lines) if line.strip(" \t") == _BEGIN_SIGNED), None)
    if begin is None:
        return list(enumerate(lines, 1)), False
    if any(line.strip() for line in lines[:begin]):
        problems.append("the text before the PGP signed message is not signed and was ignored")
    # RFC 4880 7: armor headers ("Hash: SHA256") follow the first line, then an empty line.
    start = begin + 1
    while start < len(lines) and _ARMOR_HEADER.fullmatch(lines[start].strip(" \t")):
        start += 1
    if start < len(lines) and not lines[start].strip(" \t"):
        start += 1
    content: list[tuple[int, str]] = []
    end = None
    for index in range(start, len(lines)):
        line = lines[index]
        if line.strip(" \t") == _BEGIN_SIGNATURE:
            end = index
            break
        # RFC 4880 7.1: a line starting with "-" is dash-escaped as "- ".
        content.append((index + 1, line[2:] if line.startswith("- ") else line))
    if end is None:
        problems.append("the PGP signed message has no signature block after it")
    else:
        close = next((i for i in range(end, len(lines)) if lines[i].strip(" \t") == _END_SIGNATURE), None)
        if close is None:
            problems.append("the PGP signature block has no end line")
        elif any(line.strip() for line in lines[close + 1 :]):
            problems.append("the text after the PGP signature is not signed and was ignored")
    return content, True


def _uri_problem(field: str, value: str) -> str | None:
    if not _SCHEME.match(value):
        if field == "Contact" and "@" in value:
            return f'Contact "{clip(value)}" is not a URI: an email address needs "mailto:" in front'
        return f'{field} "{clip(value)}" is not a URI (expected e.g. https://... or mailto:...)'
    if value.lower().startswith("http:"):
        return f'{field} "{clip(value)}" uses http://, but RFC 9116 requires https:// for web addresses'
    return None


def _date_time(raw: str) -> tuple[datetime | None, str | None]:
    """RFC 9116 2.5.5: Expires is an RFC 3339 date-time; returns it in UTC and any problem with it."""
    unreadable = f'Expires "{clip(raw)}" is not a date and time like 2026-12-31T23:59:59Z'
    match = _DATE_TIME.fullmatch(raw)
    if not match:
        return None, unreadable
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    # RFC 3339 5.6: second 60 is a leap second; datetime has none, so it is read as 59.
    second = 59 if second == 60 else second
    microsecond = int((match.group(7) or "0")[:6].ljust(6, "0"))
    problem = None
    if match.group(8):
        offset = timedelta(0)
    elif match.group(9):
        hours, minutes = int(match.group(10)), int(match.group(11))
        if hours > 23 or minutes > 59:
            return None, unreadable
        offset = (-1 if match.group(9) == "-" else 1) * timedelta(hours=hours, minutes=minutes)
    else:
        offset = timedelta(0)
        problem = f'Expires "{clip(raw)}" has no time zone, so it was read as UTC (add "Z" for UTC)'
    try:
        moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=timezone(offset))
        return moment.astimezone(UTC), problem
    except (ValueError, OverflowError):  # February 30th, hour 24, or a year outside 1-9999 in UTC
        return None, unreadable
