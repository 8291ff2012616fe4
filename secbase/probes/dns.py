"""DNS facts through the scan's own resolvers (dnspython), and questions put to one name server directly."""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Sequence

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.wire

from secbase.facts import DnsAnswer, DnsOutcome, FactKey, normalise_name
from secbase.probes import FactSource, Limiter
from secbase.probes._udp import UdpChannels

log = logging.getLogger(__name__)

# RFC 9715 / DNS Flag Day 2020: 1232 bytes fits any path without fragmentation, and is large enough
# that DKIM keys and DNSKEY sets come back whole over UDP instead of truncated and asked again over TCP.
EDNS_PAYLOAD = 1232
SIGNED_TYPES = frozenset({"DNSKEY", "DS", "SOA"})  # the RRsets dns.dnssec validates


def split_server(server: str) -> tuple[str, int]:
    """Split "127.0.0.1:53" or "[::1]:53" (as the config writes them) into address and port."""
    if server.startswith("["):
        host, _, port = server[1:].partition("]:")
        return host, int(port or 53)
    host, _, port = server.rpartition(":")
    if not host:
        return server, 53
    return host, int(port)


def system_resolvers() -> list[str]:
    """The operating system's resolvers, used when the config names none."""
    import dns.resolver

    try:
        res = dns.resolver.Resolver(configure=True)
    except dns.exception.DNSException:
        return []
    return [f"[{ns}]:53" if ":" in str(ns) else f"{ns}:53" for ns in res.nameservers]


