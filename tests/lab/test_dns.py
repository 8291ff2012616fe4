"""Tests for the lab's authoritative DNS server, seen through dnspython clients on 127.53.200.0/24."""

from __future__ import annotations

import base64
import datetime
import os
import select
import socket
import struct
import time
from collections.abc import Iterator

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from secbase.lab.dns import LabDnsServer, parse_zone_text
from secbase.lab.dnssec import sign_zone

RESOLVER = "127.53.200.1"
NS1 = "127.53.200.2"
SPARE = "127.53.200.50"  # lifecycle tests bind it themselves
TIMEOUT = 2.0

# A 4096-bit RSA public key is 550 bytes of DER, 736 base64 characters: several TXT strings, an answer
# above the classic 512-byte UDP limit but within EDNS 1232.
DKIM_KEY = base64.b64encode(os.urandom(550)).decode("ascii")
_DKIM_VALUE = f"v=DKIM1; k=rsa; p={DKIM_KEY}"
DKIM_TXT = " ".join(f'"{_DKIM_VALUE[i : i + 255]}"' for i in range(0, len(_DKIM_VALUE), 255))

PLAIN_ZONES = (
    f"""
test. 3600 IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 300
test. 3600 IN NS ns1.test.
ns1.test. 3600 IN A {NS1}
alder.test. 3600 IN NS ns1.alder.test.
alder.test. 300 IN SOA ns1.alder.test. hostmaster.alder.test. 2026110101 3600 600 86400 300
alder.test. 300 IN NS ns1.alder.test.
alder.test. 300 IN NS ns2.alder.test.
ns1.alder.test. 300 IN A {NS1}
alder.test. 300 IN MX 0 .
alder.test. 300 IN TXT "v=spf1 -all"
alder.test. 300 IN CAA 0 issue "pki.example"
s1._domainkey.alder.test. 300 IN TXT {DKIM_TXT}
www.alder.test. 300 IN CNAME web.alder.test.
web.alder.test. 300 IN CNAME host.alder.test.
host.alder.test. 300 IN A 127.0.3.11
host.alder.test. 300 IN AAAA ::1
Mixed.Alder.Test. 300 IN A 127.0.3.12
gone.alder.test. 300 IN CNAME missing.alder.test.
away.alder.test. 300 IN CNAME www.elsewhere.example.
loop1.alder.test. 300 IN CNAME loop2.alder.test.
loop2.alder.test. 300 IN CNAME loop1.alder.test.
slow.alder.test. 300 IN A 127.0.3.13
broken.alder.test. 300 IN A 127.0.3.14
county.test. 300 IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 300
county.test. 300 IN NS ns1.test.
_dmarc.county.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@county.test"
alder.test._report._dmarc.county.test. 300 IN TXT "v=DMARC1"
"""
    + "".join(f"c{i}.alder.test. 300 IN CNAME c{i + 1}.alder.test.\n" for i in range(12))
    + """
c12.alder.test. 300 IN A 127.0.3.99
"""
)
SIGNED_ZONE = """
signed.test. 300 IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 300
signed.test. 300 IN NS ns1.test.
signed.test. 300 IN A 127.0.3.20
www.signed.test. 300 IN CNAME signed.test.
"""
SIGNED = sign_zone("signed.test.", SIGNED_ZONE, now=datetime.datetime.now(datetime.UTC))


@pytest.fixture(scope="module")
def server() -> Iterator[LabDnsServer]:
    srv = LabDnsServer(
        PLAIN_ZONES + SIGNED.text + SIGNED.ds,
        addresses=[RESOLVER, NS1],
        drop=["slow.alder.test"],
        servfail=["broken.alder.test"],
    )
    srv.start()
    yield srv
    srv.stop()


def resolver(address: str = RESOLVER) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [address]
    res.port = 53
    res.timeout = 1
    res.lifetime = TIMEOUT
    return res


def ask(
    name: str,
    rdtype: str,
    *,
    address: str = RESOLVER,
    tcp: bool = False,
    timeout: float = TIMEOUT,
    use_edns: int | None = None,
    payload: int = 1232,
    want_dnssec: bool = False,
) -> dns.message.Message:
    # make_query turns EDNS on whenever a payload is passed, so pass one only together with use_edns.
    if use_edns is None and not want_dnssec:
        query = dns.message.make_query(name, rdtype)
    else:
        query = dns.message.make_query(
            name, rdtype, use_edns=use_edns, payload=payload, want_dnssec=want_dnssec
        )
    if tcp:
        return dns.query.tcp(query, address, timeout=timeout)
    return dns.query.udp(query, address, timeout=timeout)


