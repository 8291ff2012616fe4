"""The RFC 6376 3.2 tag-list splitter shared by the DMARC, DKIM and TLS-RPT parsers."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse._taglist import get_tag, parse_tag_list, tag_names


def test_a_simple_list_keeps_names_as_written_and_values_in_order() -> None:
    assert parse_tag_list("v=DKIM1; K=rsa; p=abc") == [("v", "DKIM1"), ("K", "rsa"), ("p", "abc")]


def test_folding_whitespace_around_names_and_values_is_stripped() -> None:
    text = "v = DMARC1 ;\r\n\tp =\treject ; rua = mailto:a@example.org "
    assert parse_tag_list(text) == [("v", "DMARC1"), ("p", "reject"), ("rua", "mailto:a@example.org")]


def test_whitespace_inside_a_value_is_kept() -> None:
    assert parse_tag_list("p=MIIB IjAN\r\n Bgkq") == [("p", "MIIB IjAN\r\n Bgkq")]


def test_a_trailing_semicolon_is_tolerated() -> None:
    assert parse_tag_list("a=1; b=2;") == [("a", "1"), ("b", "2")]


def test_empty_segments_between_semicolons_are_tolerated() -> None:
    assert parse_tag_list("a=1;; ;b=2") == [("a", "1"), ("b", "2")]


def test_an_empty_text_is_an_empty_list() -> None:
    assert parse_tag_list("") == []
    assert parse_tag_list("  ;  ") == []


def test_an_empty_value_is_allowed() -> None:
    assert parse_tag_list("v=DKIM1; p=") == [("v", "DKIM1"), ("p", "")]


def test_a_value_may_contain_an_equals_sign() -> None:
    assert parse_tag_list("p=YWJj==") == [("p", "YWJj==")]


def test_a_segment_without_an_equals_sign_is_an_error() -> None:
    with pytest.raises(ParseError, match="not a tag"):
        parse_tag_list("v=DMARC1; reject")


def test_a_segment_with_no_name_is_an_error() -> None:
    with pytest.raises(ParseError, match="no name"):
        parse_tag_list("v=DMARC1; =reject")


@pytest.mark.parametrize("name", ["1p", "p-x", "_p", "p.x", "pé"])
def test_a_name_outside_the_tag_name_grammar_is_an_error(name: str) -> None:
    with pytest.raises(ParseError, match="not a valid tag name"):
        parse_tag_list(f"{name}=1")


def test_a_duplicate_tag_name_is_an_error() -> None:
    with pytest.raises(ParseError, match='tag "p" appears more than once'):
        parse_tag_list("p=none; p=reject")


def test_names_differing_only_in_case_are_different_tags() -> None:
    assert parse_tag_list("p=1; P=2") == [("p", "1"), ("P", "2")]


def test_a_control_or_non_ascii_character_in_a_value_is_an_error() -> None:
    with pytest.raises(ParseError, match="not printable ASCII"):
        parse_tag_list("p=reject\x00")
    with pytest.raises(ParseError, match="not printable ASCII"):
        parse_tag_list("p=\u00a0reject x")


def test_a_wider_name_pattern_can_be_supplied() -> None:
    assert parse_tag_list("x-ext.1=2", name_pattern=re.compile(r"[a-z0-9][a-z0-9.\-]*")) == [("x-ext.1", "2")]


def test_lookup_helpers_find_values_by_name() -> None:
    tags = parse_tag_list("V=1; p=2")
    assert get_tag(tags, "p") == "2"
    assert get_tag(tags, "v") is None
    assert get_tag(tags, "v", ignore_case=True) == "1"
    assert tag_names(tags) == ("V", "p")


@given(st.text())
def test_any_text_gives_a_tag_list_or_a_parse_error(text: str) -> None:
    try:
        tags = parse_tag_list(text)
    except ParseError:
        return
    assert len({name for name, _ in tags}) == len(tags)


names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,5}", fullmatch=True)
values = st.from_regex(r"([\x21-\x3a\x3c-\x7e]{1,8}( [\x21-\x3a\x3c-\x7e]{1,8})?)?", fullmatch=True)


@given(
    st.dictionaries(names, values, max_size=6), st.sampled_from([";", "; ", " ;\t", ";\r\n "]), st.booleans()
)
def test_a_serialised_tag_list_reads_back_the_same(tags: dict[str, str], sep: str, trailing: bool) -> None:
    text = sep.join(f"{name}={value}" for name, value in tags.items()) + (sep if trailing else "")
    assert parse_tag_list(text) == list(tags.items())
