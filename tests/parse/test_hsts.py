"""Strict-Transport-Security header parsing (RFC 6797 section 6.1)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.hsts import HstsParseError, HstsPolicy, parse_hsts, parse_hsts_headers


def test_the_hsts_error_is_a_parse_error() -> None:
    assert issubclass(HstsParseError, ParseError)


# --- valid headers ----------------------------------------------------------------------------------


def test_googles_header_is_a_year_without_subdomains() -> None:
    assert parse_hsts("max-age=31536000") == HstsPolicy(31536000, False, False, (("max-age", "31536000"),))


def test_githubs_header_has_subdomains_and_preload_whatever_their_case() -> None:
    policy = parse_hsts("max-age=31536000; includeSubdomains; preload")
    assert (policy.max_age, policy.include_subdomains, policy.preload) == (31536000, True, True)
    assert policy.directives == (("max-age", "31536000"), ("includesubdomains", None), ("preload", None))


@pytest.mark.parametrize(
    "value",
    [
        "max-age=15768000 ; includeSubDomains",
        "includeSubDomains;max-age=15768000",
        "MAX-AGE=15768000;INCLUDESUBDOMAINS",
    ],
)
def test_the_rfc_examples_parse_in_any_order_and_case(value: str) -> None:
    policy = parse_hsts(value)
    assert (policy.max_age, policy.include_subdomains, policy.preload) == (15768000, True, False)


def test_a_quoted_max_age_is_unquoted() -> None:
    policy = parse_hsts('max-age="31536000"')
    assert policy.max_age == 31536000 and policy.directives == (("max-age", "31536000"),)


def test_max_age_zero_is_read_as_zero_which_tells_browsers_to_forget_the_host() -> None:
    assert parse_hsts("max-age=0; includeSubDomains").max_age == 0


def test_unknown_directives_are_ignored_but_kept_with_their_unquoted_values() -> None:
    policy = parse_hsts('max-age=10; report-uri="https://example.org/r?a=\\"b\\""; x')
    assert policy.max_age == 10
    assert policy.directives[1:] == (("report-uri", 'https://example.org/r?a="b"'), ("x", None))


def test_empty_directives_and_whitespace_around_them_are_allowed() -> None:
    policy = parse_hsts(" ;max-age = 300 ;; preload ; ")
    assert (policy.max_age, policy.preload) == (300, True)


def test_a_header_without_max_age_parses_with_max_age_none() -> None:
    assert parse_hsts("includeSubDomains").max_age is None


def test_leading_zeros_are_allowed_and_an_enormous_max_age_is_capped() -> None:
    assert parse_hsts("max-age=00060").max_age == 60
    assert parse_hsts("max-age=" + "9" * 5000).max_age == 999_999_999_999_999_999


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_an_empty_header_is_an_error(value: str) -> None:
    with pytest.raises(HstsParseError, match=r"^empty header$"):
        parse_hsts(value)


@pytest.mark.parametrize(
    "value",
    ["max-age=1; max-age=2", "max-age=1; MAX-AGE=1", "preload; max-age=5; Preload", "x; X=1; max-age=1"],
)
def test_a_directive_appearing_twice_is_an_error(value: str) -> None:
    with pytest.raises(HstsParseError, match="appears more than once"):
        parse_hsts(value)


@pytest.mark.parametrize("value", ["max-age=-1", "max-age=1.5", "max-age=1y", 'max-age="abc"', 'max-age=""'])
def test_a_max_age_that_is_not_digits_is_an_error(value: str) -> None:
    with pytest.raises(HstsParseError, match="not a whole number of seconds"):
        parse_hsts(value)


def test_max_age_without_a_value_is_an_error() -> None:
    with pytest.raises(HstsParseError, match="max-age has no value"):
        parse_hsts("max-age; includeSubDomains")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("max-age=31536000, includeSubDomains", 'should be ";"'),
        ("max-age=31536000 includeSubDomains", 'should be ";"'),
        ("max-age=", '"=" but no valid value'),
        ('max-age="31536000', "no closing quote"),
        ("=31536000", "where a directive name should start"),
        ("max-age=1; (preload)", "where a directive name should start"),
    ],
)
def test_a_header_that_breaks_the_grammar_is_an_error(value: str, message: str) -> None:
    with pytest.raises(HstsParseError, match=message):
        parse_hsts(value)


def test_a_header_over_64_kib_or_with_over_1000_directives_is_refused() -> None:
    with pytest.raises(HstsParseError, match="64 KiB"):
        parse_hsts("max-age=1;" + " " * 70_000)
    with pytest.raises(HstsParseError, match="more than 1000 directives"):
        parse_hsts("max-age=1;" + ";".join(f"d{i}" for i in range(1000)))


# --- several headers --------------------------------------------------------------------------------


def test_only_the_first_of_several_headers_is_processed() -> None:
    policy = parse_hsts_headers(["max-age=600", "max-age=31536000; includeSubDomains", 'garbage="'])
    assert (policy.max_age, policy.include_subdomains) == (600, False)


def test_a_broken_first_header_is_an_error_even_when_a_later_one_is_good() -> None:
    with pytest.raises(HstsParseError):
        parse_hsts_headers(["max-age=abc", "max-age=31536000"])


def test_no_headers_at_all_is_an_error() -> None:
    with pytest.raises(HstsParseError, match="no Strict-Transport-Security header"):
        parse_hsts_headers([])


# --- properties -------------------------------------------------------------------------------------

names = st.sampled_from(
    ["max-age", "MAX-AGE", "includeSubDomains", "preload", "report-uri", "x", "", "a b", "é"]
)
values = st.sampled_from(
    ["31536000", "0", '"31536000"', '"a;b"', '"', "", "-1", "1.5", '"\\"x\\""', "9" * 40, "a,b"]
)
valid_directive = st.sampled_from(["max-age=31536000", 'max-age="0"', "includeSubDomains", "preload", "x=y"])
directive = st.one_of(
    valid_directive,
    valid_directive,
    names,
    st.tuples(names, st.sampled_from(["=", " = ", "= "]), values).map("".join),
    st.text(max_size=8),
)
near_valid = st.tuples(
    st.lists(directive, max_size=6), st.sampled_from([";", "; ", " ;", ";;", ";", ","])
).map(lambda t: t[1].join(t[0]))


def _check(value: str) -> HstsPolicy | None:
    try:
        policy = parse_hsts(value)
    except HstsParseError as error:
        assert str(error)
        return None
    names_seen = [name for name, _ in policy.directives]
    assert len(names_seen) == len(set(names_seen)) and all(name == name.lower() for name in names_seen)
    assert policy.include_subdomains == ("includesubdomains" in names_seen)
    assert policy.preload == ("preload" in names_seen)
    assert (policy.max_age is None) == ("max-age" not in names_seen)
    assert policy.max_age is None or policy.max_age >= 0
    return policy


@given(st.text())
def test_any_text_gives_a_policy_or_an_hsts_parse_error(value: str) -> None:
    _check(value)


@given(near_valid)
def test_near_valid_headers_give_a_policy_or_an_hsts_parse_error(value: str) -> None:
    _check(value)


@given(st.integers(0, 10**12), st.booleans(), st.booleans(), st.booleans())
def test_valid_headers_read_back_their_values(
    max_age: int, subdomains: bool, preload: bool, quoted: bool
) -> None:
    parts = [f'max-age="{max_age}"' if quoted else f"max-age={max_age}"]
    parts += ["includeSubDomains"] * subdomains + ["preload"] * preload
    policy = parse_hsts("; ".join(parts))
    assert (policy.max_age, policy.include_subdomains, policy.preload) == (max_age, subdomains, preload)
    assert parse_hsts_headers(["; ".join(parts), "max-age=0"]) == policy
