"""The shared UDP socket: answers are matched to questions, and anything that does not match is not an answer."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
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
        elif name == "big.test":  # too big for UDP: TC set, answer only over TCP
            reply.flags |= dns.flags.TC
        elif name == "nxdomain.test":
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif name == "silent.test":
            continue
        elif name == "drop-first.test" and name not in dropped:
            dropped.add(name)  # the first datagram is "lost"
            continue
        sock.sendto(reply.to_wire(), peer)


BIG = [f"v=big{i} " + "x" * 240 for i in range(8)]  # about 2 KB of TXT: more than EDNS's 1232 bytes


def _serve_tcp(listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            query = dns.query.receive_tcp(conn)[0]
            reply = dns.message.make_response(query)
            reply.answer.append(dns.rrset.from_text("big.test.", 60, "IN", "TXT", *(f'"{t}"' for t in BIG)))
            dns.query.send_tcp(conn, reply.to_wire(max_size=65535))


@pytest.fixture(scope="module")
def server() -> Iterator[None]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(ADDRESS)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(ADDRESS)
    listener.listen()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_serve, args=(sock, stop), daemon=True),
        threading.Thread(target=_serve_tcp, args=(listener, stop), daemon=True),
    ]
    for t in threads:
        t.start()
    yield
    stop.set()
    for t in threads:
        t.join()
    sock.close()
    listener.close()


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


def test_a_truncated_answer_is_asked_again_over_tcp(server: None) -> None:
    async def main() -> list[str]:
        probe = DnsProbe(
            resolvers=[f"{ADDRESS[0]}:{ADDRESS[1]}"], timeout_s=1, limiter=Limiter(total=8, per_server=8)
        )
        try:
            answer = await probe.fetch(dns_key("big.test", "TXT"))
        finally:
            probe.close()
        assert answer.outcome is DnsOutcome.OK
        return answer.texts()

    assert sorted(asyncio.run(main())) == sorted(BIG)


def test_many_questions_share_one_socket_and_each_gets_its_own_answer(server: None) -> None:
    names = ["nxdomain.test", "silent.test", *(f"n{i}.test" for i in range(50))]
    outcomes = ask(*names)
    assert outcomes[:2] == [DnsOutcome.NXDOMAIN, DnsOutcome.TIMEOUT]
    assert set(outcomes[2:]) == {DnsOutcome.NODATA}
