"""SMTP TLS Reporting policy records (RFC 8460 section 3), the TXT at _smtp._tls.domain."""

import re
from dataclasses import dataclass
from functools import lru_cache

from secbase.parse import ParseError, clip
from secbase.parse._taglist import parse_tag_list


class TlsRptParseError(ParseError):
    """A TLS-RPT record that does not follow RFC 8460."""


@dataclass(frozen=True)
class TlsRptRecord:
    """A valid TLS-RPT record: where aggregate reports go, each URI as written."""

    rua: tuple[str, ...]


# RFC 8460 3: tlsrpt-version = %s"v=TLSRPTv1" (case-sensitive), then field-delim = *WSP ";" *WSP.
_VERSION = re.compile(r"v=TLSRPTv1[ \t]*(?:;|\Z)")
# RFC 8460 3: tlsrpt-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]{0,31}")
_MAILTO = re.compile(r"mailto:[^@?]+@[A-Za-z0-9_\-.]+(?:\?.*)?", re.IGNORECASE | re.DOTALL)
_HTTPS = re.compile(r"https://[A-Za-z0-9_\-.\[\]:]+(?:[/?].*)?", re.IGNORECASE | re.DOTALL)


def is_tlsrpt(text: str) -> bool:
    """RFC 8460 3: the record begins with "v=TLSRPTv1" followed by ";" or the end."""
    return _VERSION.match(text) is not None


@lru_cache(maxsize=4096)  # pure, and a scan reads the same records many times
def parse_tlsrpt(text: str) -> TlsRptRecord:
    """Parse a TLS-RPT TXT record (the strings already joined); raises TlsRptParseError."""
    if not is_tlsrpt(text):
        raise TlsRptParseError('the record must start with "v=TLSRPTv1"')
    try:
        tags = dict(parse_tag_list(text, name_pattern=_NAME))
    except ParseError as error:
        raise TlsRptParseError(str(error)) from None
    # RFC 8460 3: rua is the one required field; field names are case-sensitive (%s).
    if "rua" not in tags:
        raise TlsRptParseError('the record has no "rua=" tag (where reports are sent)')
    return TlsRptRecord(rua=tuple(_uri(part.strip(" \t\r\n")) for part in tags["rua"].split(",")))


def _uri(uri: str) -> str:
    if not uri:
        raise TlsRptParseError("rua has an empty URI (a stray comma, or no value)")
    bad = next((c for c in uri if not "!" <= c <= "~"), None)
    if bad is not None:
        raise TlsRptParseError(
            f'rua URI "{clip(uri)}" contains the character {bad!r} (separate URIs with commas)'
        )
    scheme = uri.partition(":")[0].lower()
    # RFC 8460 3: the report URI is "mailto:" (email reports) or "https:" (HTTP POST).
    if scheme not in ("mailto", "https"):
        raise TlsRptParseError(f'rua URI "{clip(uri)}" is not a mailto: or https: URI')
    if scheme == "mailto" and not _MAILTO.fullmatch(uri):
        raise TlsRptParseError(f'rua URI "{clip(uri)}" is not an email address (expected mailto:name@domain)')
    if scheme == "https" and not _HTTPS.fullmatch(uri):
        raise TlsRptParseError(f'rua URI "{clip(uri)}" has no host (expected https://host/path)')
    return uri
