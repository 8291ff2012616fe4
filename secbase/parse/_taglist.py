"""The RFC 6376 section 3.2 tag=value list shared by the DMARC, DKIM and TLS-RPT parsers."""

import re
from collections.abc import Sequence

from secbase.parse import ParseError, clip

# RFC 6376 3.2: tag-name = ALPHA *ALNUMPUNC, ALNUMPUNC = ALPHA / DIGIT / "_" (ASCII only, hence no \w).
TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# Folding whitespace (RFC 5322 FWS: WSP and CRLF) may surround names and values.
_FWS = " \t\r\n"

# RFC 6376 3.2: VALCHAR = %x21-3A / %x3C-7E, with WSP/FWS allowed between runs of them.
_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e \t\r\n]*")


def parse_tag_list(text: str, *, name_pattern: re.Pattern[str] = TAG_NAME) -> list[tuple[str, str]]:
    """Split ``text`` into (name, value) pairs, names as written, whitespace around names and values removed.

    ``name_pattern`` lets a format with a wider name grammar (TLS-RPT extensions) reuse the splitting.
    """
    tags: list[tuple[str, str]] = []
    seen: set[str] = set()
    for segment in text.split(";"):
        # A trailing ";" is allowed by the grammar; an empty ";;" segment is tolerated because real
        # records contain them and every common validator accepts them.
        if not segment.strip(_FWS):
            continue
        if "=" not in segment:
            raise ParseError(f'"{clip(segment.strip(_FWS))}" is not a tag (expected name=value)')
        raw_name, raw_value = segment.split("=", 1)
        name = raw_name.strip(_FWS)
        value = raw_value.strip(_FWS)
        if not name:
            raise ParseError(f'a tag has no name before "=" (in "{clip(segment.strip(_FWS))}")')
        if not name_pattern.fullmatch(name):
            raise ParseError(f'"{clip(name)}" is not a valid tag name')
        if not _VALUE.fullmatch(value):
            bad = next(c for c in value if not _VALUE.fullmatch(c))
            raise ParseError(f'tag "{name}" contains the character {bad!r}, which is not printable ASCII')
        # RFC 6376 3.2: a tag name occurring more than once makes the whole tag-list invalid.
        if name in seen:
            raise ParseError(f'tag "{name}" appears more than once')
        seen.add(name)
        tags.append((name, value))
    return tags


def get_tag(tags: Sequence[tuple[str, str]], name: str, *, ignore_case: bool = False) -> str | None:
    """The value of the first tag called ``name``, or None."""
    wanted = name.lower() if ignore_case else name
    for tag_name, value in tags:
        if (tag_name.lower() if ignore_case else tag_name) == wanted:
            return value
    return None


def tag_names(tags: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The tag names in order, as written."""
    return tuple(name for name, _ in tags)
