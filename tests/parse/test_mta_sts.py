"""MTA-STS parsing (RFC 8461): the _mta-sts TXT record, the policy file, and MX pattern matching."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.mta_sts import (
    MtaStsParseError,
    MtaStsPolicy,
    MtaStsRecord,
    is_mta_sts_record,
    mx_matches,
    parse_mta_sts_policy,
    parse_mta_sts_record,
)

# RFC 8461 3.2, the example policy.
RFC_POLICY = """\
version: STSv1
mode: enforce
mx: mail.example.com
mx: *.example.net
mx: backupmx.example.com
max_age: 604800
"""


def test_the_mta_sts_error_is_a_parse_error() -> None:
    assert issubclass(MtaStsParseError, ParseError)


# --- the TXT record ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["v=STSv1; id=20160831085700Z;", "v=STSv1;id=1", "v=STSv1 ; id=abc", "v=STSv1;", "v=STSv1; x"]
)
def test_a_record_starting_with_the_version_and_a_semicolon_is_mta_sts(text: str) -> None:
    assert is_mta_sts_record(text)


@pytest.mark.parametrize(
    "text",
    ["", "v=STSv1", "v=stsv1; id=1", " v=STSv1; id=1", "id=1; v=STSv1;", "v = STSv1; id=1", "v=STSv10; id=1"],
)
def test_anything_else_is_not_mta_sts(text: str) -> None:
    assert not is_mta_sts_record(text)


def test_the_rfc_example_record_parses() -> None:
    assert parse_mta_sts_record("v=STSv1; id=20160831085700Z;") == MtaStsRecord(id="20160831085700Z")


def test_extension_tags_are_ignored_and_the_id_may_be_32_characters() -> None:
    assert parse_mta_sts_record("v=STSv1; ext.1=a:b; id=" + "A1" * 16).id == "A1" * 16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v=STSv1", 'no "; id=..." follows it'),
        ("v=stsv1; id=1", "case-sensitive"),
        ("id=1; v=STSv1", 'must start with "v=STSv1;"'),
        ("v=STSv1;", 'no "id" tag'),
        ("v=STSv1; ID=1", 'no "id" tag \\(tag names are case-sensitive\\)'),
        ("v=STSv1; id=", "is not 1 to 32 letters and digits"),
        ("v=STSv1; id=2016-08-31", "is not 1 to 32 letters and digits"),
        ("v=STSv1; id=" + "a" * 33, "is not 1 to 32 letters and digits"),
        ("v=STSv1; id=1; id=2", "more than once"),
        ("v=STSv1; id=1; x=", 'the value of tag "x"'),
        ("v=STSv1; id=1; x=a b", 'the value of tag "x"'),
        ("v=STSv1; id=1; x=a=b", 'the value of tag "x"'),
        ("v=STSv1; id=1; _x=1", "not a valid tag name"),
        ("v=STSv1; id=1; junk", "not a tag"),
    ],
)
def test_a_broken_record_is_an_error(text: str, message: str) -> None:
    with pytest.raises(MtaStsParseError, match=message):
        parse_mta_sts_record(text)


# --- the policy file --------------------------------------------------------------------------------


def test_the_rfc_example_policy_parses() -> None:
    assert parse_mta_sts_policy(RFC_POLICY) == MtaStsPolicy(
        version="STSv1",
        mode="enforce",
        max_age=604800,
        mx=("mail.example.com", "*.example.net", "backupmx.example.com"),
    )


def test_crlf_lines_blank_lines_and_extra_spaces_are_tolerated() -> None:
    policy = parse_mta_sts_policy(
        "\ufeffversion: STSv1\r\n\r\nmode:testing\r\n  mx :  mx.example.org  \r\nmax_age: 86400"
    )
    assert (policy.mode, policy.mx, policy.max_age) == ("testing", ("mx.example.org",), 86400)


def test_mode_none_needs_no_mx() -> None:
    assert parse_mta_sts_policy("version: STSv1\nmode: none\nmax_age: 0\n").mx == ()


def test_unknown_keys_are_ignored_and_a_repeated_key_keeps_its_first_value() -> None:
    policy = parse_mta_sts_policy(RFC_POLICY + "max_age: 1\nmode: none\nfoo.bar: a=b;c\n")
    assert (policy.mode, policy.max_age) == ("enforce", 604800)


def test_the_largest_max_age_is_one_year() -> None:
    assert parse_mta_sts_policy(RFC_POLICY.replace("604800", "31557600")).max_age == 31557600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (RFC_POLICY.replace("version: STSv1\n", ""), 'no "version" line'),
        (
            RFC_POLICY.replace("version", "Version"),
            'no "version" line \\(keys are case-sensitive: the file has "Version"\\)',
        ),
        (RFC_POLICY.replace("STSv1", "STSv2"), 'version "STSv2" is not "STSv1"$'),
        (RFC_POLICY.replace("STSv1", "stsv1"), "the value is case-sensitive"),
        (RFC_POLICY.replace("mode: enforce\n", ""), 'no "mode" line'),
        (RFC_POLICY.replace("enforce", "reject"), 'mode "reject" is not enforce, testing or none$'),
        (RFC_POLICY.replace("enforce", "Enforce"), "the value is case-sensitive"),
        (RFC_POLICY.replace("max_age: 604800\n", ""), 'no "max_age" line'),
        (RFC_POLICY.replace("604800", "1w"), 'max_age "1w" is not a whole number'),
        (RFC_POLICY.replace("604800", "-1"), 'max_age "-1" is not a whole number'),
        (RFC_POLICY.replace("604800", ""), 'max_age "" is not a whole number'),
        (RFC_POLICY.replace("604800", "12345678901"), "at most 10 digits"),
        (RFC_POLICY.replace("604800", "31557601"), "more than the maximum of 31557600"),
        (
            RFC_POLICY.replace("*.example.net", "mail.*.example.net"),
            'mx "mail.\\*.example.net" is not a host name',
        ),
        (RFC_POLICY.replace("*.example.net", ""), 'mx "" is not a host name'),
        (RFC_POLICY.replace("*.example.net", "mx_1.example.net"), "is not a host name"),
        ("version: STSv1\nmode: testing\nmax_age: 86400\n", 'no "mx" line, which mode testing requires'),
        (RFC_POLICY + "# a comment\n", 'line 7 "# a comment" is not a "key: value" line'),
        ('{"version": "STSv1"}', "line 1"),
        ("", 'no "version" line'),
    ],
)
def test_a_broken_policy_is_an_error_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(MtaStsParseError, match=message):
        parse_mta_sts_policy(text)


def test_a_policy_over_64_kib_or_1000_lines_is_refused() -> None:
    with pytest.raises(MtaStsParseError, match="64 KiB"):
        parse_mta_sts_policy(RFC_POLICY + " " * 70_000)
    with pytest.raises(MtaStsParseError, match="more than 1000 lines"):
        parse_mta_sts_policy(RFC_POLICY + "\n" * 1000)


# --- matching MX hosts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "host"),
    [
        ("mail.example.com", "mail.example.com"),
        ("mail.example.com", "MAIL.Example.COM."),
        ("mail.example.com.", "mail.example.com"),
        ("*.example.net", "mx1.example.net"),
        ("*.Example.NET", "MX1.example.net."),
    ],
)
def test_an_exact_or_one_label_wildcard_match_counts(pattern: str, host: str) -> None:
    assert mx_matches(pattern, host)


@pytest.mark.parametrize(
    ("pattern", "host"),
    [
        ("*.example.com", "a.b.example.com"),
        ("*.example.com", "example.com"),
        ("*.example.com", ".example.com"),
        ("*.example.com", "badexample.com"),
        ("mail.example.com", "mail2.example.com"),
        ("mail.example.com", "x.mail.example.com"),
        ("*.", "a."),
        ("", ""),
        ("*", "anything"),
    ],
)
def test_other_hosts_do_not_match(pattern: str, host: str) -> None:
    assert not mx_matches(pattern, host)


# --- properties -------------------------------------------------------------------------------------

policy_lines = st.one_of(
    st.tuples(
        st.sampled_from(["version", "mode", "max_age", "mx", "Mode", "ext", ""]),
        st.sampled_from([": ", ":", " :"]),
        st.sampled_from(
            [
                "STSv1",
                "enforce",
                "testing",
                "none",
                "86400",
                "31557601",
                "mx.example.org",
                "*.example.org",
                "",
                "a b",
            ]
        ),
    ).map("".join),
    st.sampled_from(["", "", "# comment", "\r"]),
    st.text(max_size=10),
)
near_valid_policy = st.tuples(
    st.sampled_from(["version: STSv1"] * 8 + ["version: STSv2", "Version: STSv1", ""]),
    st.sampled_from(["mode: enforce", "mode: testing", "mode: none"] * 3 + ["mode: Enforce", ""]),
    st.sampled_from(
        ["max_age: 86400", "max_age: 0", "max_age: 31557600"] * 3 + ["max_age: 31557601", "max_age: x"]
    ),
    st.lists(
        st.sampled_from(["mx: mx.example.org", "mx: *.example.org", "mx: MX.Example.org.", "mx: a b"]),
        max_size=3,
    ),
    st.lists(policy_lines, max_size=1),
    st.sampled_from(["\n", "\r\n"]),
).flatmap(lambda t: st.permutations([t[0], t[1], t[2], *t[3], *t[4]]).map(t[5].join))
record_tags = st.one_of(
    st.sampled_from(["x=y", "x.1=a:b", "e-2=z", ""]),
    st.sampled_from(["id=", "ID=1", "x=a b", "x", "_x=1"]),
    st.text(max_size=6),
)
near_valid_record = st.tuples(
    st.sampled_from(["v=STSv1"] * 8 + ["v=stsv1", " v=STSv1", ""]),
    st.lists(record_tags, max_size=2),
    st.sampled_from(["id=1", "id=20160831085700Z"] * 3 + ["id=" + "a" * 33, ""]),
    st.lists(record_tags, max_size=1),
    st.sampled_from([";", "; ", " ;"]),
).map(lambda t: t[4].join([t[0], *t[1], t[2], *t[3]]))


def _check_policy(text: str) -> None:
    try:
        policy = parse_mta_sts_policy(text)
    except MtaStsParseError as error:
        assert str(error)
        return
    assert policy.version == "STSv1" and policy.mode in ("enforce", "testing", "none")
    assert 0 <= policy.max_age <= 31557600
    assert policy.mx or policy.mode == "none"
    assert all(mx_matches(mx, mx.replace("*", "x", 1)) for mx in policy.mx)


def _check_record(text: str) -> None:
    try:
        record = parse_mta_sts_record(text)
    except MtaStsParseError as error:
        assert str(error)
        return
    assert is_mta_sts_record(text)
    assert record.id.isascii() and record.id.isalnum() and 1 <= len(record.id) <= 32


@given(st.text())
def test_any_text_gives_a_policy_or_an_mta_sts_parse_error(text: str) -> None:
    _check_policy(text)


@given(near_valid_policy)
def test_near_valid_policies_give_a_policy_or_an_mta_sts_parse_error(text: str) -> None:
    _check_policy(text)


@given(st.text())
def test_any_text_gives_a_record_or_an_mta_sts_parse_error(text: str) -> None:
    _check_record(text)


@given(near_valid_record)
def test_near_valid_records_give_a_record_or_an_mta_sts_parse_error(text: str) -> None:
    _check_record(text)


@given(st.text(), st.text())
def test_mx_matching_never_fails_and_is_symmetric_for_plain_names(pattern: str, host: str) -> None:
    result = mx_matches(pattern, host)
    if "*" not in pattern + host:
        assert result == mx_matches(host, pattern)


@given(
    st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,3}", fullmatch=True),
)
def test_a_wildcard_matches_one_label_exactly(label: str, domain: str) -> None:
    assert mx_matches(f"*.{domain}", f"{label}.{domain}")
    assert not mx_matches(f"*.{domain}", f"{label}.{label}.{domain}")
    assert not mx_matches(f"*.{domain}", domain)
