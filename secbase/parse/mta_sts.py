"""MTA-STS (RFC 8461): the _mta-sts TXT record, the policy file, and matching MX hosts against it."""

import re
from dataclasses import dataclass
from functools import lru_cache

from secbase.parse import ParseError, clip
from secbase.parse._taglist import parse_tag_list


class MtaStsParseError(ParseError):
    """An MTA-STS TXT record or policy file that does not follow RFC 8461."""


@dataclass(frozen=True)
class MtaStsRecord:
    """A valid _mta-sts TXT record: the id that changes whenever the policy does."""

    id: str


@dataclass(frozen=True)
class MtaStsPolicy:
    """A valid policy file; ``mx`` holds the patterns as written, "*." wildcards included."""

    version: str
    mode: str
    max_age: int
    mx: tuple[str, ...]


# RFC 8461 3.1: senders discard TXT records that do not begin with "v=STSv1;" (case-sensitive, %s).
_VERSION = re.compile(r"v=STSv1[ \t]*;")
# RFC 8461 3.1: sts-id = %s"id=" 1*32(ALPHA / DIGIT).
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
# RFC 8461 3.1 and 3.2: sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]{0,31}")
# RFC 8461 3.1: sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E), visible ASCII except ";" and "=".
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")

# RFC 8461 3.3: senders should not accept a policy body larger than 64 KiB.
MAX_LENGTH = 64 * 1024
MAX_LINES = 1000
# RFC 8461 3.2: max_age is 1*10DIGIT with a maximum of 31557600 (one year).
MAX_AGE = 31557600
_MODES = ("enforce", "testing", "none")
# RFC 8461 3.2: key ":" *WSP value; blank lines and whitespace around the key are tolerated.
_LINE = re.compile(r"[ \t]*([^:]*?)[ \t]*:[ \t]*(.*?)[ \t]*", re.DOTALL)
# RFC 8461 3.2: sts-policy-mx-value = ["*."] Domain (RFC 5321 4.1.2); a trailing dot is tolerated.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_MX = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*\.?")


def is_mta_sts_record(text: str) -> bool:
    """RFC 8461 3.1: the record begins with "v=STSv1" and a ";" (the version is case-sensitive)."""
    return _VERSION.match(text) is not None


@lru_cache(maxsize=4096)  # pure, and a scan reads the same records many times
def parse_mta_sts_record(text: str) -> MtaStsRecord:
    """Parse a _mta-sts TXT record (the strings already joined); raises MtaStsParseError."""
    if not is_mta_sts_record(text):
        hint = ""
        if re.match(r"v=STSv1[ \t]*\Z", text):
            hint = ' (the version is there, but no "; id=..." follows it)'
        elif re.match(r"[ \t]*v[ \t]*=[ \t]*stsv1", text, re.IGNORECASE):
            hint = " (the version is case-sensitive and must come first, with no spaces around it)"
        raise MtaStsParseError(f'the record must start with "v=STSv1;"{hint}')
    try:
        tags = parse_tag_list(text, name_pattern=_NAME)
    except ParseError as error:
        raise MtaStsParseError(str(error)) from None
    values = dict(tags)
    # RFC 8461 3.1: field names are case-sensitive (%s"id="), so "ID" is an unknown extension.
    if "id" not in values:
        hint = " (tag names are case-sensitive)" if any(name.lower() == "id" for name in values) else ""
        raise MtaStsParseError(f'the record has no "id" tag{hint}')
    if not _ID.fullmatch(values["id"]):
        raise MtaStsParseError(f'id "{clip(values["id"])}" is not 1 to 32 letters and digits')
    for name, value in tags[1:]:
        if name != "id" and not _EXT_VALUE.fullmatch(value):
            raise MtaStsParseError(f'the value of tag "{clip(name)}" is empty or has a space, ";" or "="')
    return MtaStsRecord(id=values["id"])


