"""One UDP socket per DNS server for a whole scan, answers matched to their question.

A socket per question (dnspython's asyncquery.udp) costs a socket, a transport and a connect each time;
a town's scan asks a server hundreds of questions, a region's tens of thousands. The socket is
connected, so the kernel drops datagrams from any other address; a datagram is taken as the answer only
if it is a response (QR) with the id and the question we sent, anything else is ignored.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
from dataclasses import dataclass

QR = 0x8000
DRAIN_LIMIT = 256  # datagrams read per wake-up at most
MAX_DATAGRAM = 65535
RETRIES = 3  # sends per question within its time-out: one lost datagram must not mean "could not check"


def question_of(wire: bytes) -> bytes | None:
    """The question section of a one-question message (name, type, class), or None if there is none."""
    if len(wire) < 12 or struct.unpack("!H", wire[4:6])[0] != 1:
        return None
    i = 12
    while i < len(wire) and wire[i] != 0:
        if wire[i] >= 0xC0:  # a compression pointer cannot start the first name of a message
            return None
        i += wire[i] + 1
    end = i + 5
    return wire[12:end] if end <= len(wire) else None


def same_question(a: bytes, b: bytes) -> bool:
    """Names compared without case (RFC 4343), type and class byte for byte."""
    return len(a) == len(b) and a[:-4].lower() == b[:-4].lower() and a[-4:] == b[-4:]


@dataclass
class _Pending:
    question: bytes
    future: asyncio.Future[bytes]


class _Channel:
    """A connected, non-blocking UDP socket read by the event loop.

    Every datagram waiting is read at each wake-up (asyncio's datagram transport reads one per loop
    iteration: with the loop busy, answers would queue up unread until their questions timed out).
    """

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self.pending: dict[int, _Pending] = {}
        self.closed = False
        self._sock = sock
        self._loop = loop
        loop.add_reader(sock.fileno(), self._drain)

    def send(self, message: bytes) -> None:
        try:
            self._sock.send(message)
        except BlockingIOError:
            return  # the send buffer is full: the question is sent again a third of the time-out later
        except OSError as exc:
            self._fail(exc)

    def _drain(self) -> None:
        for _ in range(DRAIN_LIMIT):  # bounded, so that a flood of datagrams cannot hold the loop
            try:
                data = self._sock.recv(MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError as exc:  # on a connected socket, the ICMP answer of the one server
                self._fail(exc)
                return
            self._received(data)

    def _received(self, data: bytes) -> None:
        if len(data) < 12:
            return
        qid, flags = struct.unpack("!HH", data[:4])
        waiting = self.pending.get(qid)
        if waiting is None or waiting.future.done() or not flags & QR:
            return
        echoed = question_of(data)
        rcode = flags & 0x000F
        # Some servers refuse or fail without echoing the question; an answer must always echo it.
        if (echoed is None and rcode == 0) or (
            echoed is not None and not same_question(echoed, waiting.question)
        ):
            return
        waiting.future.set_result(data)

    def _fail(self, exc: BaseException) -> None:
        for waiting in self.pending.values():
            if not waiting.future.done():
                waiting.future.set_exception(exc)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._fail(ConnectionResetError("the DNS socket closed"))


class UdpChannels:
    """Hands out one connected UDP channel per (address, port) and exchanges messages over it."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, int], asyncio.Task[_Channel]] = {}

    async def _channel(self, host: str, port: int) -> _Channel:
        key = (host, port)
        task = self._channels.get(key)
        if task is None or (task.done() and (task.exception() is not None or task.result().closed)):
            task = self._channels[key] = asyncio.ensure_future(self._open(host, port))
        return await asyncio.shield(task)

    async def _open(self, host: str, port: int) -> _Channel:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect((host, port))  # UDP: no packet sent, only the peer fixed (and others filtered)
        except OSError:
            sock.close()
            raise
        return _Channel(sock, asyncio.get_running_loop())

    async def exchange(self, host: str, port: int, wire: bytes, *, timeout_s: float) -> bytes:
        """Send one DNS message and return its answer; raise TimeoutError, OSError or ValueError.

        The question is sent again every third of the time-out while no answer has come.
        """
        question = question_of(wire)
        if question is None:
            raise ValueError("a DNS question must hold exactly one question")
        channel = await self._channel(host, port)
        qid = secrets.randbelow(65536)  # unpredictable ids: a blind spoofer must guess (RFC 5452)
        while qid in channel.pending:
            qid = secrets.randbelow(65536)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        channel.pending[qid] = _Pending(question, future)
        message = qid.to_bytes(2, "big") + wire[2:]
        loop = asyncio.get_running_loop()
        timer: list[asyncio.TimerHandle] = []

        def tick(sent: int) -> None:
            # One timer per question: send, and after a third of the time-out send again or give up.
            if future.done():
                return
            if sent == RETRIES:
                future.set_exception(TimeoutError(f"no answer within {timeout_s:g} s"))
                return
            if channel.closed:
                future.set_exception(ConnectionResetError("the DNS socket closed"))
                return
            channel.send(message)
            timer[:] = [loop.call_later(timeout_s / RETRIES, tick, sent + 1)]

        tick(0)
        try:
            return await future
        finally:
            for handle in timer:
                handle.cancel()
            channel.pending.pop(qid, None)
            if not future.done():
                future.cancel()

    def close(self) -> None:
        """Close every socket, also those still opening."""
        for task in self._channels.values():
            if not task.done():
                task.cancel()
            elif task.exception() is None:
                task.result().close()
        self._channels.clear()
