"""dns.dnssec: a signed zone validates from the parent's DS down to its SOA, by the scan's clock.

The zones are signed in the test with secbase.lab.dnssec (ECDSA P-256, once per run: see factories),
and their DNSKEY, SOA, RRSIG and DS records become the facts a scan would gather.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import dns.dnssec
import dns.rdata
import dns.rdtypes.ANY.DNSKEY
import pytest
from secbase_checks.dns.dnssec import dnssec

from secbase import DnsAnswer, DnsOutcome, Status, dns_at_key
from tests.checks.factories import (
    NOW,
    Pair,
    SignedZone,
    answer,
    domain,
    failed,
    failed_at,
    host,
    nodata,
    run_one,
    signed_zone,
)

D = "alder.test"
TARGET = domain(D)
SOA = f"ns1.{D}. hostmaster.{D}. 2025060101 7200 3600 1209600 3600"


def facts_of(zone: SignedZone, **changes: DnsAnswer) -> list[Pair]:
    """The zone's NS, DS, DNSKEY and SOA facts, with some replaced (ds=..., dnskey=..., soa=...)."""
    return replace(zone, **changes).pairs()


def ds_records(zone: SignedZone, *digests: str) -> DnsAnswer:
    """A DS answer with the zone's KSK digested by each of `digests` ("SHA1", "SHA256", "SHA384")."""
    keys = [dns.rdata.from_text("IN", "DNSKEY", r) for r in zone.dnskey.records]
    ksk = next(k for k in keys if isinstance(k, dns.rdtypes.ANY.DNSKEY.DNSKEY) and k.flags == 257)
    records = [dns.dnssec.make_ds(f"{D}.", ksk, digest, validating=True).to_text() for digest in digests]
    return replace(zone.ds, records=tuple(records))


@pytest.fixture(scope="module")
def valid() -> SignedZone:
    return signed_zone(D)


def test_a_signed_zone_that_validates_passes(valid: SignedZone) -> None:
    result = run_one(dnssec, TARGET, valid.pairs())
    assert result.status is Status.PASS
    assert result.evidence.startswith("DS ")


def test_a_subdomain_is_judged_by_its_zone(valid: SignedZone) -> None:
    result = run_one(dnssec, domain(f"www.{D}"), nodata(f"www.{D}", "NS"), valid.pairs())
    assert result.status is Status.PASS
    assert f"The zone {D}" in result.summary


def test_an_unsigned_zone_warns() -> None:
    result = run_one(
        dnssec,
        TARGET,
        answer(D, "NS", f"ns1.{D}.", f"ns2.{D}."),
        nodata(D, "DS"),
        nodata(D, "DNSKEY"),
        answer(D, "SOA", SOA),
    )
    assert result.status is Status.WARN
    assert "not signed" in result.summary


def test_dnskey_without_ds_at_the_parent_warns(valid: SignedZone) -> None:
    result = run_one(dnssec, TARGET, facts_of(valid, ds=nodata(D, "DS")[1]))
    assert result.status is Status.WARN
    assert "no DS record" in result.summary


def test_ds_without_dnskey_fails(valid: SignedZone) -> None:
    result = run_one(dnssec, TARGET, facts_of(valid, dnskey=nodata(D, "DNSKEY")[1]))
    assert result.status is Status.FAIL
    assert "publishes no keys" in result.summary


def test_a_ds_that_matches_no_dnskey_fails() -> None:
    result = run_one(dnssec, TARGET, signed_zone(D, "ds_mismatch").pairs())
    assert result.status is Status.FAIL
    assert "no DNSKEY matches the DS" in result.summary


def test_expired_signatures_fail_and_say_expired() -> None:
    result = run_one(dnssec, TARGET, signed_zone(D, "expired").pairs())
    assert result.status is Status.FAIL
    assert "expired" in result.summary


@pytest.mark.parametrize(
    ("age", "status"),
    [(timedelta(days=29), Status.PASS), (timedelta(days=31), Status.FAIL), (timedelta(days=-2), Status.FAIL)],
    ids=["29-days-later", "31-days-later", "before-inception"],
)
def test_signatures_are_judged_by_the_scan_clock(valid: SignedZone, age: timedelta, status: Status) -> None:
    # The zone's signatures run from 1 day before NOW to 30 days after.
    result = run_one(dnssec, TARGET, valid.pairs(), now=NOW + age)
    assert result.status is status
    if age > timedelta(days=30):
        assert "expired" in result.summary


