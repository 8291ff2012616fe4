"""The shared helpers for untrusted text: one safe line, or the unsafe characters written out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import UNSAFE_CHARS, escape, ip_literal, one_line, port_range


@given(st.text(), st.integers(min_value=4, max_value=400))
def test_one_line_is_safe_and_never_longer_than_its_limit(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert not UNSAFE_CHARS.search(line) and len(line) <= limit
    if len(text) <= limit:
        assert line == UNSAFE_CHARS.sub(" ", text)
    else:
        assert line.endswith("...")


@given(st.text())
def test_escape_writes_every_unsafe_character_out_and_keeps_the_rest(text: str) -> None:
    shown = escape(text)
    assert not UNSAFE_CHARS.search(shown)
    unsafe = len(UNSAFE_CHARS.findall(text))
    assert len(shown) == len(text) + 3 * unsafe + 2 * sum(ord(c) >= 0x100 for c in UNSAFE_CHARS.findall(text))
    assert (shown == text) == (unsafe == 0)


def test_examples() -> None:
    assert one_line("a\nb\x1b[2Jc", 60) == "a b [2Jc"
    assert one_line("x" * 10, 8) == "xxxxx..."
    assert escape("ok\x1b[2J\u202edone") == "ok\\x1b[2J\\u202edone"


def test_an_ip_literal_is_written_canonically_and_a_name_is_none() -> None:
    assert ip_literal("127.0.0.1") == "127.0.0.1" and ip_literal("::0001") == "::1"
    assert ip_literal("www.alder.test") is None and ip_literal("") is None


def test_a_port_or_a_range_of_ports() -> None:
    assert port_range(443) == (443, 443) and port_range(" 8000 - 8100 ") == (8000, 8100)
    for wrong in ("http", "0", "65536", "90-80", "1-", True, ""):
        with pytest.raises(ValueError, match="is not a port or a range of ports"):
            port_range(wrong)
