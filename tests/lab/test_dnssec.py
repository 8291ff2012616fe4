"""Tests for lab zone signing: signed zones served by LabDnsServer validate, planted flaws do not."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import cast

import dns.dnssec
import dns.dnssectypes
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.rrset
import pytest

from secbase.lab.dns import LabDnsServer
from secbase.lab.dnssec import SignedZone, sign_zone

SERVER = "127.53.200.10"
# dnspython leaves the exception's constructor unannotated; this typed alias keeps mypy --strict quiet.
_validation_failure = cast(Callable[[str], Exception], dns.exception.ValidationFailure)
NOW = datetime.datetime.now(datetime.UTC)


def town_zone(origin: str) -> str:
    return f"""
{origin} 3600 IN SOA ns1.{origin} hostmaster.{origin} 2026110101 3600 600 86400 300
{origin} 3600 IN NS ns1.{origin}
ns1.{origin} 3600 IN A 127.53.200.10
{origin} 300 IN MX 10 mail.{origin}
mail.{origin} 300 IN A 127.0.4.25
{origin} 300 IN TXT "v=spf1 mx -all"
_dmarc.{origin} 300 IN TXT "v=DMARC1; p=reject"
"""


def origin_of(kind: str | None) -> dns.name.Name:
    """valid.test., expired.test., ds-mismatch.test., bad-signature.test."""
    return dns.name.from_text(f"{kind or 'valid'}.test.".replace("_", "-"))


KINDS: list[str | None] = [None, "expired", "ds_mismatch", "bad_signature"]
ZONES: dict[str | None, SignedZone] = {
    kind: sign_zone(origin_of(kind).to_text(), town_zone(origin_of(kind).to_text()), now=NOW, broken=kind)
    for kind in KINDS
}


@pytest.fixture(scope="module")
def server() -> Iterator[LabDnsServer]:
    text = "".join(z.text + z.ds for z in ZONES.values())
    with LabDnsServer(text, addresses=[SERVER]) as srv:
        yield srv


def fetch(name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> tuple[dns.rrset.RRset, dns.rrset.RRset]:
    """The RRset and its RRSIGs as the lab serves them to a DNSSEC-aware client (DO bit, EDNS 1232)."""
    query = dns.message.make_query(name, rdtype, want_dnssec=True)
    reply = dns.query.udp(query, SERVER, timeout=2)
    assert not reply.flags & dns.flags.TC
    rrset = reply.find_rrset(reply.answer, name, dns.rdataclass.IN, rdtype)
    sigs = reply.find_rrset(reply.answer, name, dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
    return rrset, sigs


def validate(step: str, rrset: dns.rrset.RRset, sigs: dns.rrset.RRset, keys: dns.rrset.RRset) -> None:
    """validate_rrsig on each signature, so a failure says which RRset broke and why."""
    errors = []
    for sig in sigs:
        try:
            dns.dnssec.validate_rrsig(rrset, sig, {keys.name: keys})
            return
        except dns.exception.ValidationFailure as exc:
            errors.append(str(exc))
    raise _validation_failure(f"{step}: {', '.join(errors) or 'no RRSIG'}")


def check_chain(kind: str | None) -> None:
    """Validate DS -> DNSKEY -> SOA, MX like a validating resolver; raise ValidationFailure on any break."""
    origin = origin_of(kind)
    ds_lines = [line.split(" IN DS ", 1)[1] for line in ZONES[kind].ds.splitlines() if line]
    ds_rrset = dns.rrset.from_text_list(origin, 3600, "IN", "DS", ds_lines)
    dnskeys, dnskey_sigs = fetch(origin, dns.rdatatype.DNSKEY)
    if not any(dns.dnssec.make_ds(origin, key, ds.digest_type) == ds for key in dnskeys for ds in ds_rrset):
        raise _validation_failure("DS: no DNSKEY matches the DS")
    validate("DNSKEY", dnskeys, dnskey_sigs, dnskeys)
    for rdtype in (dns.rdatatype.SOA, dns.rdatatype.MX):
        rrset, sigs = fetch(origin, rdtype)
        validate(dns.rdatatype.to_text(rdtype), rrset, sigs, dnskeys)


def test_valid_zone_validates_end_to_end(server: LabDnsServer) -> None:
    check_chain(None)
    origin = origin_of(None)
    dnskeys, dnskey_sigs = fetch(origin, dns.rdatatype.DNSKEY)
    dns.dnssec.validate(dnskeys, dnskey_sigs, {origin: dnskeys})  # the library's own entry point agrees


@pytest.mark.parametrize(
    ("kind", "failure"),
    [
        ("expired", "DNSKEY: expired"),
        ("ds_mismatch", "DS: no DNSKEY"),
        ("bad_signature", "SOA: verify failure"),
    ],
)
def test_planted_flaw_fails_validation(server: LabDnsServer, kind: str, failure: str) -> None:
    with pytest.raises(dns.exception.ValidationFailure, match=failure):
        check_chain(kind)


@pytest.mark.parametrize("kind", ["expired", "bad_signature"])
def test_dnspython_validate_rejects_bad_signatures(server: LabDnsServer, kind: str) -> None:
    origin = origin_of(kind)
    dnskeys, dnskey_sigs = fetch(origin, dns.rdatatype.DNSKEY)
    soa, soa_sigs = fetch(origin, dns.rdatatype.SOA)
    with pytest.raises(dns.exception.ValidationFailure):
        dns.dnssec.validate(dnskeys, dnskey_sigs, {origin: dnskeys})
        dns.dnssec.validate(soa, soa_sigs, {origin: dnskeys})


def test_ds_mismatch_zone_is_otherwise_valid(server: LabDnsServer) -> None:
    """Only the DS is wrong: the zone validates against its own keys."""
    origin = origin_of("ds_mismatch")
    dnskeys, dnskey_sigs = fetch(origin, dns.rdatatype.DNSKEY)
    dns.dnssec.validate(dnskeys, dnskey_sigs, {origin: dnskeys})
    soa, soa_sigs = fetch(origin, dns.rdatatype.SOA)
    dns.dnssec.validate(soa, soa_sigs, {origin: dnskeys})


def test_expired_zone_signatures_are_all_in_the_past(server: LabDnsServer) -> None:
    origin = origin_of("expired")
    for rdtype in (dns.rdatatype.DNSKEY, dns.rdatatype.SOA, dns.rdatatype.TXT):
        _, sigs = fetch(origin, rdtype)
        for sig in sigs:
            assert sig.expiration == int((NOW - datetime.timedelta(days=10)).timestamp())
            assert sig.inception == int((NOW - datetime.timedelta(days=40)).timestamp())


def test_bad_signature_breaks_only_the_soa(server: LabDnsServer) -> None:
    origin = origin_of("bad_signature")
    dnskeys, dnskey_sigs = fetch(origin, dns.rdatatype.DNSKEY)
    dns.dnssec.validate(dnskeys, dnskey_sigs, {origin: dnskeys})
    for rdtype in (dns.rdatatype.NS, dns.rdatatype.MX, dns.rdatatype.TXT):
        rrset, sigs = fetch(origin, rdtype)
        dns.dnssec.validate(rrset, sigs, {origin: dnskeys})
    soa, soa_sigs = fetch(origin, dns.rdatatype.SOA)
    with pytest.raises(dns.exception.ValidationFailure):
        dns.dnssec.validate(soa, soa_sigs, {origin: dnskeys})


def test_ksk_signs_dnskey_and_zsk_signs_the_rest(server: LabDnsServer) -> None:
    origin = origin_of(None)
    dnskeys, dnskey_sigs = fetch(origin, dns.rdatatype.DNSKEY)
    tags = {key.flags: dns.dnssec.key_id(key) for key in dnskeys}
    assert set(tags) == {256, 257}
    assert all(key.algorithm == dns.dnssectypes.Algorithm.ECDSAP256SHA256 for key in dnskeys)
    assert [sig.key_tag for sig in dnskey_sigs] == [tags[257]]
    _, soa_sigs = fetch(origin, dns.rdatatype.SOA)
    assert [sig.key_tag for sig in soa_sigs] == [tags[256]]
    ds = dns.rrset.from_text(origin, 3600, "IN", "DS", ZONES[None].ds.split(" IN DS ", 1)[1].strip())
    assert ds[0].key_tag == tags[257] and ds[0].digest_type == 2 and ds[0].algorithm == 13


def test_signature_window() -> None:
    origin = origin_of(None)
    signed = ZONES[None]
    sig = next(
        rd
        for line in signed.text.splitlines()
        if " RRSIG SOA " in line
        for rd in dns.rrset.from_text(origin, 300, "IN", "RRSIG", line.split(" IN RRSIG ", 1)[1])
    )
    assert sig.inception == int((NOW - datetime.timedelta(days=1)).timestamp())
    assert sig.expiration == int((NOW + datetime.timedelta(days=30)).timestamp())


def test_signed_text_has_dnssec_records_and_absolute_names() -> None:
    text = ZONES[None].text
    for rdtype in (" DNSKEY 257 ", " DNSKEY 256 ", " RRSIG DNSKEY ", " NSEC ", " RRSIG NSEC "):
        assert rdtype in text
    assert all(line.split()[0].endswith(".") for line in text.splitlines() if line)
    assert ZONES[None].ds.startswith("valid.test. 3600 IN DS ")


def test_relative_input_and_bad_kind() -> None:
    relative = "@ 60 IN SOA ns1 hostmaster 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 127.0.0.1\n"
    signed = sign_zone("rel.test", relative, now=NOW)
    assert "ns1.rel.test. 60 IN A 127.0.0.1" in signed.text
    assert signed.ds.startswith("rel.test. 60 IN DS ")
    with pytest.raises(ValueError, match="broken"):
        sign_zone("rel.test.", relative, now=NOW, broken="stale")