def types_in(section: list[dns.rrset.RRset]) -> list[tuple[str, str, str]]:
    """(owner, type, covered type or "") per RRset, to compare sections at a glance."""
    return [
        (
            str(r.name).lower(),
            dns.rdatatype.to_text(r.rdtype),
            dns.rdatatype.to_text(r.covers) if r.covers else "",
        )
        for r in section
    ]


# -- answers -----------------------------------------------------------------------------------------


def test_answer_is_authoritative_and_echoes_question(server: LabDnsServer) -> None:
    reply = ask("alder.test", "MX")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert reply.question == ask("alder.test", "MX").question
    assert str(reply.question[0].name) == "alder.test."
    assert reply.answer[0][0].exchange == dns.name.root  # null MX


def test_names_are_case_insensitive(server: LabDnsServer) -> None:
    reply = ask("HoSt.ALDER.test", "A")
    assert str(reply.question[0].name) == "HoSt.ALDER.test."  # the question comes back as asked
    assert [r.address for r in reply.answer[0]] == ["127.0.3.11"]
    assert [r.address for r in resolver().resolve("mixed.alder.test", "A")] == ["127.0.3.12"]


@pytest.mark.parametrize("address", [RESOLVER, NS1])
def test_every_address_serves_the_same_data(server: LabDnsServer, address: str) -> None:
    answer = resolver(address).resolve("alder.test", "NS")
    assert sorted(str(r.target) for r in answer) == ["ns1.alder.test.", "ns2.alder.test."]


def test_record_types(server: LabDnsServer) -> None:
    res = resolver()
    assert [b"".join(r.strings) for r in res.resolve("alder.test", "TXT")] == [b"v=spf1 -all"]
    caa = res.resolve("alder.test", "CAA")[0]
    assert (caa.flags, caa.tag, caa.value) == (0, b"issue", b"pki.example")
    assert [r.address for r in res.resolve("host.alder.test", "AAAA")] == ["::1"]
    soa = res.resolve("alder.test", "SOA")[0]
    assert soa.serial == 2026110101


def test_multi_string_txt_survives(server: LabDnsServer) -> None:
    reply = ask("s1._domainkey.alder.test", "TXT", use_edns=0)
    strings = reply.answer[0][0].strings
    assert len(strings) == 3
    assert b"".join(strings).decode() == f"v=DKIM1; k=rsa; p={DKIM_KEY}"


def test_nodata_when_type_missing(server: LabDnsServer) -> None:
    reply = ask("alder.test", "AAAA")
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []
    assert types_in(reply.authority) == [("alder.test.", "SOA", "")]  # negative-caching SOA
    with pytest.raises(dns.resolver.NoAnswer):
        resolver().resolve("alder.test", "AAAA")


@pytest.mark.parametrize(
    "name", ["_domainkey.alder.test", "_report._dmarc.county.test", "test._report._dmarc.county.test"]
)
def test_empty_non_terminal_is_nodata(server: LabDnsServer, name: str) -> None:
    reply = ask(name, "TXT")
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []
    with pytest.raises(dns.resolver.NoAnswer):
        resolver().resolve(name, "TXT")


@pytest.mark.parametrize("name", ["nope.alder.test", "x.s1._domainkey.alder.test", "example.com"])
def test_nxdomain(server: LabDnsServer, name: str) -> None:
    assert ask(name, "A").rcode() == dns.rcode.NXDOMAIN
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver().resolve(name, "A")


def test_nxdomain_carries_zone_soa(server: LabDnsServer) -> None:
    assert types_in(ask("nope.county.test", "A").authority) == [("county.test.", "SOA", "")]


# -- CNAME -------------------------------------------------------------------------------------------


def test_cname_chain_is_chased(server: LabDnsServer) -> None:
    reply = ask("www.alder.test", "A")
    assert types_in(reply.answer) == [
        ("www.alder.test.", "CNAME", ""),
        ("web.alder.test.", "CNAME", ""),
        ("host.alder.test.", "A", ""),
    ]
    answer = resolver().resolve("www.alder.test", "A")
    assert str(answer.canonical_name) == "host.alder.test."
    assert [r.address for r in answer] == ["127.0.3.11"]


def test_cname_query_gets_only_the_cname(server: LabDnsServer) -> None:
    assert types_in(ask("www.alder.test", "CNAME").answer) == [("www.alder.test.", "CNAME", "")]


