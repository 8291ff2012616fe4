"""web.software.disclosed: does the HTTPS page tell visitors which software, and which version, it runs?"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import islice
from typing import Any

from secbase import Facts, Result, Target, check
from secbase.facts import HttpHop

from .._text import clean, join_lines
from .https import EVIDENCE_CHARS, judgeable_page

MAX_META_TAGS = 500
# A <meta ...> tag. "[^<>]" stops each try at the next tag, so a hostile page costs linear time.
_META = re.compile(r"<meta\b([^<>]{0,2000})>", re.IGNORECASE)
# An HTML attribute: name = "value", 'value' or value.
_ATTRIBUTE = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]{0,50})\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
# A version number: "2.4.57", "/2", "/v3" (Apache/2.4.57, nginx/1.25.3, Microsoft-IIS/10.0).
_VERSION = re.compile(r"\d{1,6}(?:\.\d{1,6})+|/v?\d")
# Headers whose mere presence names the software: any value of theirs is disclosed.
NAMING_HEADERS = ("X-Powered-By", "X-Generator", "X-AspNet-Version")


def generators(body: str) -> list[str]:
    """The content of every <meta name="generator"> tag of a page (WordPress 6.4.2, Joomla! ...)."""
    found = []
    for tag in islice(_META.finditer(body), MAX_META_TAGS):
        attributes = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) or m.group(4) or ""
            for m in _ATTRIBUTE.finditer(tag.group(1))
        }
        content = attributes.get("content", "").strip()
        if attributes.get("name", "").strip().lower() == "generator" and content:
            found.append(content)
    return found


def disclosures(hop: HttpHop, body: str) -> list[str]:
    """Each thing the page or its headers say about the software behind it, as "where: what"."""
    found = [f'<meta name="generator">: {g}' for g in generators(body)]
    found += [f"Server: {v}" for v in hop.header("server") if _VERSION.search(v)]
    found += [f"{name}: {v}" for name in NAMING_HEADERS for v in hop.header(name) if v.strip()]
    return [clean(f, 100) for f in found]


@check(id="web.software.disclosed", severity="low", target="website", facts=("http",))
def software_disclosed(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The HTTPS page names no CMS and no server version (generator tag, Server, X-Powered-By)."""
    page = judgeable_page(software_disclosed, target, facts)
    if isinstance(page, Result):
        return [page]
    answer, hop = page
    found = disclosures(hop, answer.body)
    if not found and answer.body_truncated:
        # The rest of the page was never read: it may name its software further down.
        return [
            Result.error(
                software_disclosed,
                target,
                "the page is larger than 1 MiB and only its start was read; that part names no software",
            )
        ]
    if not found:
        return [
            Result.passed(
                software_disclosed,
                target,
                "The page and its headers do not name the software or its version.",
            )
        ]
    named = "; ".join(f.split(": ", 1)[1] for f in found)
    return [
        Result.warn(
            software_disclosed,
            target,
            f"The website tells every visitor which software it runs: {clean(named, 120)}.",
            evidence=join_lines(found, EVIDENCE_CHARS),
        )
    ]
