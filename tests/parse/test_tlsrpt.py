"""TLS-RPT record parsing (RFC 8460 section 3)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.tlsrpt import TlsRptParseError, TlsRptRecord, is_tlsrpt, parse_tlsrpt


def test_the_tlsrpt_error_is_a_parse_error() -> None:
    assert issubclass(TlsRptParseError, ParseError)


@pytest.mark.parametrize(
    "text",
    [
        "v=TLSRPTv1",
        "v=TLSRPTv1;",
        "v=TLSRPTv1; rua=mailto:r@example.org",
        "v=TLSRPTv1 ;rua=mailto:r@example.org",
    ],
)
def test_a_record_starting_with_the_version_is_tlsrpt(text: str) -> None:
    assert is_tlsrpt(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v=tlsrptv1; rua=mailto:r@example.org",
        "v=TLSRPTv10;",
        " v=TLSRPTv1;",
        "rua=mailto:r@example.org; v=TLSRPTv1",
        "v = TLSRPTv1;",
    ],
)
def test_anything_else_is_not_tlsrpt(text: str) -> None:
    assert not is_tlsrpt(text)


def test_a_mailto_record_parses() -> None:
    assert parse_tlsrpt("v=TLSRPTv1; rua=mailto:tlsrpt@example.org") == TlsRptRecord(
        ("mailto:tlsrpt@example.org",)
    )


def test_several_uris_of_both_schemes_are_kept_as_written() -> None:
    record = parse_tlsrpt(
        "v=TLSRPTv1;rua=mailto:reports@example.org , https://reporting.example.org/v1/tlsrpt;"
    )
    assert record.rua == ("mailto:reports@example.org", "https://reporting.example.org/v1/tlsrpt")


def test_extension_fields_are_ignored() -> None:
    record = parse_tlsrpt("v=TLSRPTv1; x-ext.1=yes; rua=MAILTO:r@example.org; 9lives=ok")
    assert record.rua == ("MAILTO:r@example.org",)


def test_the_version_must_come_first() -> None:
    with pytest.raises(TlsRptParseError, match='must start with "v=TLSRPTv1"'):
        parse_tlsrpt("rua=mailto:r@example.org; v=TLSRPTv1")


def test_a_record_without_rua_is_an_error() -> None:
    with pytest.raises(TlsRptParseError, match='no "rua=" tag'):
        parse_tlsrpt("v=TLSRPTv1;")


def test_rua_is_case_sensitive() -> None:
    with pytest.raises(TlsRptParseError, match='no "rua=" tag'):
        parse_tlsrpt("v=TLSRPTv1; RUA=mailto:r@example.org")


@pytest.mark.parametrize(
    ("rua", "message"),
    [
        ("http://example.org/r", "not a mailto: or https: URI"),
        ("r@example.org", "not a mailto: or https: URI"),
        ("mailto:r.example.org", "not an email address"),
        ("mailto:@example.org", "not an email address"),
        ("https:example.org", "no host"),
        ("https://", "no host"),
        ("mailto:a@example.org mailto:b@example.org", "separate URIs with commas"),
        ("mailto:a@example.org,", "empty URI"),
        ("", "empty URI"),
    ],
)
def test_a_bad_rua_uri_is_an_error(rua: str, message: str) -> None:
    with pytest.raises(TlsRptParseError, match=message):
        parse_tlsrpt(f"v=TLSRPTv1; rua={rua}")


@pytest.mark.parametrize(
    "text",
    [
        "v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org",
        "v=TLSRPTv1; rua=mailto:a@example.org; junk",
        "v=TLSRPTv1; -x=1; rua=mailto:a@b.c",
    ],
)
def test_a_malformed_field_list_is_an_error(text: str) -> None:
    with pytest.raises(TlsRptParseError):
        parse_tlsrpt(text)


uris = st.sampled_from(
    [
        "mailto:r@example.org",
        "https://r.example.org/x",
        "http://r.example.org",
        "mailto:x",
        "https:",
        "",
        "mailto:a@b.c,https://d.e",
        "mailto:a@b.c https://d.e",
        "MAILTO:a@b.c",
    ]
)
fields = st.one_of(
    st.tuples(st.sampled_from(["rua", "RUA"]), uris),
    st.tuples(st.sampled_from(["x-ext", "9a", "v", "-bad", "a" * 40]), st.sampled_from(["1", "", "a b"])),
    st.tuples(st.text(max_size=4), st.text(max_size=6)),
)
near_valid = st.tuples(
    st.sampled_from(["v=TLSRPTv1"] * 6 + ["v=tlsrptv1", " v=TLSRPTv1", ""]),
    st.lists(fields, max_size=5),
    st.sampled_from(["; ", ";", " ;\t"]),
    st.booleans(),
).map(lambda t: t[2].join([t[0], *(f"{n}={v}" for n, v in t[1])]) + (t[2] if t[3] else ""))


def _check(text: str) -> TlsRptRecord | None:
    try:
        record = parse_tlsrpt(text)
    except TlsRptParseError as error:
        assert str(error)
        return None
    assert is_tlsrpt(text)
    assert record.rua and all(uri.lower().startswith(("mailto:", "https://")) for uri in record.rua)
    assert parse_tlsrpt("v=TLSRPTv1; rua=" + ",".join(record.rua)) == record
    return record


@given(st.text())
def test_any_text_gives_a_record_or_a_tlsrpt_parse_error(text: str) -> None:
    _check(text)


@given(st.text().map(lambda s: "v=TLSRPTv1; " + s))
def test_any_text_after_the_version_gives_a_record_or_a_tlsrpt_parse_error(text: str) -> None:
    _check(text)


@given(near_valid)
def test_near_valid_records_give_a_record_or_a_tlsrpt_parse_error(text: str) -> None:
    _check(text)


@given(
    st.lists(
        st.one_of(
            st.from_regex(r"mailto:[a-z0-9.+]{1,8}@[a-z0-9]{1,8}\.[a-z]{2,5}", fullmatch=True),
            st.from_regex(r"https://[a-z0-9]{1,8}\.[a-z]{2,5}(/[a-z0-9]{0,6}){0,2}", fullmatch=True),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_valid_uri_lists_read_back_in_order(uris: list[str]) -> None:
    assert parse_tlsrpt("v=TLSRPTv1; rua=" + ", ".join(uris)).rua == tuple(uris)