def test_a_bad_signature_fails() -> None:
    result = run_one(dnssec, TARGET, signed_zone(D, "bad_signature").pairs())
    assert result.status is Status.FAIL
    assert "SOA signature" in result.summary


def direct(zone: SignedZone, ip: str, **changes: DnsAnswer) -> list[Pair]:
    """The DNSKEY and SOA answers of one name server asked directly, as dns_at facts."""
    z = replace(zone, **changes)
    return [(dns_at_key(ip, z.apex, a.rdtype), replace(a, server=f"{ip}:53")) for a in (z.dnskey, z.soa)]


def name_servers(zone: SignedZone, *ips: str) -> list[Pair]:
    hosts = sorted(r.rstrip(".") for r in zone.ns.records)
    return [pair for h, ip in zip(hosts, ips, strict=False) for pair in host(h, ip)] + [
        pair for h in hosts[len(ips) :] for pair in host(h)
    ]


@pytest.mark.parametrize("which", ["dnskey", "soa"])
def test_records_without_signatures_from_the_zone_itself_fail(valid: SignedZone, which: str) -> None:
    unsigned = replace(getattr(valid, which), rrsigs=())
    facts = facts_of(valid, **{which: unsigned}) + name_servers(valid, "192.0.2.53", "198.51.100.53")
    facts += direct(valid, "192.0.2.53", **{which: unsigned})
    result = run_one(dnssec, TARGET, facts)
    assert result.status is Status.FAIL
    assert "not signed" in result.summary


def test_a_resolver_that_drops_signatures_is_not_a_fail_the_zone_is_asked(valid: SignedZone) -> None:
    # A resolver that is not DNSSEC-aware strips RRSIGs; the zone's own server still has them.
    stripped = {"dnskey": replace(valid.dnskey, rrsigs=()), "soa": replace(valid.soa, rrsigs=())}
    facts = facts_of(valid, **stripped) + name_servers(valid, "192.0.2.53", "198.51.100.53")
    facts += direct(valid, "192.0.2.53")
    assert run_one(dnssec, TARGET, facts).status is Status.PASS


def test_dropped_signatures_and_no_reachable_server_is_error(valid: SignedZone) -> None:
    stripped = {"dnskey": replace(valid.dnskey, rrsigs=()), "soa": replace(valid.soa, rrsigs=())}
    facts = facts_of(valid, **stripped) + name_servers(valid, "192.0.2.53")
    facts += [failed_at("192.0.2.53", D, "DNSKEY"), failed_at("192.0.2.53", D, "SOA")]
    result = run_one(dnssec, TARGET, facts)
    assert result.status is Status.ERROR


def test_signatures_from_another_zone_fail(valid: SignedZone) -> None:
    other = signed_zone(D, "expired")  # other keys, same names
    result = run_one(dnssec, TARGET, facts_of(valid, soa=replace(valid.soa, rrsigs=other.soa.rrsigs)))
    assert result.status is Status.FAIL


def test_a_sha384_ds_passes(valid: SignedZone) -> None:
    assert run_one(dnssec, TARGET, facts_of(valid, ds=ds_records(valid, "SHA384"))).status is Status.PASS


def test_an_unknown_ds_digest_beside_a_good_one_passes(valid: SignedZone) -> None:
    unknown = f"{valid.ds.records[0].split()[0]} 13 99 00ff00ff"
    ds = replace(valid.ds, records=(unknown, *valid.ds.records))
    assert run_one(dnssec, TARGET, facts_of(valid, ds=ds)).status is Status.PASS


# RFC 8624 3.3: validators MUST still accept a SHA-1 DS, though signers MUST NOT make new ones.
@pytest.mark.parametrize("digests", [("SHA256", "SHA1"), ("SHA1",)], ids=["sha1-beside-sha256", "sha1-only"])
def test_a_sha1_ds_is_still_accepted(valid: SignedZone, digests: tuple[str, ...]) -> None:
    assert run_one(dnssec, TARGET, facts_of(valid, ds=ds_records(valid, *digests))).status is Status.PASS


@pytest.mark.parametrize("rdtype", ["DS", "DNSKEY", "SOA"])
@pytest.mark.parametrize("outcome", [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL])
def test_dns_timeout_is_error_not_fail(valid: SignedZone, rdtype: str, outcome: DnsOutcome) -> None:
    lost = failed(D, rdtype, outcome)[1]
    result = run_one(dnssec, TARGET, facts_of(valid, **{rdtype.lower(): lost}))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


def test_a_zone_whose_ns_lookup_times_out_is_error() -> None:
    assert run_one(dnssec, TARGET, failed(D, "NS")).status is Status.ERROR