def test_cname_to_missing_in_zone_name_is_nxdomain(server: LabDnsServer) -> None:
    reply = ask("gone.alder.test", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert types_in(reply.answer) == [("gone.alder.test.", "CNAME", "")]


def test_cname_out_of_our_zones_is_answered_as_is(server: LabDnsServer) -> None:
    reply = ask("away.alder.test", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert types_in(reply.answer) == [("away.alder.test.", "CNAME", "")]


def test_cname_target_without_the_type_is_nodata(server: LabDnsServer) -> None:
    reply = ask("www.alder.test", "MX")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [t for _, t, _ in types_in(reply.answer)] == ["CNAME", "CNAME"]


def test_cname_loop_and_long_chain_terminate(server: LabDnsServer) -> None:
    loop = ask("loop1.alder.test", "A")
    assert loop.rcode() == dns.rcode.NOERROR
    assert types_in(loop.answer) == [("loop1.alder.test.", "CNAME", ""), ("loop2.alder.test.", "CNAME", "")]
    long = ask("c0.alder.test", "A")
    assert long.rcode() == dns.rcode.NOERROR
    assert len(long.answer) == 9  # the first CNAME plus 8 followed, then the server gives up
    assert all(r.rdtype == dns.rdatatype.CNAME for r in long.answer)


# -- DNSSEC ------------------------------------------------------------------------------------------


def test_do_bit_adds_covering_rrsigs(server: LabDnsServer) -> None:
    reply = ask("signed.test", "A", want_dnssec=True)
    assert types_in(reply.answer) == [("signed.test.", "A", ""), ("signed.test.", "RRSIG", "A")]
    assert reply.ednsflags & dns.flags.DO


def test_no_rrsigs_without_do(server: LabDnsServer) -> None:
    assert types_in(ask("signed.test", "A", use_edns=0).answer) == [("signed.test.", "A", "")]
    assert types_in(ask("signed.test", "A").answer) == [("signed.test.", "A", "")]


def test_do_bit_signs_cname_chain_and_negative_soa(server: LabDnsServer) -> None:
    reply = ask("www.signed.test", "A", want_dnssec=True)
    assert types_in(reply.answer) == [
        ("www.signed.test.", "CNAME", ""),
        ("www.signed.test.", "RRSIG", "CNAME"),
        ("signed.test.", "A", ""),
        ("signed.test.", "RRSIG", "A"),
    ]
    nodata = ask("signed.test", "AAAA", want_dnssec=True)
    assert types_in(nodata.authority) == [("signed.test.", "SOA", ""), ("signed.test.", "RRSIG", "SOA")]


@pytest.mark.parametrize("rdtype", ["DNSKEY", "DS", "NSEC"])
def test_dnssec_types_are_plain_types(server: LabDnsServer, rdtype: str) -> None:
    reply = ask("signed.test", rdtype)
    assert [t for _, t, _ in types_in(reply.answer)] == [rdtype]


def test_rrsig_query_returns_all_signatures(server: LabDnsServer) -> None:
    covered = {c for _, t, c in types_in(ask("signed.test", "RRSIG", use_edns=0).answer) if t == "RRSIG"}
    assert covered == {"SOA", "NS", "A", "DNSKEY", "NSEC"}


def test_dnskey_with_signatures_fits_edns_udp(server: LabDnsServer) -> None:
    reply = ask("signed.test", "DNSKEY", want_dnssec=True, payload=1232)
    assert not reply.flags & dns.flags.TC
    assert types_in(reply.answer) == [("signed.test.", "DNSKEY", ""), ("signed.test.", "RRSIG", "DNSKEY")]
    assert len(reply.answer[0]) == 2


# -- EDNS and truncation -----------------------------------------------------------------------------


def test_edns_is_echoed_with_payload_1232(server: LabDnsServer) -> None:
    reply = ask("alder.test", "MX", use_edns=0, payload=4096)
    assert reply.edns == 0 and reply.payload == 1232
    assert ask("alder.test", "MX").edns == -1  # no EDNS in, none out


def test_large_answer_fits_edns_udp_without_tc(server: LabDnsServer) -> None:
    reply = ask("s1._domainkey.alder.test", "TXT", use_edns=0, payload=1232)
    assert not reply.flags & dns.flags.TC
    assert len(reply.to_wire()) > 512


def test_large_answer_truncated_without_edns(server: LabDnsServer) -> None:
    reply = ask("s1._domainkey.alder.test", "TXT")
    assert reply.flags & dns.flags.TC
    assert reply.answer == []


def test_truncated_above_small_advertised_payload(server: LabDnsServer) -> None:
    reply = ask("s1._domainkey.alder.test", "TXT", use_edns=0, payload=512)
    assert reply.flags & dns.flags.TC and reply.answer == [] and reply.edns == 0


def test_resolver_falls_back_to_tcp_on_tc(server: LabDnsServer) -> None:
    answer = resolver().resolve("s1._domainkey.alder.test", "TXT")  # the Resolver sends no EDNS by default
    assert b"".join(answer[0].strings).endswith(DKIM_KEY.encode())


# -- faults ------------------------------------------------------------------------------------------


def test_dropped_name_times_out(server: LabDnsServer) -> None:
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(dns.message.make_query("slow.alder.test", "TXT"), RESOLVER, timeout=0.3)
    with pytest.raises(dns.resolver.LifetimeTimeout):
        res = resolver()
        res.lifetime = 0.5
        res.resolve("Slow.Alder.Test", "A")


def test_servfail_name(server: LabDnsServer) -> None:
    for rdtype in ("A", "TXT", "MX"):
        assert ask("broken.alder.test", rdtype).rcode() == dns.rcode.SERVFAIL
    with pytest.raises(dns.resolver.NoNameservers):
        resolver().resolve("broken.alder.test", "A")


def test_zone_transfer_refused(server: LabDnsServer) -> None:
    assert ask("alder.test", "AXFR", tcp=True).rcode() == dns.rcode.REFUSED


def test_protocol_errors(server: LabDnsServer) -> None:
    assert ask("alder.test", "MX", use_edns=1).rcode() == dns.rcode.BADVERS  # we speak EDNS version 0 only
    notify = dns.message.make_query("alder.test", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    assert dns.query.udp(notify, RESOLVER, timeout=TIMEOUT).rcode() == dns.rcode.NOTIMP
    empty = dns.message.Message()  # no question at all
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(empty.to_wire(), (RESOLVER, 53))
        reply = dns.message.from_wire(sock.recv(65535))
    assert reply.id == empty.id and reply.rcode() == dns.rcode.FORMERR


def test_any_query(server: LabDnsServer) -> None:
    assert {t for _, t, _ in types_in(ask("host.alder.test", "ANY").answer)} == {"A", "AAAA"}


# -- TCP ---------------------------------------------------------------------------------------------


def test_tcp_serves_the_same_data(server: LabDnsServer) -> None:
    udp = ask("www.alder.test", "A", address=NS1)
    tcp = ask("www.alder.test", "A", address=NS1, tcp=True)
    assert tcp.answer == udp.answer and tcp.flags & dns.flags.AA
    big = ask("s1._domainkey.alder.test", "TXT", tcp=True)  # no EDNS: no 512-byte limit over TCP
    assert not big.flags & dns.flags.TC and len(big.answer) == 1
    res = resolver()
    assert [r.address for r in res.resolve("host.alder.test", "A", tcp=True)] == ["127.0.3.11"]


def test_tcp_connection_serves_several_queries(server: LabDnsServer) -> None:
    with socket.create_connection((RESOLVER, 53), timeout=TIMEOUT) as sock:
        for name in ("alder.test", "county.test"):
            wire = dns.message.make_query(name, "SOA").to_wire()
            sock.sendall(struct.pack("!H", len(wire)) + wire)
            size = struct.unpack("!H", _recv_exact(sock, 2))[0]
            reply = dns.message.from_wire(_recv_exact(sock, size))
            assert str(reply.answer[0].name) == f"{name}."


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


# -- statistics --------------------------------------------------------------------------------------


def test_queries_are_counted(server: LabDnsServer) -> None:
    server.reset_queries()
    ask("Alder.Test.", "MX")
    ask("alder.test", "MX", tcp=True)
    ask("broken.alder.test", "A")
    with pytest.raises(dns.exception.Timeout):
        ask("slow.alder.test", "A", address=NS1, timeout=0.2)
    counts = server.queries
    assert counts == {("alder.test", "MX"): 2, ("broken.alder.test", "A"): 1, ("slow.alder.test", "A"): 1}
    counts[("x", "A")] += 1  # a snapshot: changing it does not touch the server's counts
    assert ("x", "A") not in server.queries
    server.reset_queries()
    assert server.queries == {}


# -- robustness --------------------------------------------------------------------------------------


def test_malformed_packets_are_ignored_quietly(
    server: LabDnsServer, capfd: pytest.CaptureFixture[str]
) -> None:
    good = dns.message.make_query("alder.test", "A").to_wire()
    response = dns.message.make_response(dns.message.make_query("alder.test", "A")).to_wire()
    junk = [
        b"",
        b"\x00",
        b"\xff" * 11,
        os.urandom(40),
        good[:-3],
        good + b"trailing",
        response,
        good[:4] + b"\x00\x09" + good[6:],
    ]  # claims 9 questions
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((RESOLVER, 53))
        for packet in junk:
            sock.send(packet)
        assert not select.select([sock], [], [], 0.3)[0], "no reply to junk"
    with socket.create_connection((RESOLVER, 53), timeout=TIMEOUT) as tcp:
        tcp.sendall(b"\x00\x05hello")
        tcp.sendall(struct.pack("!H", len(good)) + good)  # the same connection still answers
        size = struct.unpack("!H", _recv_exact(tcp, 2))[0]
        assert dns.message.from_wire(_recv_exact(tcp, size)).rcode() == dns.rcode.NOERROR
    assert ask("alder.test", "MX").rcode() == dns.rcode.NOERROR
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_no_output_per_query(server: LabDnsServer, capfd: pytest.CaptureFixture[str]) -> None:
    for name in ("alder.test", "nope.alder.test", "broken.alder.test"):
        ask(name, "A")
    assert capfd.readouterr() == ("", "")


def test_many_queries_in_flight(server: LabDnsServer) -> None:
    """2,000 distinct queries, 64 in flight on one socket: every one is answered."""
    names = [f"q{i}.alder.test" if i % 2 else "alder.test" for i in range(2000)]
    wires = [
        dns.message.make_query(name, "A" if i % 3 else "TXT", use_edns=0).to_wire()[2:]
        for i, name in enumerate(names)
    ]
    pending: dict[int, float] = {}
    answered = sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((RESOLVER, 53))
        deadline = time.monotonic() + 20
        while answered < len(wires) and time.monotonic() < deadline:
            while len(pending) < 64 and sent < len(wires):
                sock.send(struct.pack("!H", sent) + wires[sent])
                pending[sent] = time.monotonic()
                sent += 1
            if select.select([sock], [], [], 1)[0]:
                reply = sock.recv(65535)
                if pending.pop(struct.unpack("!H", reply[:2])[0], None) is not None:
                    answered += 1
    assert answered == len(wires)


# -- lifecycle ---------------------------------------------------------------------------------------


def test_stop_is_idempotent_and_addresses_rebind_at_once() -> None:
    zone = "spare.test. 60 IN A 127.0.0.9\n"
    srv = LabDnsServer(zone, addresses=[SPARE])
    with srv:
        assert resolver(SPARE).resolve("spare.test", "A")[0].address == "127.0.0.9"
        ask("spare.test", "A", address=SPARE, tcp=True)
    srv.stop()
    srv.start()  # the same instance starts again
    assert ask("spare.test", "A", address=SPARE).answer
    srv.stop()
    with LabDnsServer(zone, addresses=[SPARE]) as again:  # same address and port, straight away
        assert ask("spare.test", "A", address=SPARE, tcp=True).answer
        again.stop()
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind((SPARE, 53))


def test_bind_failure_raises_and_releases_what_was_bound(server: LabDnsServer) -> None:
    srv = LabDnsServer("", addresses=[SPARE, RESOLVER])  # RESOLVER is held by the module's server
    with pytest.raises(OSError, match=f"UDP {RESOLVER} port 53"):
        srv.start()
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind((SPARE, 53))  # the sockets bound before the failure were closed
    srv.stop()


# -- zone text parsing -------------------------------------------------------------------------------


def test_parse_directives_relative_names_and_multiline() -> None:
    data = parse_zone_text("""
$TTL 120
$ORIGIN birch.test.
@ IN SOA ns1 hostmaster ( 1 ; serial
        3600 600 86400 300 )
    IN NS ns1
ns1 60 IN A 127.0.0.1 ; same owner on the next line
    IN AAAA ::1
www IN 30 CNAME @
mail.other.test. A 127.0.0.2
""")
    name = dns.name.from_text
    assert data[name("birch.test.")][(dns.rdatatype.SOA, 0)].ttl == 120
    assert data[name("birch.test.")][(dns.rdatatype.NS, 0)][0].target == name("ns1.birch.test.")
    assert data[name("ns1.birch.test.")][(dns.rdatatype.AAAA, 0)].ttl == 120
    assert data[name("www.birch.test.")][(dns.rdatatype.CNAME, 0)].ttl == 30
    assert (dns.rdatatype.A, 0) in data[name("mail.other.test.")]


def test_parse_error_names_the_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_zone_text("a.test. 60 IN A 127.0.0.1\nb.test. 60 IN A not-an-address\n\n")
