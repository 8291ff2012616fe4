"""The test run's own guard: nothing but loopback, UDP included."""

import socket

import pytest

from tests.netguard import ForbiddenTraffic


def test_udp_to_the_world_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(ForbiddenTraffic):
        s.sendto(b"x", ("192.0.2.1", 53))


def test_tcp_to_the_world_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(ForbiddenTraffic):
        s.connect(("192.0.2.1", 80))


def test_any_loopback_address_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", ("127.0.0.20", 9))
