"""Authoritative DNS server on loopback that serves the lab's fake towns' zones to secbase scans."""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import selectors
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.renderer
import dns.rrset
import dns.tokenizer
import dns.ttl

from secbase.lab._running import Running

__all__ = ["LabDnsServer", "parse_zone_text"]

# Records are keyed by (rdtype, covers): RRSIGs covering different types are separate RRsets, as in dnspython.
RRsetKey = tuple[int, int]
Node = dict[RRsetKey, dns.rrset.RRset]

EDNS_PAYLOAD = 1232  # DNS flag day 2020: avoids IP fragmentation, still fits DKIM keys and DNSKEY sets
CLASSIC_UDP_LIMIT = 512
TCP_LIMIT = 65535
MAX_CNAME_CHAIN = 8
FALLBACK_TTL = 3600
TCP_IDLE_TIMEOUT = 10.0
UDP_BATCH = 64  # packets drained per readiness event, so one busy address cannot starve the others
CACHE_SIZE = 20000  # cached replies, a few MB at most
UDP_RCVBUF = 1 << 20  # absorbs benchmark bursts; the kernel caps it at rmem_max anyway

_RRSIG = int(dns.rdatatype.RRSIG)
_CNAME = int(dns.rdatatype.CNAME)
_SOA = int(dns.rdatatype.SOA)
_ANY = int(dns.rdatatype.ANY)
_CLASSES = {int(dns.rdataclass.IN), int(dns.rdataclass.ANY)}
_ZONE_TRANSFERS = {int(dns.rdatatype.AXFR), int(dns.rdatatype.IXFR)}


class _Renderer(Protocol):
    """The part of dns.renderer.Renderer used here; dnspython leaves that class unannotated."""

    def add_question(self, qname: dns.name.Name, rdtype: int, rdclass: int) -> None: ...
    def add_rrset(self, section: int, rrset: dns.rrset.RRset) -> None: ...
    def add_edns(self, edns: int, ednsflags: int, payload: int) -> None: ...
    def write_header(self) -> None: ...
    def get_wire(self) -> bytes: ...


_new_renderer: Callable[[int, int, int], _Renderer] = dns.renderer.Renderer  # (id, flags, max_size)


def parse_zone_text(text: str) -> dict[dns.name.Name, Node]:
    """Parse master-file text that may mix many zones (so several SOAs) into owner -> RRsets.

    dnspython's zone and rrset readers insist on one SOA at one origin, so this walks the text with
    dnspython's tokenizer and rdata parser instead; `$ORIGIN` and `$TTL` are honoured, relative names
    are taken relative to the current `$ORIGIN` (the root by default).
    """
    tok = dns.tokenizer.Tokenizer(text, "<zone text>")
    origin = dns.name.root
    default_ttl: int | None = None
    last_ttl: int | None = None
    last_name: dns.name.Name | None = None
    data: dict[dns.name.Name, Node] = {}
    line = 1
    try:
        while True:
            token = tok.get(want_leading=True)
            if token.is_eof():
                break
            if token.is_eol():
                continue
            line = tok.line_number  # the tokenizer is already past the line when rdata parsing fails
            if token.is_whitespace():
                # A line starting with blanks reuses the previous owner (RFC 1035 section 5.1).
                token = tok.get()
                if token.is_eol_or_eof():
                    continue
                if last_name is None:
                    raise ValueError("record without an owner name")
                name = last_name
            elif token.is_identifier() and token.value.startswith("$"):
                directive = token.value.upper()
                if directive == "$TTL":
                    default_ttl = dns.ttl.from_text(tok.get_identifier())
                elif directive == "$ORIGIN":
                    origin = tok.get_name(origin)
                else:
                    raise ValueError(f"unsupported directive {token.value}")
                tok.get_eol()
                continue
            else:
                name = tok.as_name(token, origin)
                last_name = name
                token = tok.get()
            # TTL and class are both optional and may come in either order.
            ttl: int | None = None
            rdclass = dns.rdataclass.IN
            for _ in range(2):
                if not token.is_identifier():
                    raise ValueError("expected TTL, class or type")
                if ttl is None and token.value[:1].isdigit():
                    ttl = dns.ttl.from_text(token.value)
                elif token.value.upper().startswith("CLASS") or token.value.upper() in ("IN", "CH", "HS"):
                    rdclass = dns.rdataclass.from_text(token.value)
                else:
                    break
                token = tok.get()
            if rdclass != dns.rdataclass.IN:
                raise ValueError(f"only class IN is served, got {token.value}")
            rdtype = dns.rdatatype.from_text(token.value)
            rdata = dns.rdata.from_text(rdclass, rdtype, tok, origin, relativize=False)
            if ttl is None:
                ttl = default_ttl if default_ttl is not None else last_ttl
            if ttl is None:
                ttl = FALLBACK_TTL
            last_ttl = ttl
            node = data.setdefault(name, {})
            key = (int(rdtype), int(rdata.covers()))
            rrset = node.get(key)
            if rrset is None:
                rrset = node[key] = dns.rrset.RRset(name, rdclass, rdtype, rdata.covers())
            rrset.add(rdata, ttl)  # duplicates collapse; differing TTLs collapse to the minimum
    except (dns.exception.DNSException, ValueError) as exc:
        raise ValueError(f"zone text line {line}: {exc}") from exc
    return data