class DnsProbe:
    """Answers dns(name, type) through the resolvers and dns_at(server, name, type) from one server."""

    kinds: tuple[str, ...] = ("dns", "dns_at")

    def __init__(
        self,
        *,
        resolvers: Sequence[str],
        timeout_s: float,
        limiter: Limiter,
        nameserver_port: int = 53,
    ) -> None:
        self.resolvers = [split_server(r) for r in resolvers] or [split_server(r) for r in system_resolvers()]
        self.timeout_s = timeout_s
        self.limiter = limiter
        self.nameserver_port = nameserver_port
        self.channels = UdpChannels()
        self.sent: Counter[tuple[str, ...]] = Counter()  # (server or "resolver", name, type) -> queries sent

    async def fetch(self, key: FactKey, facts: FactSource | None = None) -> DnsAnswer:
        """The fact for a dns(...) or dns_at(...) key."""
        if key.kind == "dns":
            name, rdtype = key.args
            return await self.lookup(name, rdtype)
        server, name, rdtype = key.args
        self.sent[(server, normalise_name(name), rdtype)] += 1
        return await self.ask(server, self.nameserver_port, name, rdtype, recursion=False)

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        """Ask the scan's resolvers, each in turn until one answers (an empty answer counts)."""
        if not self.resolvers:
            return DnsAnswer(name, rdtype, DnsOutcome.ERROR, reason="no DNS resolver is configured")
        self.sent[("resolver", normalise_name(name), rdtype)] += 1
        last: DnsAnswer | None = None
        for host, port in self.resolvers:
            last = await self.ask(host, port, name, rdtype, recursion=True)
            if last.error is None:
                return last
        assert last is not None
        return last

    async def ask(self, host: str, port: int, name: str, rdtype: str, *, recursion: bool) -> DnsAnswer:
        """Put one question to one server; every way it can end is a DnsAnswer, never an exception."""
        name = normalise_name(name)
        where = f"{host}:{port}"
        try:
            qname = dns.name.from_text(name)
            qtype = dns.rdatatype.from_text(rdtype)
        except (dns.exception.DNSException, ValueError) as exc:
            return DnsAnswer(name, rdtype, DnsOutcome.ERROR, reason=f"{name!r} cannot be looked up: {exc}")
        signed = rdtype in SIGNED_TYPES
        flags = (dns.flags.RD if recursion else 0) | (dns.flags.CD if signed else 0)
        wire = query_wire(qname, qtype, flags=flags, dnssec_ok=signed)
        try:
            # The scan's own resolvers take the whole scan's concurrency; the per-server politeness bound
            # is for the towns' name servers, asked directly.
            async with self.limiter.slot(None if recursion else host):
                data = await self.channels.exchange(host, port, wire, timeout_s=self.timeout_s)
                (answer_flags,) = struct.unpack("!H", data[2:4])
                if (
                    answer_flags & dns.flags.TC
                ):  # too big for UDP even with EDNS: ask again over TCP (RFC 7766)
                    query = dns.message.from_wire(wire)
                    response = await dns.asyncquery.tcp(query, host, timeout=self.timeout_s, port=port)
                    return _read_response(response, qname, qtype, name, rdtype, where)
        except (TimeoutError, dns.exception.Timeout):
            return DnsAnswer(
                name,
                rdtype,
                DnsOutcome.TIMEOUT,
                server=where,
                reason=f"the DNS server {where} did not answer about {name} within {self.timeout_s:g} s",
            )
        except ConnectionRefusedError:
            return DnsAnswer(
                name,
                rdtype,
                DnsOutcome.REFUSED,
                server=where,
                reason=f"nothing answers DNS at {where} (connection refused)",
            )
        except (OSError, dns.exception.DNSException, EOFError, ValueError) as exc:
            log.debug("DNS %s %s at %s failed: %r", name, rdtype, where, exc)
            return DnsAnswer(
                name,
                rdtype,
                DnsOutcome.ERROR,
                server=where,
                reason=f"the DNS question about {name} to {where} failed: {type(exc).__name__}: {exc}",
            )
        rcode = answer_flags & 0x000F
        if rcode != dns.rcode.NOERROR:
            # NXDOMAIN, SERVFAIL, REFUSED...: the header says all a check needs (an extended RCODE, in the
            # OPT record, only ever extends NOERROR's bits), so the rest is not parsed.
            return _read_rcode(rcode, bool(answer_flags & dns.flags.AA), name, rdtype, where)
        try:
            records = _answer_section(data)
        except (dns.exception.DNSException, ValueError, struct.error) as exc:
            return DnsAnswer(
                name,
                rdtype,
                DnsOutcome.ERROR,
                server=where,
                reason=f"the DNS server {where} sent an unreadable answer about {name}: {exc}",
            )
        return _read_answer(records, qname, qtype, bool(answer_flags & dns.flags.AA), name, rdtype, where)

    def close(self) -> None:
        """Close the scan's sockets."""
        self.channels.close()


def _read_rcode(rcode: int, aa: bool, name: str, rdtype: str, where: str) -> DnsAnswer:
    if rcode == dns.rcode.NOERROR:
        return DnsAnswer(name, rdtype, DnsOutcome.NODATA, server=where, authoritative=aa)
    if rcode == dns.rcode.NXDOMAIN:
        return DnsAnswer(name, rdtype, DnsOutcome.NXDOMAIN, server=where, authoritative=aa)
    if rcode == dns.rcode.SERVFAIL:
        return DnsAnswer(
            name,
            rdtype,
            DnsOutcome.SERVFAIL,
            server=where,
            reason=f"the DNS server {where} answered SERVFAIL (server failure) about {name}",
        )
    if rcode == dns.rcode.REFUSED:
        return DnsAnswer(
            name,
            rdtype,
            DnsOutcome.REFUSED,
            server=where,
            reason=f"the DNS server {where} refused to answer about {name}",
        )
    return DnsAnswer(
        name,
        rdtype,
        DnsOutcome.ERROR,
        server=where,
        reason=f"the DNS server {where} answered {dns.rcode.to_text(dns.rcode.Rcode(rcode))} about {name}",
    )


