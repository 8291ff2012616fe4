"""DMARC policy records (RFC 7489 section 6): the tags, the policy, and the report URIs."""

import re
from dataclasses import dataclass
from functools import lru_cache

from secbase.parse import ParseError, clip
from secbase.parse._taglist import parse_tag_list


class DmarcParseError(ParseError):
    """A DMARC record that does not follow RFC 7489."""


@dataclass(frozen=True)
class DmarcUri:
    """One report destination from rua= or ruf=."""

    uri: str
    scheme: str
    address: str
    domain: str | None
    size_limit: str | None  # the suffix as written, "!" included, e.g. "!10m"


@dataclass(frozen=True)
class DmarcRecord:
    """A valid DMARC record; ``tags`` keeps every tag, unknown ones too, with lower-case names."""

    tags: tuple[tuple[str, str], ...]
    p: str
    sp: str | None
    pct: int
    rua: tuple[DmarcUri, ...]
    ruf: tuple[DmarcUri, ...]
    adkim: str
    aspf: str


_POLICIES = ("none", "quarantine", "reject")
# RFC 7489 6.4: dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31, i.e. "DMARC1" in exactly
# that case, followed by dmarc-sep (*WSP ";") or the end of the record.
_VERSION = re.compile(r"[vV][ \t]*=[ \t]*DMARC1[ \t]*(?:;|\Z)")
_LOOSE_VERSION = re.compile(r"v\s*=\s*dmarc1", re.IGNORECASE)
# RFC 7489 6.4: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ].
_SIZE = re.compile(r"[0-9]+[kmgtKMGT]?")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.+)", re.DOTALL)
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,61}[A-Za-z0-9_])?")


def is_dmarc(text: str) -> bool:
    """RFC 7489 6.6.3: the record starts with the tag v=DMARC1 (the version value is case-sensitive)."""
    return _VERSION.match(text) is not None


def looks_like_dmarc(text: str) -> bool:
    """True when "v=DMARC1" appears anywhere in any case: a record meant as DMARC, even if broken."""
    return _LOOSE_VERSION.search(text) is not None


@lru_cache(maxsize=4096)  # pure, and a scan reads the same records many times
def parse_dmarc(text: str) -> DmarcRecord:
    """Parse a DMARC TXT record (the strings already joined); raises DmarcParseError."""
    if not is_dmarc(text):
        hint = ""
        if _LOOSE_VERSION.match(text.lstrip(" \t")):
            hint = " (the version is case-sensitive and must come first, with nothing before it)"
        raise DmarcParseError(f'the record must start with "v=DMARC1"{hint}')
    try:
        raw = parse_tag_list(text)
    except ParseError as error:
        raise DmarcParseError(str(error)) from None
    # RFC 7489 6.4: tag names are case-insensitive ABNF strings, so "P" and "p" are the same tag.
    tags = tuple((name.lower(), value) for name, value in raw)
    values: dict[str, str] = {}
    for name, value in tags:
        if name in values:
            raise DmarcParseError(f'tag "{name}" appears more than once')
        values[name] = value

    if "p" not in values:
        raise DmarcParseError('the record has no "p" tag (the policy: none, quarantine or reject)')
    p = _policy(values["p"], "p")
    sp = _policy(values["sp"], "sp") if "sp" in values else None
    pct = _pct(values.get("pct"))
    adkim = _alignment(values.get("adkim"), "adkim")
    aspf = _alignment(values.get("aspf"), "aspf")
    rua = _uris(values["rua"], "rua") if "rua" in values else ()
    ruf = _uris(values["ruf"], "ruf") if "ruf" in values else ()
    # RFC 7489 6.3: unknown tags MUST be ignored; they stay in ``tags`` for reporting.
    return DmarcRecord(tags=tags, p=p, sp=sp, pct=pct, rua=rua, ruf=ruf, adkim=adkim, aspf=aspf)


def _policy(value: str, tag: str) -> str:
    if value.lower() not in _POLICIES:
        raise DmarcParseError(f'{tag}="{clip(value)}" is not a policy (expected none, quarantine or reject)')
    return value.lower()


def _pct(value: str | None) -> int:
    if value is None:
        return 100
    # RFC 7489 6.4: dmarc-percent = "pct" *WSP "=" *WSP 1*3DIGIT, a value from 0 to 100.
    if not re.fullmatch(r"[0-9]{1,3}", value) or int(value) > 100:
        raise DmarcParseError(f'pct="{clip(value)}" is not a whole number from 0 to 100')
    return int(value)


def _alignment(value: str | None, tag: str) -> str:
    if value is None:
        return "r"
    if value.lower() not in ("r", "s"):
        raise DmarcParseError(f'{tag}="{clip(value)}" must be "r" (relaxed) or "s" (strict)')
    return value.lower()


def _uris(value: str, tag: str) -> tuple[DmarcUri, ...]:
    # RFC 7489 6.4: dmarc-urilist = dmarc-uri *(*WSP "," *WSP dmarc-uri); a literal "," inside a URI
    # must be percent-encoded (6.2), so splitting on commas is exact.
    return tuple(_uri(part.strip(" \t\r\n"), tag) for part in value.split(","))


def _uri(text: str, tag: str) -> DmarcUri:
    if not text:
        raise DmarcParseError(f"{tag} has an empty URI (a stray comma, or no value)")
    bad = next((c for c in text if not "!" <= c <= "~"), None)
    if bad is not None:
        raise DmarcParseError(
            f'{tag} URI "{clip(text)}" contains the character {bad!r} (separate URIs with commas)'
        )
    # RFC 7489 6.2: a "!" inside a URI must be percent-encoded, so the first one starts the size limit.
    base, bang, size = text.partition("!")
    if bang and not _SIZE.fullmatch(size):
        raise DmarcParseError(
            f'{tag} URI "{clip(text)}" has a bad size limit "!{clip(size, 12)}" '
            "(expected digits and an optional k, m, g or t)"
        )
    match = _SCHEME.fullmatch(base)
    if not match:
        raise DmarcParseError(
            f'{tag} value "{clip(text)}" is not a URI (expected e.g. mailto:reports@example.org)'
        )
    scheme, rest = match.group(1).lower(), match.group(2)
    domain = None
    if scheme == "mailto":
        local, at, host = rest.partition("?")[0].rpartition("@")
        if not at:
            raise DmarcParseError(f'{tag} address "{clip(text)}" has no "@"')
        if not local:
            raise DmarcParseError(f'{tag} address "{clip(text)}" has nothing before the "@"')
        labels = (host[:-1] if host.endswith(".") else host).split(".")
        if not all(_LABEL.fullmatch(label) for label in labels):
            raise DmarcParseError(f'{tag} address "{clip(text)}" has an invalid domain "{clip(host, 40)}"')
        domain = host.lower()
    return DmarcUri(
        uri=text,
        scheme=scheme,
        address=rest if scheme == "mailto" else base,
        domain=domain,
        size_limit=bang + size if bang else None,
    )
