"""dns.dnssec: is the zone signed, and do its signatures validate from the DS record at the parent down?"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dns.dnssec
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.DS
import dns.rrset

from secbase import DnsAnswer, Facts, Result, Target, check, dns_at_key, dns_key

from .._dns_names import host_addresses
from ._zone import find_zone


@check(id="dns.dnssec", severity="medium", target="domain", facts=("dns", "dns_at"))
def dnssec(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Validate DNSKEY against the parent's DS and the SOA against the DNSKEYs, ourselves (never the AD bit)."""
    zone = find_zone(target.name, facts)
    if not zone.exists:
        return [Result.error(dnssec, target, f"the domain {zone.apex} does not exist in DNS")]
    if zone.error is not None or zone.ns is None:
        return [Result.error(dnssec, target, zone.error or "no NS records")]
    apex = zone.apex
    facts.require(dns_key(apex, "DS"), dns_key(apex, "DNSKEY"), dns_key(apex, "SOA"))
    ds, keys, soa = facts.dns(apex, "DS"), facts.dns(apex, "DNSKEY"), facts.dns(apex, "SOA")
    for answer in (ds, keys, soa):
        if answer.error is not None:
            return [Result.error(dnssec, target, answer.error)]
    if ds.records and keys.records and not (keys.rrsigs and soa.rrsigs):
        # A resolver that is not DNSSEC-aware drops signatures: ask one of the zone's servers itself.
        direct = _ask_a_server(zone.ns.records, apex, facts)
        if isinstance(direct, str):
            return [Result.error(dnssec, target, direct)]
        keys, soa = direct
    if not ds.records and not keys.records:
        return [
            Result.warn(
                dnssec,
                target,
                f"The zone {apex} is not signed (no DNSSEC), so answers about it can be forged on the way.",
            )
        ]
    if not ds.records:
        return [
            Result.warn(
                dnssec,
                target,
                f"The zone {apex} publishes DNSSEC keys but its parent has no DS record for them, "
                "so nobody checks the signatures.",
                evidence="\n".join(keys.records),
            )
        ]
    evidence = "\n".join([*(f"DS {r}" for r in ds.records), *(f"DNSKEY {r}" for r in keys.records)])
    if not keys.records:
        return [
            Result.fail(
                dnssec,
                target,
                f"The registry says {apex} is signed (a DS record at the parent) but the zone publishes no "
                "keys, so providers that check signatures cannot look up your website and email at all.",
                evidence=evidence,
            )
        ]
    problem = validate_zone(apex, ds, keys, soa, now=facts.now.timestamp())
    if problem is not None:
        return [
            Result.fail(
                dnssec,
                target,
                f"The zone {apex} is signed but its signatures do not check out ({problem}). Many internet "
                "providers check them, and will refuse to look up your website and email until this is fixed.",
                evidence=evidence,
            )
        ]
    return [
        Result.passed(
            dnssec,
            target,
            f"The zone {apex} is signed and validates from its parent's DS.",
            evidence=evidence,
        )
    ]


def _ask_a_server(ns_records: tuple[str, ...], apex: str, facts: Facts) -> tuple[DnsAnswer, DnsAnswer] | str:
    """DNSKEY and SOA with their signatures from the first name server that answers, or why none did."""
    hosts = sorted({r.rstrip(".").lower() for r in ns_records})
    addresses, _ = host_addresses(hosts, facts)
    why = f"the resolver returned no signatures for {apex} and no name server of it could be asked"
    for ip in (ip for h in hosts for ip in addresses[h]):
        facts.require(dns_at_key(ip, apex, "DNSKEY"), dns_at_key(ip, apex, "SOA"))
        keys, soa = facts.dns_at(ip, apex, "DNSKEY"), facts.dns_at(ip, apex, "SOA")
        if keys.error is None and soa.error is None:
            return keys, soa
        why = keys.error or soa.error or why
    return why


def validate_zone(apex: str, ds: DnsAnswer, keys: DnsAnswer, soa: DnsAnswer, *, now: float) -> str | None:
    """Return why the chain DS -> DNSKEY -> SOA does not validate, or None when it does."""
    name = dns.name.from_text(apex)
    try:
        keyset = dns.rrset.from_text_list(name, keys.ttl, "IN", "DNSKEY", list(keys.records))
        dsset = [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, r) for r in ds.records]
    except (dns.exception.DNSException, ValueError) as exc:
        return f"a DS or DNSKEY record cannot be read: {exc}"
    anchors = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    for key in keyset:
        for want in dsset:
            assert isinstance(want, dns.rdtypes.ANY.DS.DS)
            try:
                # validating=True: RFC 8624 3.3 keeps SHA-1 DS valid for validators, though not for signers.
                got = dns.dnssec.make_ds(name, key, want.digest_type, validating=True)
            except (dns.exception.UnsupportedAlgorithm, dns.exception.DeniedByPolicy, ValueError):
                continue
            if got == want:
                anchors.add(key)
    if not anchors:
        return "no DNSKEY matches the DS record at the parent"
    for what, answer, trusted in (("DNSKEY", keys, anchors), ("SOA", soa, keyset)):
        if not answer.rrsigs:
            return f"the {what} records are not signed"
        try:
            rrset = dns.rrset.from_text_list(name, answer.ttl, "IN", what, list(answer.records))
            sigs = dns.rrset.from_text_list(name, answer.ttl, "IN", "RRSIG", list(answer.rrsigs))
            expiries = [sig.expiration for sig in sigs]  # type: ignore[attr-defined]
            if all(e < now for e in expiries):
                when = datetime.fromtimestamp(max(expiries), UTC).strftime("%Y-%m-%d")
                return f"the {what} signatures expired on {when}; the zone must be signed again"
            dns.dnssec.validate(rrset, sigs, {name: trusted}, now=now)
        except dns.exception.ValidationFailure as exc:
            return f"the {what} signature: {exc}"
        except (dns.exception.DNSException, ValueError) as exc:
            return f"the {what} signature cannot be read: {exc}"
    return None