def query_wire(qname: dns.name.Name, qtype: int, *, flags: int, dnssec_ok: bool) -> bytes:
    """A one-question query with EDNS0 (RFC 6891), byte for byte what dns.message.make_query renders.

    Written out because make_query and to_wire cost fourteen times more than the bytes they make, for
    the question a scan asks thousands of times. The id is set when the question is sent.
    """
    header = struct.pack("!HHHHHH", 0, flags, 1, 0, 0, 1)
    opt = b"\x00" + struct.pack("!HHIH", dns.rdatatype.OPT, EDNS_PAYLOAD, 0x8000 if dnssec_ok else 0, 0)
    return header + (qname.to_wire() or b"") + struct.pack("!HH", qtype, dns.rdataclass.IN) + opt


Record = tuple[dns.name.Name, int, int, int, dns.rdata.Rdata]  # owner, type, covered type, TTL, data


def _answer_section(data: bytes) -> list[Record]:
    """The answer section's records, read with dnspython's wire parser; the other sections are skipped.

    A whole dns.message.from_wire builds every section and de-duplicates every set: three times the work,
    for records no check reads.
    """
    parser = dns.wire.Parser(data, 12)
    qdcount, ancount = struct.unpack("!HH", data[4:8])
    for _ in range(qdcount):
        parser.get_name()
        parser.get_struct("!HH")
    out: list[Record] = []
    for _ in range(ancount):
        owner = parser.get_name()
        rdtype, rdclass, ttl, rdlen = parser.get_struct("!HHIH")
        with parser.restrict_to(rdlen):
            rd = dns.rdata.from_wire_parser(
                dns.rdataclass.RdataClass.make(rdclass), dns.rdatatype.RdataType.make(rdtype), parser
            )
        if rdclass == dns.rdataclass.IN:
            out.append((owner, rdtype, rd.covers(), ttl, rd))
    return out


def _read_response(
    response: dns.message.Message,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    name: str,
    rdtype: str,
    where: str,
) -> DnsAnswer:
    """A whole parsed message (the TCP path) read like an answer section."""
    rcode = response.rcode()
    aa = bool(response.flags & dns.flags.AA)
    if rcode != dns.rcode.NOERROR:
        return _read_rcode(rcode, aa, name, rdtype, where)
    records: list[Record] = [
        (rr.name, rr.rdtype, rr.covers, rr.ttl, rd) for rr in response.answer for rd in rr
    ]
    return _read_answer(records, qname, qtype, aa, name, rdtype, where)


def _read_answer(
    records: list[Record],
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    aa: bool,
    name: str,
    rdtype: str,
    where: str,
) -> DnsAnswer:
    by_key: dict[tuple[dns.name.Name, int, int], list[tuple[int, dns.rdata.Rdata]]] = {}
    for owner_, type_, covers, ttl, rd in records:
        by_key.setdefault((owner_, type_, covers), []).append((ttl, rd))
    owner = qname
    found: list[tuple[int, dns.rdata.Rdata]] = []
    for _ in range(10):  # follow a CNAME chain inside the answer, as a stub resolver does
        found = by_key.get((owner, qtype, dns.rdatatype.NONE), [])
        if found or qtype == dns.rdatatype.CNAME:
            break
        cname = by_key.get((owner, dns.rdatatype.CNAME, dns.rdatatype.NONE))
        if not cname:
            break
        owner = cname[0][1].target  # type: ignore[attr-defined]
    if not found:
        return DnsAnswer(name, rdtype, DnsOutcome.NODATA, server=where, authoritative=aa)
    sigs = by_key.get((owner, dns.rdatatype.RRSIG, qtype), [])
    return DnsAnswer(
        name,
        rdtype,
        DnsOutcome.OK,
        records=tuple(dict.fromkeys(rd.to_text() for _, rd in found)),
        rrsigs=tuple(dict.fromkeys(rd.to_text() for _, rd in sigs)),
        ttl=min(ttl for ttl, _ in found),
        server=where,
        authoritative=aa,
    )
