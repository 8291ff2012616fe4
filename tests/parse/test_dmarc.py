"""DMARC record parsing (RFC 7489 section 6)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.dmarc import (
    DmarcParseError,
    DmarcRecord,
    DmarcUri,
    is_dmarc,
    looks_like_dmarc,
    parse_dmarc,
)

TYPICAL = "v=DMARC1; p=reject; rua=mailto:dmarc@example.org!10m; pct=100"


# --- recognising a record ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["v=DMARC1", "v=DMARC1;", "v=DMARC1; p=none", "v = DMARC1 ;p=none", "V=DMARC1;"]
)
def test_a_record_starting_with_the_version_tag_is_dmarc(text: str) -> None:
    assert is_dmarc(text)
    assert looks_like_dmarc(text)


@pytest.mark.parametrize(
    "text",
    ["v=dmarc1; p=none", "v=DMARC1p=none", "p=none; v=DMARC1", " v=DMARC1; p=none", "v=DMARC10; p=none"],
)
def test_a_broken_version_is_not_dmarc_but_still_looks_like_it(text: str) -> None:
    assert not is_dmarc(text)
    assert looks_like_dmarc(text)


@pytest.mark.parametrize("text", ["", "v=spf1 -all", "v=DKIM1; p=", "v=DMARC2; p=none"])
def test_other_records_do_not_look_like_dmarc(text: str) -> None:
    assert not is_dmarc(text)
    assert not looks_like_dmarc(text)


def test_the_dmarc_error_is_a_parse_error() -> None:
    assert issubclass(DmarcParseError, ParseError)


# --- valid records ----------------------------------------------------------------------------------


def test_a_typical_record_parses_with_its_report_address_and_size_limit() -> None:
    record = parse_dmarc(TYPICAL)
    assert record.p == "reject" and record.pct == 100 and record.sp is None
    assert record.rua == (
        DmarcUri("mailto:dmarc@example.org!10m", "mailto", "dmarc@example.org", "example.org", "!10m"),
    )
    assert record.ruf == ()
    assert record.tags == (
        ("v", "DMARC1"),
        ("p", "reject"),
        ("rua", "mailto:dmarc@example.org!10m"),
        ("pct", "100"),
    )


def test_defaults_apply_when_tags_are_absent() -> None:
    record = parse_dmarc("v=DMARC1; p=none")
    assert (record.pct, record.adkim, record.aspf, record.sp, record.rua) == (100, "r", "r", None, ())


def test_all_known_tags_are_read() -> None:
    record = parse_dmarc(
        "v=DMARC1; p=quarantine; sp=reject; pct=25; adkim=s; aspf=s; "
        "rua=mailto:a@example.org, mailto:b@Reports.Example.NET; ruf=mailto:f@example.org; "
        "fo=1; ri=86400"
    )
    assert (record.p, record.sp, record.pct, record.adkim, record.aspf) == (
        "quarantine",
        "reject",
        25,
        "s",
        "s",
    )
    assert [u.address for u in record.rua] == ["a@example.org", "b@Reports.Example.NET"]
    assert [u.domain for u in record.rua] == ["example.org", "reports.example.net"]
    assert record.ruf[0].domain == "example.org"


def test_policy_and_alignment_values_are_case_insensitive_and_lower_cased() -> None:
    record = parse_dmarc("v=DMARC1; P=Reject; SP=NONE; ADKIM=S")
    assert (record.p, record.sp, record.adkim) == ("reject", "none", "s")
    assert ("p", "Reject") in record.tags


def test_unknown_tags_are_ignored_but_kept() -> None:
    record = parse_dmarc("v=DMARC1; p=none; foo=bar; rf=afrf")
    assert ("foo", "bar") in record.tags


def test_a_trailing_semicolon_and_extra_whitespace_are_tolerated() -> None:
    assert parse_dmarc("v=DMARC1 ;  p=none ;;").p == "none"


def test_an_https_report_uri_and_size_suffixes_are_accepted() -> None:
    record = parse_dmarc(
        "v=DMARC1; p=none; rua=https://reports.example.org/dmarc!5G,mailto:x@example.org!100"
    )
    https, mailto = record.rua
    assert (https.scheme, https.address, https.domain, https.size_limit) == (
        "https",
        "https://reports.example.org/dmarc",
        None,
        "!5G",
    )
    assert mailto.size_limit == "!100"


@pytest.mark.parametrize("pct", ["0", "1", "50", "100", "007"])
def test_pct_accepts_whole_numbers_from_0_to_100(pct: str) -> None:
    assert parse_dmarc(f"v=DMARC1; p=none; pct={pct}").pct == int(pct)


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["p=none; v=DMARC1", "v=dmarc1; p=none", "", "v=DMARC1x; p=none"])
def test_the_record_must_start_with_the_version(text: str) -> None:
    with pytest.raises(DmarcParseError, match='the record must start with "v=DMARC1"'):
        parse_dmarc(text)


def test_a_lower_case_version_is_explained() -> None:
    with pytest.raises(DmarcParseError, match="case-sensitive"):
        parse_dmarc("v=dmarc1; p=none")


def test_a_missing_policy_is_an_error() -> None:
    with pytest.raises(DmarcParseError, match='no "p" tag'):
        parse_dmarc("v=DMARC1; rua=mailto:d@example.org")


@pytest.mark.parametrize("text", ["v=DMARC1; p=rejct", "v=DMARC1; p=", "v=DMARC1; p=none; sp=quarantined"])
def test_an_unknown_policy_is_an_error(text: str) -> None:
    with pytest.raises(DmarcParseError, match="is not a policy"):
        parse_dmarc(text)


@pytest.mark.parametrize("pct", ["101", "-1", "50%", "1000", "", "ten", "1.5"])
def test_pct_outside_0_to_100_is_an_error(pct: str) -> None:
    with pytest.raises(DmarcParseError, match="pct"):
        parse_dmarc(f"v=DMARC1; p=none; pct={pct}")


@pytest.mark.parametrize("tag", ["adkim", "aspf"])
@pytest.mark.parametrize("value", ["relaxed", "x", ""])
def test_alignment_other_than_r_or_s_is_an_error(tag: str, value: str) -> None:
    with pytest.raises(DmarcParseError, match=f"{tag}="):
        parse_dmarc(f"v=DMARC1; p=none; {tag}={value}")


@pytest.mark.parametrize(
    ("rua", "message"),
    [
        ("dmarc@example.org", "not a URI"),
        ("mailto:dmarc.example.org", 'no "@"'),
        ("mailto:@example.org", 'nothing before the "@"'),
        ("mailto:d@", "invalid domain"),
        ("mailto:d@exa mple.org", "character"),
        ("mailto:a@example.org mailto:b@example.org", "separate URIs with commas"),
        ("mailto:a@example.org,", "empty URI"),
        ("", "empty URI"),
        ("mailto:a@example.org!", "bad size limit"),
        ("mailto:a@example.org!10x", "bad size limit"),
        ("mailto:a@example..org", "invalid domain"),
    ],
)
def test_a_bad_report_uri_is_an_error(rua: str, message: str) -> None:
    with pytest.raises(DmarcParseError, match=message):
        parse_dmarc(f"v=DMARC1; p=none; rua={rua}")


def test_a_bad_ruf_is_an_error_too() -> None:
    with pytest.raises(DmarcParseError, match="ruf"):
        parse_dmarc("v=DMARC1; p=none; ruf=forensic@example.org")


@pytest.mark.parametrize(
    "text",
    [
        "v=DMARC1; p=none; reject",
        "v=DMARC1; p=none; p=reject",
        "v=DMARC1; p=none; P=reject",
        "v=DMARC1; p=none; 1x=2",
    ],
)
def test_a_malformed_tag_list_is_an_error(text: str) -> None:
    with pytest.raises(DmarcParseError):
        parse_dmarc(text)


# --- properties -------------------------------------------------------------------------------------

uris = st.sampled_from(
    [
        "mailto:d@example.org",
        "mailto:d@example.org!10m",
        "mailto:noat",
        "https://x.example/r",
        "mailto:a@b.com,mailto:c@d.com",
        "mailto:a@b.com mailto:c@d.com",
        "",
        "mailto:a@b.com!",
        "mailto:a@b.com!10x",
        "mailto:a@b.com ,\tmailto:c@d.com!1k",
        "x",
        "mailto:a@b!c@d.com",
    ]
)
tag_choices = st.one_of(
    st.tuples(st.just("p"), st.sampled_from(["none", "reject", "Quarantine", "rejectt", ""])),
    st.tuples(st.just("sp"), st.sampled_from(["none", "reject", "x"])),
    st.tuples(st.just("pct"), st.sampled_from(["0", "100", "50", "101", "-1", "abc", "007", "9" * 30])),
    st.tuples(st.sampled_from(["rua", "ruf", "RUA"]), uris),
    st.tuples(st.sampled_from(["adkim", "aspf"]), st.sampled_from(["r", "s", "x", "R"])),
    st.tuples(st.sampled_from(["fo", "rf", "ri", "x_y"]), st.sampled_from(["1", "afrf", "86400", ""])),
    st.tuples(st.text(max_size=4), st.text(max_size=6)),
)
near_valid = st.tuples(
    st.sampled_from(["v=DMARC1"] * 6 + ["v=dmarc1", "V = DMARC1", " v=DMARC1", ""]),
    st.lists(tag_choices, max_size=7),
    st.sampled_from(["; ", ";", " ; ", ";;", ";\r\n\t"]),
    st.booleans(),
).map(lambda t: t[2].join([t[0], *(f"{n}={v}" for n, v in t[1])]) + (t[2] if t[3] else ""))


def _check(text: str) -> DmarcRecord | None:
    try:
        record = parse_dmarc(text)
    except DmarcParseError as error:
        assert str(error)
        return None
    assert is_dmarc(text) and looks_like_dmarc(text)
    assert record.tags[0] == ("v", "DMARC1")
    assert record.p in ("none", "quarantine", "reject")
    assert record.sp in (None, "none", "quarantine", "reject")
    assert 0 <= record.pct <= 100
    assert record.adkim in ("r", "s") and record.aspf in ("r", "s")
    assert all(
        u.domain is not None and "@" in u.address for u in record.rua + record.ruf if u.scheme == "mailto"
    )
    # Round trip: the tags written back in canonical form read the same record.
    assert parse_dmarc("; ".join(f"{n}={v}" for n, v in record.tags)) == record
    return record


@given(st.text())
def test_any_text_gives_a_record_or_a_dmarc_parse_error(text: str) -> None:
    _check(text)


@given(st.text().map(lambda s: "v=DMARC1; p=none; " + s))
def test_any_text_after_a_valid_start_gives_a_record_or_a_dmarc_parse_error(text: str) -> None:
    _check(text)


@given(near_valid)
def test_near_valid_records_give_a_record_or_a_dmarc_parse_error(text: str) -> None:
    _check(text)


@given(
    st.sampled_from(["none", "quarantine", "reject"]),
    st.integers(0, 100),
    st.lists(
        st.from_regex(r"[a-z0-9.]{1,8}@[a-z0-9]{1,8}\.[a-z]{2,6}", fullmatch=True), min_size=1, max_size=3
    ),
    st.sampled_from(["", "!10m", "!1", "!20k"]),
)
def test_valid_records_read_back_their_values(p: str, pct: int, addresses: list[str], size: str) -> None:
    rua = ",".join(f"mailto:{a}{size}" for a in addresses)
    record = parse_dmarc(f"v=DMARC1; p={p}; pct={pct}; rua={rua}")
    assert (record.p, record.pct) == (p, pct)
    assert [u.address for u in record.rua] == addresses
    assert [u.size_limit for u in record.rua] == [size or None] * len(addresses)
