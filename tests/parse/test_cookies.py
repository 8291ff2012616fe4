"""Set-Cookie header parsing (the user-agent algorithm of RFC 6265 section 5.2)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.cookies import CookieParseError, SetCookie, parse_set_cookie


def test_the_cookie_error_is_a_parse_error() -> None:
    assert issubclass(CookieParseError, ParseError)


# --- valid cookies ----------------------------------------------------------------------------------


def test_a_php_session_cookie_is_http_only_but_not_secure() -> None:
    assert parse_set_cookie("PHPSESSID=abc; path=/; HttpOnly") == SetCookie(
        name="PHPSESSID",
        value="abc",
        secure=False,
        http_only=True,
        same_site=None,
        domain=None,
        path="/",
        max_age=None,
        expires=None,
    )


def test_a_hardened_cookie_reads_every_attribute() -> None:
    cookie = parse_set_cookie(
        "__Host-id=a3fWa; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Max-Age=2592000; Domain=.Example.ORG; "
        "Path=/app; Secure; HttpOnly; SameSite=Strict"
    )
    assert (cookie.name, cookie.value) == ("__Host-id", "a3fWa")
    assert (cookie.secure, cookie.http_only, cookie.same_site) == (True, True, "strict")
    assert (cookie.domain, cookie.path) == ("example.org", "/app")
    assert (cookie.max_age, cookie.expires) == (2592000, "Wed, 21 Oct 2026 07:28:00 GMT")


def test_attribute_names_are_case_insensitive() -> None:
    cookie = parse_set_cookie("a=b; SECURE; httponly; samesite=LAX; PATH=/x; max-AGE=5")
    assert (cookie.secure, cookie.http_only, cookie.same_site, cookie.path, cookie.max_age) == (
        True,
        True,
        "lax",
        "/x",
        5,
    )


@pytest.mark.parametrize(
    ("written", "read"), [("None", "none"), ("Lax", "lax"), ("Bogus", "bogus"), ("", "")]
)
def test_same_site_is_lower_cased_and_unknown_values_are_kept(written: str, read: str) -> None:
    assert parse_set_cookie(f"a=b; SameSite={written}").same_site == read


def test_a_bare_same_site_has_an_empty_value() -> None:
    assert parse_set_cookie("a=b; SameSite").same_site == ""


def test_whitespace_around_names_values_and_attributes_is_removed() -> None:
    cookie = parse_set_cookie("  sid \t=  x y  ;  Secure  ; Path = /p ")
    assert (cookie.name, cookie.value, cookie.secure, cookie.path) == ("sid", "x y", True, "/p")


def test_the_value_runs_from_the_first_equals_sign_and_may_be_empty() -> None:
    assert parse_set_cookie("token=a=b==").value == "a=b=="
    assert parse_set_cookie("empty=; Secure").value == ""


def test_a_cookie_with_an_empty_name_but_a_value_is_kept_as_browsers_do() -> None:
    cookie = parse_set_cookie("=abc; Secure")
    assert (cookie.name, cookie.value, cookie.secure) == ("", "abc", True)


def test_the_last_valid_attribute_wins() -> None:
    cookie = parse_set_cookie(
        "a=b; Max-Age=10; Max-Age=20; Domain=one.example; Domain=two.example; Path=/a; Path=/b"
    )
    assert (cookie.max_age, cookie.domain, cookie.path) == (20, "two.example", "/b")


@pytest.mark.parametrize(
    ("written", "read"), [("0", 0), ("-1", -1), ("007", 7), ("1x", 5), ("+3", 5), ("", 5), ("-", 5)]
)
def test_max_age_may_be_negative_or_zero_and_a_malformed_one_is_ignored(written: str, read: int) -> None:
    assert parse_set_cookie(f"a=b; Max-Age=5; Max-Age={written}").max_age == read


def test_an_enormous_max_age_is_capped() -> None:
    assert parse_set_cookie("a=b; Max-Age=" + "9" * 5000).max_age == 999_999_999_999_999_999
    assert parse_set_cookie("a=b; Max-Age=-" + "9" * 5000).max_age == -999_999_999_999_999_999


def test_an_empty_domain_is_ignored_and_a_path_not_starting_with_a_slash_means_the_default() -> None:
    cookie = parse_set_cookie("a=b; Domain=example.org; Domain=; Path=/x; Path=relative")
    assert (cookie.domain, cookie.path) == ("example.org", None)


def test_unknown_attributes_and_values_on_flags_are_ignored() -> None:
    cookie = parse_set_cookie("a=b; Priority=High; Partitioned; Secure=no; HttpOnly=false; ;;")
    assert (cookie.secure, cookie.http_only) == (True, True)


def test_only_the_first_1000_attributes_are_read() -> None:
    cookie = parse_set_cookie("a=b" + "; x" * 1000 + "; Secure")
    assert not cookie.secure


# --- ignored headers --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "abc", "abc; Secure", " ; a=b", "HttpOnly; sid=1"])
def test_a_header_without_an_equals_sign_in_the_name_value_pair_is_an_error(value: str) -> None:
    with pytest.raises(CookieParseError, match='no "="'):
        parse_set_cookie(value)


@pytest.mark.parametrize("value", ["=", " = ", "=; Secure", "\t=\t; Path=/"])
def test_a_header_with_neither_name_nor_value_is_an_error(value: str) -> None:
    with pytest.raises(CookieParseError, match="neither a name nor a value"):
        parse_set_cookie(value)


def test_a_header_over_64_kib_is_refused() -> None:
    with pytest.raises(CookieParseError, match="64 KiB"):
        parse_set_cookie("a=" + "b" * 70_000)


def test_comma_joined_headers_are_not_split_and_read_as_one_cookie() -> None:
    cookie = parse_set_cookie("a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT, b=2; Secure")
    assert (cookie.name, cookie.value, cookie.secure) == ("a", "1", True)


# --- properties -------------------------------------------------------------------------------------

attributes = st.one_of(
    st.sampled_from(["Secure", "HttpOnly", "SameSite", "Path", "Domain", "Max-Age", "Expires", "x", ""]),
    st.tuples(
        st.sampled_from(["SameSite", "samesite", "Path", "Domain", "Max-Age", "Expires", "Secure"]),
        st.sampled_from(["=", " = "]),
        st.sampled_from(
            ["Strict", "/", "/a", "a", ".example.org", "", "-1", "10", "1e3", "Wed, 21 Oct 2026", "="]
        ),
    ).map("".join),
    st.text(max_size=8),
)
near_valid = st.tuples(
    st.sampled_from(["sid=abc", "=abc", "sid=", "=", "sid", "", " a = b "]),
    st.lists(attributes, max_size=6),
    st.sampled_from([";", "; ", " ;\t"]),
).map(lambda t: t[2].join([t[0], *t[1]]))


def _check(value: str) -> None:
    try:
        cookie = parse_set_cookie(value)
    except CookieParseError as error:
        assert str(error)
        return
    pair = value.split(";", 1)[0]
    assert "=" in pair and (cookie.name or cookie.value)
    assert ";" not in cookie.name + cookie.value
    assert cookie.name == cookie.name.strip(" \t") and cookie.value == cookie.value.strip(" \t")
    assert cookie.same_site is None or cookie.same_site == cookie.same_site.lower()
    assert cookie.domain is None or cookie.domain == cookie.domain.lower()
    assert cookie.path is None or cookie.path.startswith("/")
    assert cookie.expires is None or cookie.expires


@given(st.text())
def test_any_text_gives_a_cookie_or_a_cookie_parse_error(value: str) -> None:
    _check(value)


@given(near_valid)
def test_near_valid_headers_give_a_cookie_or_a_cookie_parse_error(value: str) -> None:
    _check(value)


@given(
    st.from_regex(r"[A-Za-z0-9_\-]{1,12}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_\-.%]{0,20}", fullmatch=True),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, "Strict", "Lax", "None"]),
    st.one_of(st.none(), st.integers(-(10**9), 10**9)),
)
def test_written_out_cookies_read_back_their_values(
    name: str, value: str, secure: bool, http_only: bool, same_site: str | None, max_age: int | None
) -> None:
    parts = [f"{name}={value}"] + ["Secure"] * secure + ["HttpOnly"] * http_only
    parts += [f"SameSite={same_site}"] * (same_site is not None) + [f"Max-Age={max_age}"] * (
        max_age is not None
    )
    cookie = parse_set_cookie("; ".join(parts))
    assert (cookie.name, cookie.value, cookie.secure, cookie.http_only) == (name, value, secure, http_only)
    assert cookie.same_site == (same_site.lower() if same_site else None)
    assert cookie.max_age == max_age
