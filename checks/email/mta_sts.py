"""email.mta_sts: do senders learn to insist on encryption when they deliver to the domain (RFC 8461)?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check, dns_key
from secbase.facts import HttpOutcome, http_key
from secbase.parse.mta_sts import (
    MtaStsParseError,
    is_mta_sts_record,
    mx_matches,
    parse_mta_sts_policy,
    parse_mta_sts_record,
)

from .._text import clean, join_lines
from ..web.https import URL_CHARS, chain_text
from .mx import mx_hosts

EVIDENCE_CHARS = 1000
NOT_FETCHED = "The MTA-STS record says there is a policy, but it cannot be fetched"


def policy_url(domain: str) -> str:
    """RFC 8461 3.3: where senders fetch the policy."""
    return f"https://mta-sts.{domain}/.well-known/mta-sts.txt"


@check(id="email.mta_sts", severity="low", target="domain", facts=("dns", "http"))
def mta_sts(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """A valid _mta-sts record and policy file, in mode enforce, naming the domain's MX hosts."""
    if not target.sends_mail:
        return [Result.not_applicable(mta_sts, target, "declared as a domain without mail")]
    name, url = f"_mta-sts.{target.name}", policy_url(target.name)
    # One round: the record, the policy and the MX hosts are gathered together.
    facts.require(dns_key(name, "TXT"), dns_key(target.name, "MX"), http_key(url))

    txt = facts.dns(name, "TXT")
    if txt.error is not None:
        return [Result.error(mta_sts, target, txt.error)]
    records = [t for t in txt.texts() if is_mta_sts_record(t)]
    if not records:
        return [
            Result.warn(
                mta_sts,
                target,
                "No MTA-STS: mail servers sending to you may be tricked into sending without encryption.",
            )
        ]
    if len(records) > 1:
        # RFC 8461 3.1: with more than one record, senders treat the domain as having no policy.
        return [
            Result.fail(
                mta_sts,
                target,
                f"{len(records)} MTA-STS records at {name}: senders then ignore MTA-STS. Keep one.",
                evidence=join_lines(records, EVIDENCE_CHARS),
            )
        ]
    record = records[0]
    try:
        parse_mta_sts_record(record)
    except MtaStsParseError as exc:
        return [
            Result.fail(mta_sts, target, f"The MTA-STS record cannot be read: {exc}.", evidence=clean(record))
        ]

    fetch = facts.http(url)
    if fetch.error is not None:
        return [Result.error(mta_sts, target, fetch.error)]
    final = fetch.final
    # RFC 8461 3.3: senders do not follow redirects when they fetch the policy.
    if len(fetch.hops) > 1 or (final is not None and final.location is not None):
        return [
            Result.fail(
                mta_sts,
                target,
                f"{NOT_FETCHED}: the policy must not be redirected, and {clean(url, URL_CHARS)} redirects.",
                evidence=chain_text(fetch),
            )
        ]
    if fetch.outcome is HttpOutcome.REFUSED:
        # A refusal may be our network, not theirs: never a verdict.
        return [Result.error(mta_sts, target, f"{NOT_FETCHED}: {clean(fetch.reason, 300)}")]
    if fetch.outcome is not HttpOutcome.OK or final is None:
        return [
            Result.fail(
                mta_sts, target, f"{NOT_FETCHED}: {clean(fetch.reason, 300)}", evidence=chain_text(fetch)
            )
        ]
    if final.status != 200:
        return [
            Result.fail(
                mta_sts,
                target,
                f"{NOT_FETCHED}: {clean(url, URL_CHARS)} answers with status {final.status}.",
                evidence=chain_text(fetch),
            )
        ]
    evidence = join_lines([f"{name} TXT {record}", *fetch.body.splitlines()], EVIDENCE_CHARS)
    try:
        policy = parse_mta_sts_policy(fetch.body)
    except MtaStsParseError as exc:
        return [Result.fail(mta_sts, target, f"The MTA-STS policy cannot be read: {exc}.", evidence=evidence)]

    mx = facts.dns(target.name, "MX")
    if mx.error is not None:
        return [Result.error(mta_sts, target, mx.error)]
    # A domain without MX hosts (or with only a null MX) is email.mx's finding, not this one's.
    hosts = [h for _, h in mx_hosts(mx.records) if h != "."]
    matched = [h for h in hosts if any(mx_matches(p, h) for p in policy.mx)]
    if policy.mode != "none" and hosts and not matched:
        return [
            Result.fail(
                mta_sts,
                target,
                f"The MTA-STS policy names none of the domain's MX hosts ({clean(', '.join(hosts), 300)}); "
                f"it lists {clean(', '.join(policy.mx), 300)}, so senders that enforce it cannot deliver.",
                evidence=evidence,
            )
        ]
    if policy.mode == "testing":
        return [
            Result.warn(
                mta_sts,
                target,
                "The MTA-STS policy is in mode testing: senders report failures but still deliver "
                "without encryption. Switch to mode enforce.",
                evidence=evidence,
            )
        ]
    if policy.mode == "none":
        return [
            Result.warn(
                mta_sts,
                target,
                "The MTA-STS policy is in mode none, which switches it off: senders do not insist on encryption.",
                evidence=evidence,
            )
        ]
    return [
        Result.passed(
            mta_sts,
            target,
            "MTA-STS is enforced: senders insist on encryption to your MX hosts.",
            evidence=evidence,
        )
    ]
