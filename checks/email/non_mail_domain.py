"""email.non_mail_domain: does a domain that sends no mail say so, so nobody can send mail in its name?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check, dns_key
from secbase.parse.spf import SpfParseError, is_spf, parse_spf

from ._dmarc_lookup import find_dmarc
from .mx import mx_hosts


@check(id="email.non_mail_domain", severity="medium", target="domain")
def non_mail_domain(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """SPF "v=spf1 -all", DMARC p=reject and a null MX (RFC 7505) on a domain declared as sending no mail."""
    if target.sends_mail:
        return []  # only the config's non_mail_domains are judged here
    facts.require(dns_key(target.name, "TXT"), dns_key(target.name, "MX"))
    txt, mx = facts.dns(target.name, "TXT"), facts.dns(target.name, "MX")
    dmarc = find_dmarc(target.name, facts)
    for error in (txt.error, mx.error, dmarc.error):
        if error is not None:
            return [Result.error(non_mail_domain, target, error)]
    missing = []
    spf = [t for t in txt.texts() if is_spf(t)]
    if len(spf) != 1 or not _is_reject_all(spf[0]):
        missing.append('an SPF record "v=spf1 -all"')
    if dmarc.policy != "reject":
        missing.append("a DMARC record with p=reject")
    if [h for _, h in mx_hosts(mx.records)] != ["."]:
        missing.append('a null MX record ("0 .")')
    evidence = "\n".join(
        [
            *(f"SPF: {s}" for s in spf),
            *(f"DMARC: {t}" for t in dmarc.texts),
            *(f"MX: {r}" for r in mx.records),
        ]
    )
    if missing:
        return [
            Result.fail(
                non_mail_domain,
                target,
                f"This domain sends no mail but lacks {_join(missing)}, so others can send mail in its name.",
                evidence=evidence,
            )
        ]
    return [
        Result.passed(
            non_mail_domain, target, "The domain says it sends and takes no mail.", evidence=evidence
        )
    ]


def _is_reject_all(text: str) -> bool:
    try:
        record = parse_spf(text)
    except SpfParseError:
        return False
    return [(t.name, t.qualifier) for t in record.mechanisms] == [("all", "-")] and record.redirect is None


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
