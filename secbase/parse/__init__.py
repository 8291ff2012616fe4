"""Pure parsers for what servers send us (SPF, DMARC, DKIM, TLS-RPT, HSTS, CSP, cookies, security.txt, MTA-STS)."""

import ipaddress
import re
from functools import lru_cache


class ParseError(ValueError):
    """A record that does not follow its format; the message is one plain-English sentence saying why."""


# Characters that must never reach a terminal or the store raw from a server: C0 and C1 controls (line
# breaks too), zero-width and direction-changing characters, line and paragraph separators, the BOM.
UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def clip(text: str, limit: int = 60) -> str:
    """Shorten a quoted piece of a record for an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text: str, limit: int) -> str:
    """Text a server, a tool or a person wrote, as one safe line: UNSAFE_CHARS replaced by spaces, cut to
    `limit` characters ("..." at the end when cut). For reasons, evidence and names kept in facts."""
    return clip(UNSAFE_CHARS.sub(" ", text[: limit + 1]), limit)


def escape(text: str) -> str:
    """UNSAFE_CHARS written out visibly (\\x1b, \\u202e) rather than replaced: for text shown as it was sent."""
    return UNSAFE_CHARS.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


def port_range(spec: int | str) -> tuple[int, int]:
    """A port (443, "443") or an inclusive range ("8000-8100") as (first, last); ValueError on anything else."""
    text = "" if isinstance(spec, bool) else str(spec).strip()
    low, sep, high = text.partition("-")
    low, high = low.strip(), high.strip()
    if not low.isdigit() or (sep and not high.isdigit()):
        raise ValueError(f"{spec!r} is not a port or a range of ports")
    first, last = int(low), int(high) if sep else int(low)
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"{spec!r} is not a port or a range of ports from 1 to 65535")
    return first, last


@lru_cache(maxsize=4096)  # the same hosts are asked about again and again in a scan
def ip_literal(host: str) -> str | None:
    """`host` written canonically if it is an IP address ("::0001" -> "::1"), else None: it is a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def mask(text: str) -> str:
    """Replace the password of every URL in `text` by *** (rest:https://user:pw@host/ -> user:***@host).

    A URL's user part runs from "://" to its LAST "@" (restic takes "@" in a password, and one may hold
    "/", ":" or a space too), and the password is what follows the user part's first ":". An "@" further
    on, in a path or another word, makes it hide more than the password: the safe side.

    Example:
        mask("rest:https://town:p@ss/w rd@nas:8000/repo") == "rest:https://town:***@nas:8000/repo"
    """
    out: list[str] = []
    rest = text
    while (start := rest.find("://")) >= 0:
        at = rest.rfind("@", start + 3)
        if at < 0:
            break
        user, colon, _ = rest[start + 3 : at].partition(":")
        out.append(rest[: start + 3] + (f"{user}:***" if colon else rest[start + 3 : at]) + "@")
        rest = rest[at + 1 :]
    out.append(rest)
    return "".join(out)


__all__ = ["UNSAFE_CHARS", "ParseError", "clip", "escape", "ip_literal", "mask", "one_line", "port_range"]