def _query_key(qname: dns.name.Name, qtype: dns.rdatatype.RdataType) -> tuple[str, str]:
    text = qname.to_text(omit_final_dot=True).lower()
    return (text if text else ".", dns.rdatatype.to_text(qtype))


class LabDnsServer(Running):
    """An authoritative DNS server on loopback serving fake towns' records.

    The zone text is parsed with dnspython and replies are built with dnspython too (not dnslib), so
    DNSSEC, CAA and multi-string TXT records reach dnspython clients byte-exact. One selector thread serves
    UDP and accepts TCP on every address; each TCP connection gets its own daemon thread.
    """

    def __init__(
        self,
        zone_text: str,
        *,
        addresses: Sequence[str],
        port: int = 53,
        drop: Iterable[str] = (),
        servfail: Iterable[str] = (),
    ) -> None:
        if isinstance(addresses, str):
            raise TypeError("addresses must be a sequence of address strings, not one string")
        self._data = parse_zone_text(zone_text)
        # Every proper ancestor of an owner exists as an empty non-terminal (NODATA, not NXDOMAIN).
        self._ents: set[dns.name.Name] = set()
        for owner in self._data:
            parent = owner
            while parent != dns.name.root:
                parent = parent.parent()
                self._ents.add(parent)
        self._apexes = {owner for owner, node in self._data.items() if (_SOA, 0) in node}
        self._addresses = list(addresses)
        self._port = port
        self._drop = frozenset(n.lower().rstrip(".") for n in drop)
        self._servfail = frozenset(n.lower().rstrip(".") for n in servfail)
        self._queries: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()
        self._udp: list[socket.socket] = []
        self._listeners: list[socket.socket] = []
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._cache: dict[tuple[bool, bytes], tuple[tuple[str, str] | None, bytes | None]] = {}

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind UDP and TCP on every address and start serving; raise OSError naming the failed bind."""
        if self._thread is not None:
            raise RuntimeError("LabDnsServer already started")
        self._stopping.clear()
        try:
            for address in self._addresses:
                family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
                self._udp.append(self._bind(family, socket.SOCK_DGRAM, address))
                self._listeners.append(self._bind(family, socket.SOCK_STREAM, address))
        except OSError:
            self._close_sockets()
            raise
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="lab-dns", daemon=True)
        self._thread.start()

    def _bind(self, family: socket.AddressFamily, kind: socket.SocketKind, address: str) -> socket.socket:
        sock = socket.socket(family, kind)
        try:
            if kind == socket.SOCK_STREAM:
                # TCP only: lets a restarted server re-bind past TIME_WAIT. On UDP it would let two
                # servers share the port and split the traffic silently, so UDP does without.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
            sock.bind((address, self._port))
            if kind == socket.SOCK_STREAM:
                sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            proto = "TCP" if kind == socket.SOCK_STREAM else "UDP"
            raise OSError(
                exc.errno, f"LabDnsServer cannot bind {proto} {address} port {self._port}: {exc.strerror}"
            ) from exc
        return sock

    def stop(self) -> None:
        """Stop serving and close every socket; safe to call more than once."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and self._wake is not None:
            self._wake[1].send(b"x")
            thread.join(timeout=5)
        with self._lock:
            conns = list(self._conns.items())
        for conn, _ in conns:
            # Wakes a connection thread blocked in recv(); it closes its socket itself.
            with contextlib.suppress(OSError):  # the peer or the thread may have closed it already
                conn.shutdown(socket.SHUT_RDWR)
        for _, conn_thread in conns:
            conn_thread.join(timeout=2)
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in (*self._udp, *self._listeners, *(self._wake or ())):
            sock.close()
        self._udp, self._listeners, self._wake = [], [], None

    # -- statistics ------------------------------------------------------------------------------------

    @property
    def queries(self) -> collections.Counter[tuple[str, str]]:
        """A snapshot of (qname lower-case without trailing dot, qtype text) -> queries received."""
        with self._lock:
            return collections.Counter(self._queries)

    def reset_queries(self) -> None:
        with self._lock:
            self._queries.clear()

    # -- transport -------------------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._wake is not None
        with selectors.DefaultSelector() as sel:
            for sock in self._udp:
                sel.register(sock, selectors.EVENT_READ, self._on_udp)
            for sock in self._listeners:
                sel.register(sock, selectors.EVENT_READ, self._on_accept)
            sel.register(self._wake[0], selectors.EVENT_READ, None)
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.data is None:
                        return
                    handler: Callable[[socket.socket], None] = key.data
                    handler(cast(socket.socket, key.fileobj))

    def _on_udp(self, sock: socket.socket) -> None:
        for _ in range(UDP_BATCH):
            try:
                wire, peer = sock.recvfrom(65535)
            except OSError:
                return  # drained (BlockingIOError) or an ICMP error queued on the socket: nothing to answer
            reply = self._handle(wire, tcp=False)
            if reply is not None:
                try:
                    sock.sendto(reply, peer)
                except OSError:
                    # Full send buffer or vanished client: UDP clients retry, so losing one reply is fine.
                    continue

    def _on_accept(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return  # the client gave up between readiness and accept(), or no descriptors left: try later
        conn.setblocking(True)
        conn.settimeout(TCP_IDLE_TIMEOUT)
        thread = threading.Thread(target=self._serve_tcp, args=(conn,), name="lab-dns-tcp", daemon=True)
        with self._lock:
            self._conns[conn] = thread
        thread.start()

    def _serve_tcp(self, conn: socket.socket) -> None:
        try:
            while not self._stopping.is_set():
                header = _recv_exact(conn, 2)
                if header is None:
                    return
                wire = _recv_exact(conn, int.from_bytes(header, "big"))
                if wire is None:
                    return
                reply = self._handle(wire, tcp=True)
                if reply is not None:
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
        except OSError:
            return  # idle timeout, reset by the client, or shut down by stop(): the connection is over
        finally:
            with self._lock:
                self._conns.pop(conn, None)
            conn.close()

    # -- DNS -------------------------------------------------------------------------------------------

    def _handle(self, wire: bytes, *, tcp: bool) -> bytes | None:
        """Answer one query message; None means send nothing (malformed, a response, or a dropped name)."""
        # The reply is a pure function of the query bytes after the ID and of the transport (the data
        # never changes), so repeated queries skip dnspython's parse and render: ~5x the throughput.
        cache_key = (tcp, wire[2:])
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = self._answer(wire, tcp)
            if cached is None:
                return None  # malformed or not a query: not counted, not cached
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()  # random names (fuzzing) must not grow memory without bound
            self._cache[cache_key] = cached
        key, tail = cached
        if key is not None:
            with self._lock:
                self._queries[key] += 1
        return None if tail is None else wire[:2] + tail

    def _answer(self, wire: bytes, tcp: bool) -> tuple[tuple[str, str] | None, bytes | None] | None:
        """(query key, reply without its 2-byte ID or None to stay silent), or None if not a valid query."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # malformed: ignoring it is what a hardened server does, and keeps stderr quiet
        if query.flags & dns.flags.QR:
            return None  # never answer responses: two servers could ping-pong forever
        do = query.edns >= 0 and bool(query.ednsflags & dns.flags.DO)
        answer: list[dns.rrset.RRset] = []
        authority: list[dns.rrset.RRset] = []
        if len(query.question) != 1:
            return None, self._render(query, None, dns.rcode.FORMERR, answer, authority, tcp)[2:]
        question = query.question[0]
        key = _query_key(question.name, question.rdtype)
        if key[0] in self._drop:
            return key, None
        if query.opcode() != dns.opcode.QUERY:
            rcode = dns.rcode.NOTIMP
        elif query.edns > 0:
            rcode = dns.rcode.BADVERS
        elif key[0] in self._servfail:
            rcode = dns.rcode.SERVFAIL
        elif question.rdclass not in _CLASSES or question.rdtype in _ZONE_TRANSFERS:
            rcode = dns.rcode.REFUSED  # other classes and zone transfers: out of scope
        else:
            rcode = self._resolve(question.name, int(question.rdtype), do, answer, authority)
        return key, self._render(query, question, rcode, answer, authority, tcp)[2:]

    def _render(
        self,
        query: dns.message.Message,
        question: dns.rrset.RRset | None,
        rcode: dns.rcode.Rcode,
        answer: list[dns.rrset.RRset],
        authority: list[dns.rrset.RRset],
        tcp: bool,
    ) -> bytes:
        """Render the reply with dnspython's Renderer: a third cheaper than building a dns.message."""
        edns = query.edns >= 0
        if tcp:
            limit = TCP_LIMIT
        elif edns:
            limit = min(max(query.payload, CLASSIC_UDP_LIMIT), EDNS_PAYLOAD)
        else:
            limit = CLASSIC_UDP_LIMIT
        rcode_flags, rcode_ednsflags = dns.rcode.to_flags(rcode)
        flags = (
            dns.flags.QR
            | dns.flags.AA
            | (query.flags & (dns.flags.RD | dns.flags.CD))
            | dns.opcode.to_flags(query.opcode())
            | rcode_flags
        )
        ednsflags = rcode_ednsflags | (query.ednsflags & dns.flags.DO)

        def render(sections: bool) -> bytes:
            out = _new_renderer(query.id, flags if sections else flags | dns.flags.TC, limit)
            if question is not None:
                out.add_question(question.name, question.rdtype, question.rdclass)
            if sections:
                for rrset in answer:
                    out.add_rrset(dns.renderer.ANSWER, rrset)
                for rrset in authority:
                    out.add_rrset(dns.renderer.AUTHORITY, rrset)
            if edns:
                out.add_edns(0, ednsflags, EDNS_PAYLOAD)
            out.write_header()
            return out.get_wire()

        try:
            return render(sections=True)
        except dns.exception.TooBig:
            # Too big for this transport: TC with no records tells the client to retry over TCP.
            return render(sections=False)

    def _resolve(
        self,
        qname: dns.name.Name,
        qtype: int,
        do: bool,
        answer: list[dns.rrset.RRset],
        authority: list[dns.rrset.RRset],
    ) -> dns.rcode.Rcode:
        name = qname
        seen: set[dns.name.Name] = set()
        for _ in range(MAX_CNAME_CHAIN + 1):
            seen.add(name)
            node = self._data.get(name)
            if node is None:
                apex = self._apex_of(name)
                if name != qname and apex is None:
                    # A CNAME target outside every served zone is not ours to deny: NOERROR with the chain.
                    return dns.rcode.NOERROR
                self._add_soa(apex, do, authority)
                return dns.rcode.NOERROR if name in self._ents else dns.rcode.NXDOMAIN
            if qtype == _ANY:
                rrsets = [r for k, r in node.items() if k[0] != _RRSIG or do]
            elif qtype == _RRSIG:
                rrsets = [r for k, r in node.items() if k[0] == _RRSIG]
            else:
                found = node.get((qtype, 0))
                rrsets = [found] if found is not None else []
                if do and found is not None:
                    sig = node.get((_RRSIG, qtype))
                    rrsets += [sig] if sig is not None else []
            if rrsets:
                answer.extend(rrsets)
                return dns.rcode.NOERROR
            cname = node.get((_CNAME, 0))
            if cname is None:
                self._add_soa(self._apex_of(name), do, authority)  # NODATA
                return dns.rcode.NOERROR
            answer.append(cname)
            sig = node.get((_RRSIG, _CNAME)) if do else None
            if sig is not None:
                answer.append(sig)
            target = cname[0].target
            if target in seen:
                break  # a CNAME loop: answer the chain so far
            name = target
        return dns.rcode.NOERROR  # chain longer than MAX_CNAME_CHAIN or looping: answer what we have

    def _apex_of(self, name: dns.name.Name) -> dns.name.Name | None:
        while True:
            if name in self._apexes:
                return name
            if name == dns.name.root:
                return None
            name = name.parent()

    def _add_soa(self, apex: dns.name.Name | None, do: bool, authority: list[dns.rrset.RRset]) -> None:
        """Negative answers carry the zone's SOA in the authority section (RFC 2308) for negative caching."""
        if apex is None:
            return
        node = self._data[apex]
        authority.append(node[(_SOA, 0)])
        sig = node.get((_RRSIG, _SOA)) if do else None
        if sig is not None:
            authority.append(sig)


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    """Read exactly `size` bytes, or None if the peer closed the connection first."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)
