"""The shared UDP socket: answers are matched to questions, and anything that does not match is not an answer."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import dns.message
import dns.rcode
import pytest

from secbase.facts import DnsOutcome, dns_key
from secbase.probes import Limiter
from secbase.probes.dns import DnsProbe

ADDRESS = ("127.53.201.1", 5300)


def _serve(sock: socket.socket, stop: threading.Event) -> None:
    """A misbehaving server: its answers depend on the name asked."""
    sock.settimeout(0.1)
    dropped: set[str] = set()
    while not stop.is_set():
        try:
            wire, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        query = dns.message.from_wire(wire)
        name = query.question[0].name.to_text(omit_final_dot=True)
        reply = dns.message.make_response(query)
        if name == "other-question.test":  # answers a question nobody asked
            reply = dns.message.make_response(dns.message.make_query("else.test", "A"))
            reply.id = query.id
        elif name == "wrong-id.test":
            reply.id = (query.id + 1) % 65536
        elif name == "garbage-first.test":
            sock.sendto(b"\x00\x01junk", peer)
        elif name == "nxdomain.test":
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif name == "silent.test":
            continue
        elif name == "drop-first.test" and name not in dropped:
            dropped.add(name)  # the first datagram is "lost"
            continue
        sock.sendto(reply.to_wire(), peer)


@pytest.fixture(scope="module")
def server() -> Iterator[None]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(ADDRESS)
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(sock, stop), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()
    sock.close()


def ask(*names: str) -> list[DnsOutcome]:
    async def main() -> list[DnsOutcome]:
        probe = DnsProbe(
            resolvers=[f"{ADDRESS[0]}:{ADDRESS[1]}"], timeout_s=0.5, limiter=Limiter(total=8, per_server=8)
        )
        try:
            answers = await asyncio.gather(*(probe.fetch(dns_key(n, "A")) for n in names))
        finally:
            probe.close()
        return [a.outcome for a in answers]

    return asyncio.run(main())


def test_an_answer_to_another_question_is_ignored_so_the_question_times_out(server: None) -> None:
    assert ask("other-question.test") == [DnsOutcome.TIMEOUT]


def test_a_lost_datagram_is_sent_again_within_the_time_out(server: None) -> None:
    assert ask("drop-first.test") == [DnsOutcome.NODATA]


def test_an_answer_with_another_id_is_ignored_and_the_question_times_out(server: None) -> None:
    assert ask("wrong-id.test") == [DnsOutcome.TIMEOUT]


def test_garbage_before_the_answer_does_no_harm(server: None) -> None:
    assert ask("garbage-first.test") == [DnsOutcome.NODATA]


def test_many_questions_share_one_socket_and_each_gets_its_own_answer(server: None) -> None:
    names = ["nxdomain.test", "silent.test", *(f"n{i}.test" for i in range(50))]
    outcomes = ask(*names)
    assert outcomes[:2] == [DnsOutcome.NXDOMAIN, DnsOutcome.TIMEOUT]
    assert set(outcomes[2:]) == {DnsOutcome.NODATA}
