"""One UDP socket per DNS server for a whole scan, answers matched to questions by message id.

A socket per question (dnspython's asyncquery.udp) costs a socket, a transport and a connect each time;
a town's scan asks a server hundreds of questions, a region's tens of thousands. The socket is
connected, so the kernel drops datagrams from any other address.
"""

from __future__ import annotations

import asyncio
import secrets


class _Channel(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport, not its ABC

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) < 12:
            return  # not even a DNS header: ignore it, the question times out if nothing better comes
        future = self.pending.get(int.from_bytes(data[:2], "big"))
        if future is not None and not future.done():
            future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # On a connected socket this is the ICMP answer of the one server: nothing listens there.
        for future in self.pending.values():
            if not future.done():
                future.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for future in self.pending.values():
            if not future.done():
                future.set_exception(exc or ConnectionResetError("the DNS socket closed"))


class UdpChannels:
    """Hands out one connected UDP channel per (address, port) and exchanges messages over it."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, int], asyncio.Future[_Channel]] = {}

    async def _channel(self, host: str, port: int) -> _Channel:
        key = (host, port)
        made = self._channels.get(key)
        if made is None or (made.done() and not made.exception() and made.result().closed):
            made = self._channels[key] = asyncio.ensure_future(self._open(host, port))
        return await asyncio.shield(made)

    async def _open(self, host: str, port: int) -> _Channel:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(_Channel, remote_addr=(host, port))
        return proto

    async def exchange(self, host: str, port: int, wire: bytes, *, timeout_s: float) -> bytes:
        """Send one DNS message and return the datagram that answers its id; raise TimeoutError or OSError."""
        try:
            channel = await self._channel(host, port)
        except OSError:
            self._channels.pop((host, port), None)
            raise
        qid = secrets.randbelow(65536)  # unpredictable ids: a blind spoofer must guess (RFC 5452)
        while qid in channel.pending:
            qid = secrets.randbelow(65536)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        channel.pending[qid] = future
        try:
            assert channel.transport is not None
            channel.transport.sendto(qid.to_bytes(2, "big") + wire[2:])
            return await asyncio.wait_for(future, timeout_s)
        finally:
            channel.pending.pop(qid, None)

    def close(self) -> None:
        for made in self._channels.values():
            if made.done() and not made.exception():
                transport = made.result().transport
                if transport is not None:
                    transport.close()
        self._channels.clear()
