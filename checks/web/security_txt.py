"""web.security_txt: does the site publish a valid, unexpired /.well-known/security.txt (RFC 9116)?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check
from secbase.facts import HttpOutcome
from secbase.parse.security_txt import SecurityTxt, SecurityTxtParseError, parse_security_txt

from .._text import clean, join_lines
from .https import NO_HTTPS, URL_CHARS, chain_text, is_https, site_url

PATH = "/.well-known/security.txt"  # RFC 9116 3
MAX_CONTACTS_SHOWN = 3


def _evidence(parsed: SecurityTxt) -> str:
    lines = [f"Contact: {c}" for c in parsed.contacts[:MAX_CONTACTS_SHOWN]]
    if parsed.expires_raw is not None:
        lines.append(f"Expires: {parsed.expires_raw}")
    lines += [f"problem: {p}" for p in parsed.problems]
    return join_lines(lines, 600)


@check(id="web.security_txt", severity="info", target="website", facts=("http",))
def security_txt(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """https://HOST/.well-known/security.txt is plain text with a Contact and an Expires still in the future."""
    url = site_url(target, "https", PATH)
    answer = facts.http(url)
    if answer.error is not None:
        return [Result.error(security_txt, target, answer.error)]
    final = answer.final
    if final is None:  # nothing answered over HTTPS at all: another check's finding
        return [Result.error(security_txt, target, NO_HTTPS, evidence=chain_text(answer))]
    if answer.outcome is not HttpOutcome.OK:
        return [
            Result.warn(
                security_txt,
                target,
                f"No security.txt: its address leads nowhere ({clean(answer.reason, 200)}).",
                evidence=chain_text(answer),
            )
        ]
    if not is_https(final.url):  # RFC 9116 3: the file MUST be fetched over HTTPS
        return [
            Result.warn(
                security_txt,
                target,
                f"No security.txt over HTTPS: its address sends visitors to plain HTTP ({clean(final.url, URL_CHARS)}).",
                evidence=chain_text(answer),
            )
        ]
    if final.status != 200:
        return [
            Result.warn(
                security_txt,
                target,
                f"No security.txt: {PATH} answers with status {final.status}.",
                evidence=chain_text(answer),
            )
        ]
    content_types = final.header("content-type")
    media_type = content_types[0].split(";")[0].strip(" \t").lower() if content_types else ""
    if media_type and media_type != "text/plain":  # RFC 9116 3: text/plain
        return [
            Result.warn(
                security_txt,
                target,
                f'{PATH} is served as "{clean(media_type, 60)}", not as plain text, so it is not a valid security.txt.',
                evidence=chain_text(answer),
            )
        ]
    try:
        parsed = parse_security_txt(answer.body)
    except SecurityTxtParseError as exc:
        return [
            Result.warn(
                security_txt,
                target,
                f"{PATH} is not a security.txt: {exc}.",
                evidence=join_lines(answer.body[:1000].splitlines(), 200),
            )
        ]
    missing = []
    if not parsed.contacts:
        missing.append("no Contact")
    if parsed.expires is None:
        missing.append("no readable Expires date" if parsed.expires_raw else "no Expires date")
    elif parsed.expires <= facts.now:
        missing.append(f"it expired on {parsed.expires.date().isoformat()}")
    evidence = _evidence(parsed)
    if missing:
        return [
            Result.warn(
                security_txt,
                target,
                f"The security.txt is not valid: {', '.join(missing)}.",
                evidence=evidence,
            )
        ]
    assert parsed.expires is not None
    return [
        Result.passed(
            security_txt,
            target,
            f"The security.txt says whom to tell about security problems, until {parsed.expires.date().isoformat()}.",
            evidence=evidence,
        )
    ]
