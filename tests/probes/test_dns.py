"""The DNS probe against the lab's real DNS server: every way a question can end is a distinct fact."""

from __future__ import annotations

import asyncio

import pytest

from secbase.facts import DnsAnswer, DnsOutcome, dns_at_key, dns_key
from secbase.lab import Lab
from secbase.lab.towns import RESOLVER
from secbase.probes import Limiter
from secbase.probes.dns import DnsProbe, query_wire, split_server


def probe(resolvers: list[str] | None = None, timeout_s: float = 1.0) -> DnsProbe:
    return DnsProbe(
        resolvers=resolvers or [f"{RESOLVER}:53"], timeout_s=timeout_s, limiter=Limiter(total=8, per_server=4)
    )


def ask(name: str, rdtype: str, **kw: object) -> DnsAnswer:
    async def main() -> DnsAnswer:
        return await probe(**kw).fetch(dns_key(name, rdtype))  # type: ignore[arg-type]

    return asyncio.run(main())


def test_an_existing_record_is_ok(lab: Lab) -> None:
    answer = ask("alder.test", "MX")
    assert answer.outcome is DnsOutcome.OK
    assert answer.records == ("10 mail.alder.test.",)
    assert answer.error is None


def test_an_unknown_name_is_nxdomain(lab: Lab) -> None:
    answer = ask("nothing-here.alder.test", "TXT")
    assert answer.outcome is DnsOutcome.NXDOMAIN
    assert answer.error is None and answer.is_empty


def test_a_name_without_that_type_is_nodata(lab: Lab) -> None:
    answer = ask("www.alder.test", "MX")
    assert answer.outcome is DnsOutcome.NODATA
    assert answer.error is None and answer.is_empty


def test_servfail_is_an_error_with_a_reason(lab: Lab) -> None:
    answer = ask("elm.test", "TXT")
    assert answer.outcome is DnsOutcome.SERVFAIL
    assert answer.error is not None and "SERVFAIL" in answer.error


def test_a_dropped_question_times_out(lab: Lab) -> None:
    answer = ask("_dmarc.elm.test", "TXT", timeout_s=0.5)
    assert answer.outcome is DnsOutcome.TIMEOUT
    assert answer.error is not None and "did not answer" in answer.error


def test_a_server_that_is_not_there_is_refused_not_timeout(lab: Lab) -> None:
    answer = ask("alder.test", "TXT", resolvers=["127.53.4.99:53"])
    assert answer.outcome in (DnsOutcome.REFUSED, DnsOutcome.TIMEOUT)
    assert answer.error is not None


def test_the_next_resolver_is_asked_when_the_first_fails(lab: Lab) -> None:
    answer = ask("alder.test", "MX", resolvers=["127.53.4.99:53", f"{RESOLVER}:53"])
    assert answer.outcome is DnsOutcome.OK


def test_multi_string_txt_is_joined_without_spaces(lab: Lab) -> None:
    answer = ask("cedar.test", "TXT")
    assert answer.texts() == ["v=spf1 ip4:192.0.2.10-all"]
    assert answer.strings() == [("v=spf1 ip4:192.0.2.10", "-all")]


def test_a_2048_bit_dkim_key_comes_back_whole_over_udp(lab: Lab) -> None:
    assert lab.dns is not None
    lab.dns.reset_queries()
    answer = ask("s1._domainkey.alder.test", "TXT")
    assert answer.outcome is DnsOutcome.OK
    assert len(answer.texts()[0]) > 300
    # EDNS0 with a 1232-byte buffer: one question, not a truncated answer asked again over TCP.
    assert lab.dns.queries[("s1._domainkey.alder.test", "TXT")] == 1


def test_signatures_come_with_a_signed_answer(lab: Lab) -> None:
    answer = ask("alder.test", "DNSKEY")
    assert answer.records and answer.rrsigs


def test_a_question_to_one_name_server_directly(lab: Lab) -> None:
    async def main() -> DnsAnswer:
        return await probe().fetch(dns_at_key("127.53.1.1", "alder.test", "SOA"))

    answer = asyncio.run(main())
    assert answer.outcome is DnsOutcome.OK and answer.authoritative


def test_a_name_that_is_not_a_name_is_an_error_fact() -> None:
    answer = ask("a" * 70 + ".test", "TXT")
    assert answer.outcome is DnsOutcome.ERROR


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:53", ("127.0.0.1", 53)), ("[::1]:5353", ("::1", 5353)), ("10.0.0.1", ("10.0.0.1", 53))],
)
def test_server_addresses_split(text: str, expected: tuple[str, int]) -> None:
    assert split_server(text) == expected


@pytest.mark.parametrize("name", ["alder.test", "s1._domainkey.alder.test", "a\\032b.test", "."])
@pytest.mark.parametrize("rdtype", ["A", "TXT", "DNSKEY", "CAA"])
@pytest.mark.parametrize(("recursion", "signed"), [(True, False), (False, True), (True, True)])
def test_the_query_we_write_is_the_one_dnspython_renders(
    name: str, rdtype: str, recursion: bool, signed: bool
) -> None:
    import dns.flags
    import dns.message
    import dns.name
    import dns.rdatatype

    query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, want_dnssec=signed)
    query.id = 0
    query.flags = (dns.flags.RD if recursion else 0) | (dns.flags.CD if signed else 0)
    flags = int(query.flags)
    ours = query_wire(
        dns.name.from_text(name), dns.rdatatype.from_text(rdtype), flags=flags, dnssec_ok=signed
    )
    assert ours == query.to_wire()
