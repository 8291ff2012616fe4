"""The lab's exposed services: TCP listeners on the ports a town's hosts leave open, for the port scan.

A connect scan (nmap -sT) only needs a listener that accepts: each connection is accepted and closed at
once, after the short banner a real service would send first on a few ports (SSH, FTP, SMTP), so that a
person poking with `nc` sees what the port pretends to be. Nothing is read. One selector thread serves
every listener, so a few hundred of them cost one thread.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import selectors
import socket
import threading
from collections.abc import Iterable, Mapping

from secbase.errors import LabError
from secbase.lab._running import Running

__all__ = ["BANNERS", "LabPortListeners"]

# What the service on the port says first; the rest of the lab's services say nothing before the client.
BANNERS: Mapping[int, bytes] = {
    21: b"220 (vsFTPd 3.0.5)\r\n",
    22: b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.4\r\n",
    25: b"220 lab ESMTP Postfix\r\n",
}
BACKLOG = 128  # a scan connects to every port of every host at once: the queue must hold the burst


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class LabPortListeners(Running):
    """Accept TCP connections on each (address, port) and close them at once.

    Example:
        with LabPortListeners([("127.44.50.1", 443), ("127.44.50.1", 3389)]) as ports:
            ...  # nmap -sT -Pn -n -p 443,3389,22 127.44.50.1: 443 and 3389 open, 22 closed
            ports.accepted[("127.44.50.1", 3389)]  # connections accepted there so far
    """

    def __init__(
        self, endpoints: Iterable[tuple[str, int]], *, banners: Mapping[int, bytes] = BANNERS
    ) -> None:
        self.endpoints: list[tuple[str, int]] = list(
            dict.fromkeys((str(ipaddress.ip_address(a)), int(p)) for a, p in endpoints)
        )
        for address, port in self.endpoints:
            if not 1 <= port <= 65535:
                raise LabError(f"lab listener {_endpoint(address, port)}: the port must be 1 to 65535")
        self.banners = dict(banners)
        self._accepted: collections.Counter[tuple[str, int]] = collections.Counter()
        self._lock = threading.Lock()
        self._listeners: dict[socket.socket, tuple[str, int]] = {}
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None

    @property
    def accepted(self) -> collections.Counter[tuple[str, int]]:
        """A snapshot of (address, port) -> connections accepted there since start."""
        with self._lock:
            return collections.Counter(self._accepted)

    def start(self) -> None:
        """Bind every listener and serve; raise LabError naming the address:port that cannot be bound."""
        if self._thread is not None:
            raise RuntimeError("LabPortListeners already started")
        try:
            for address, port in self.endpoints:
                self._listeners[self._bind(address, port)] = (address, port)
        except LabError:
            self._close_sockets()
            raise
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="lab-ports", daemon=True)
        self._thread.start()

    def _bind(self, address: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Lets a restarted lab bind again past the TIME_WAIT its closed connections leave behind.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            hint = (
                "; ports below 1024 need root or cap_net_bind_service"
                if isinstance(exc, PermissionError)
                else "; is another lab or service using it?"
            )
            raise LabError(
                f"lab listener cannot bind {_endpoint(address, port)}: {exc.strerror or exc}{hint}"
            ) from exc
        return sock

    def _serve(self) -> None:
        assert self._wake is not None
        with selectors.DefaultSelector() as sel:
            for sock in self._listeners:
                sel.register(sock, selectors.EVENT_READ, self._listeners[sock])
            sel.register(self._wake[0], selectors.EVENT_READ, None)
            while True:
                for key, _ in sel.select():
                    if key.data is None:
                        return
                    self._accept(key.fileobj, key.data)  # type: ignore[arg-type]

    def _accept(self, sock: socket.socket, endpoint: tuple[str, int]) -> None:
        banner = self.banners.get(endpoint[1])
        while True:  # drain the queue: a scan's burst arrives at once
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # drained (BlockingIOError), or a client that gave up before being accepted
            with self._lock:
                self._accepted[endpoint] += 1
            with conn:
                if banner:
                    # A fresh socket's send buffer holds a short banner whole; a peer already gone
                    # (nmap closes as soon as it is connected) is no error.
                    with contextlib.suppress(OSError):
                        conn.setblocking(False)
                        conn.send(banner)

    def stop(self) -> None:
        """Stop serving and close every listener; safe to call more than once."""
        thread, self._thread = self._thread, None
        if thread is not None and self._wake is not None:
            self._wake[1].send(b"x")
            thread.join(timeout=5)
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in (*self._listeners, *(self._wake or ())):
            sock.close()
        self._listeners, self._wake = {}, None
