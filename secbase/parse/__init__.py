"""Pure parsers for what servers send us (SPF, DMARC, DKIM, TLS-RPT, HSTS, CSP, cookies, security.txt, MTA-STS)."""

import re


class ParseError(ValueError):
    """A record that does not follow its format; the message is one plain-English sentence saying why."""


# Characters that must never reach a terminal or the store raw from a server: C0 and C1 controls (line
# breaks too), zero-width and direction-changing characters, line and paragraph separators, the BOM.
UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def clip(text: str, limit: int = 60) -> str:
    """Shorten a quoted piece of a record for an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["UNSAFE_CHARS", "ParseError", "clip"]
