"""DNSSEC zone signing for the lab: valid signed zones plus planted flaws for testing DNSSEC checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import dns.dnssec
import dns.dnssectypes
import dns.name
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.rdtypes.ANY.RRSIG
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["BROKEN_KINDS", "SignedZone", "sign_zone"]

BROKEN_KINDS = ("expired", "ds_mismatch", "bad_signature")
ALGORITHM = dns.dnssectypes.Algorithm.ECDSAP256SHA256
KSK_FLAGS = 257  # ZONE | SEP
ZSK_FLAGS = 256  # ZONE


@dataclass(frozen=True)
class SignedZone:
    """A signed zone ready for LabDnsServer and the DS line(s) its parent zone must publish."""

    text: str  # dnspython zone.to_text(relativize=False): absolute names, with DNSKEY, RRSIG and NSEC
    ds: str  # e.g. "alder.test. 3600 IN DS 12345 13 2 ABCD..."


def _new_key(flags: int) -> tuple[ec.EllipticCurvePrivateKey, dns.rdtypes.ANY.DNSKEY.DNSKEY]:
    private = ec.generate_private_key(ec.SECP256R1())
    return private, dns.dnssec.make_dnskey(private.public_key(), ALGORITHM, flags=flags)


def sign_zone(origin: str, zone_text: str, *, now: datetime, broken: str | None = None) -> SignedZone:
    """Sign `zone_text` (absolute names or relative to `origin`; SOA and NS at the apex) with fresh keys.

    A KSK (flags 257) signs the DNSKEY RRset and a ZSK (flags 256) signs everything else; signatures are
    valid from `now - 1 day` to `now + 30 days`. `broken` plants one flaw: "expired" (every RRSIG expired
    10 days before `now`), "ds_mismatch" (the DS is the digest of a key not in the zone) or
    "bad_signature" (one byte of the apex SOA's RRSIG flipped, everything else valid).
    """
    if broken is not None and broken not in BROKEN_KINDS:
        raise ValueError(f"broken must be None or one of {BROKEN_KINDS}, got {broken!r}")
    apex = dns.name.from_text(origin)
    zone = dns.zone.from_text(zone_text, origin=apex, relativize=False)
    ksk, ksk_dnskey = _new_key(KSK_FLAGS)
    zsk, zsk_dnskey = _new_key(ZSK_FLAGS)
    if broken == "expired":
        inception, expiration = now - timedelta(days=40), now - timedelta(days=10)
    else:
        inception, expiration = now - timedelta(days=1), now + timedelta(days=30)
    with zone.writer() as txn:
        dns.dnssec.sign_zone(
            zone,
            txn=txn,
            keys=[(ksk, ksk_dnskey), (zsk, zsk_dnskey)],
            add_dnskey=True,
            inception=inception,
            expiration=expiration,
        )
        if broken == "bad_signature":
            _corrupt_soa_signature(txn, apex)
    if broken == "ds_mismatch":
        # A key the zone never publishes: the chain of trust from the parent cannot reach any DNSKEY.
        _, ds_dnskey = _new_key(KSK_FLAGS)
    else:
        ds_dnskey = ksk_dnskey
    ds = dns.dnssec.make_ds(apex, ds_dnskey, "SHA256")
    dnskeys = zone.get_rdataset(apex, dns.rdatatype.DNSKEY)
    ttl = dnskeys.ttl if dnskeys is not None else 3600
    return SignedZone(
        text=zone.to_text(relativize=False),
        ds=f"{apex.to_text()} {ttl} IN DS {ds}\n",
    )


def _corrupt_soa_signature(txn: dns.zone.Transaction, apex: dns.name.Name) -> None:
    """Flip one byte in the middle of the apex SOA's RRSIG so it no longer verifies."""
    sigs = txn.get(apex, dns.rdatatype.RRSIG, dns.rdatatype.SOA)
    if sigs is None:
        raise ValueError(f"no RRSIG over the SOA of {apex}")
    corrupted = dns.rdataset.Rdataset(sigs.rdclass, sigs.rdtype, sigs.covers, sigs.ttl)
    for rrsig in sigs:
        assert isinstance(rrsig, dns.rdtypes.ANY.RRSIG.RRSIG)
        signature = bytearray(rrsig.signature)
        signature[len(signature) // 2] ^= 0xFF
        corrupted.add(rrsig.replace(signature=bytes(signature)))
    txn.replace(apex, corrupted)