@lru_cache(maxsize=4096)  # pure, and a scan reads the same files many times
def parse_mta_sts_policy(text: str) -> MtaStsPolicy:
    """Parse the policy file from https://mta-sts.<domain>/.well-known/mta-sts.txt; raises MtaStsParseError."""
    if len(text) > MAX_LENGTH:
        raise MtaStsParseError("the policy file is longer than 64 KiB, more than senders accept")
    # RFC 8461 3.2: sts-policy-term = LF / CRLF.
    lines = text.removeprefix("\ufeff").split("\n")
    if len(lines) > MAX_LINES:
        raise MtaStsParseError(
            f"the policy file has more than {MAX_LINES} lines, far more than a policy needs"
        )
    first: dict[str, str] = {}
    mx: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.removesuffix("\r")
        if not line.strip(" \t"):
            continue
        match = _LINE.fullmatch(line)
        if not match or not _NAME.fullmatch(match.group(1)):
            raise MtaStsParseError(f'line {number} "{clip(line.strip())}" is not a "key: value" line')
        key, value = match.groups()
        if key == "mx":
            if not _MX.fullmatch(value):
                raise MtaStsParseError(f'mx "{clip(value)}" is not a host name or a "*." pattern')
            mx.append(value)
        else:
            # RFC 8461 3.2 gives each key but mx once; a repeated one keeps its first value, as senders do.
            first.setdefault(key, value)

    version = _required(first, "version")
    if version != "STSv1":
        raise MtaStsParseError(f'version "{clip(version)}" is not "STSv1"{_case_hint(version, "STSv1")}')
    mode = _required(first, "mode")
    if mode not in _MODES:
        hint = " (the value is case-sensitive)" if mode.lower() in _MODES else ""
        raise MtaStsParseError(f'mode "{clip(mode)}" is not enforce, testing or none{hint}')
    max_age = _max_age(_required(first, "max_age"))
    # RFC 8461 3.2: one or more mx patterns; a policy in mode none protects nothing, so it may have none.
    if not mx and mode != "none":
        raise MtaStsParseError(f'the policy has no "mx" line, which mode {mode} requires')
    # RFC 8461 3.2: fields with other keys are ignored.
    return MtaStsPolicy(version=version, mode=mode, max_age=max_age, mx=tuple(mx))


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 4.1: does the MX host match the policy's mx pattern?

    A pattern matches the host exactly, or, as "*.example.com", any host with exactly one more label
    on the left ("mail.example.com", not "a.b.example.com" nor "example.com").  Case does not matter
    and a trailing dot on either is ignored.
    """
    pattern = pattern.lower().removesuffix(".")
    host = host.lower().removesuffix(".")
    if not pattern or not host:
        return False
    if pattern.startswith("*."):
        suffix = pattern[1:]  # ".example.com"
        label = host.removesuffix(suffix) if host.endswith(suffix) else ""
        return bool(label) and "." not in label and len(suffix) > 1
    return pattern == host


def _required(first: dict[str, str], key: str) -> str:
    if key in first:
        return first[key]
    # RFC 8461 3.2: keys are case-sensitive (%s), so "Mode:" is an unknown key, not mode.
    variant = next((name for name in first if name.lower() == key), None)
    hint = f' (keys are case-sensitive: the file has "{clip(variant)}")' if variant else ""
    raise MtaStsParseError(f'the policy has no "{key}" line{hint}')


def _case_hint(value: str, wanted: str) -> str:
    return " (the value is case-sensitive)" if value.lower() == wanted.lower() else ""


def _max_age(value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", value):
        raise MtaStsParseError(
            f'max_age "{clip(value)}" is not a whole number of seconds (at most 10 digits)'
        )
    if int(value) > MAX_AGE:
        raise MtaStsParseError(
            f"max_age {int(value)} is more than the maximum of {MAX_AGE} seconds (one year)"
        )
    return int(value)
