"""Fail any test that sends a packet outside 127.0.0.0/8 and ::1, UDP included.

pytest-socket guards only `connect` (LAB.md 10): a DNS query is a UDP `sendto` and would slip past.
This wraps connect, connect_ex, sendto and sendmsg on every socket of the test process. Child
processes (nmap, restic, the lab in a subprocess) are not covered: they are pointed at loopback only.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class ForbiddenTraffic(AssertionError):
    """A test tried to talk to the world."""


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths, socketpairs: never leave the machine
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return host in ("localhost",)


def _check(address: Any) -> None:
    if not _is_loopback(address):
        raise ForbiddenTraffic(f"a test tried to reach {address!r}: only 127.0.0.0/8 and ::1 are allowed")


@contextmanager
def socket_allow_loopback_only() -> Iterator[None]:
    """While active, any connect/sendto/sendmsg to a non-loopback address raises ForbiddenTraffic."""
    cls = socket.socket
    originals: dict[str, Callable[..., Any]] = {
        name: getattr(cls, name) for name in ("connect", "connect_ex", "sendto", "sendmsg")
    }

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address)
        return originals["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address)
        return originals["connect_ex"](self, address)

    def sendto(self: socket.socket, *args: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(args[-1])
        return originals["sendto"](self, *args)

    def sendmsg(self: socket.socket, *args: Any) -> Any:
        if len(args) >= 4 and args[3] is not None and self.family in (socket.AF_INET, socket.AF_INET6):
            _check(args[3])
        return originals["sendmsg"](self, *args)

    cls.connect = connect  # type: ignore[method-assign]
    cls.connect_ex = connect_ex  # type: ignore[method-assign]
    cls.sendto = sendto  # type: ignore[method-assign]
    cls.sendmsg = sendmsg  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(cls, name, fn)
