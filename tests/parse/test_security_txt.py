"""security.txt parsing (RFC 9116): fields, the Expires date, PGP cleartext signatures, and problems."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.security_txt import SecurityTxt, SecurityTxtParseError, parse_security_txt

# The example file of RFC 9116, unsigned.
RFC_EXAMPLE = """\
# Our security address
Contact: mailto:security@example.com

# Our OpenPGP key
Encryption: https://example.com/pgp-key.txt

# Our security policy
Policy: https://example.com/security-policy.html

# Our security acknowledgments page
Acknowledgments: https://example.com/hall-of-fame.html

Expires: 2021-12-31T18:37:07.000Z
"""

SIGNED = """\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

# Canonical URI
Canonical: https://example.com/.well-known/security.txt

Contact: mailto:security@example.com
Contact: tel:+1-201-555-0123
Preferred-Languages: en, fr ,de
Hiring: https://example.com/jobs.html
- -- a dash-escaped comment line, read as "-- a dash-...", which is not a field
Expires: 2026-12-31T23:59:59+01:00
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v2.2

iQIzBAEBCAAdFiEE...
-----END PGP SIGNATURE-----
"""


def test_the_security_txt_error_is_a_parse_error() -> None:
    assert issubclass(SecurityTxtParseError, ParseError)


# --- valid files ------------------------------------------------------------------------------------


def test_the_rfc_example_file_parses_without_problems() -> None:
    assert parse_security_txt(RFC_EXAMPLE) == SecurityTxt(
        contacts=("mailto:security@example.com",),
        expires=datetime(2021, 12, 31, 18, 37, 7, tzinfo=UTC),
        expires_raw="2021-12-31T18:37:07.000Z",
        encryption=("https://example.com/pgp-key.txt",),
        acknowledgments=("https://example.com/hall-of-fame.html",),
        preferred_languages=(),
        canonical=(),
        policy=("https://example.com/security-policy.html",),
        hiring=(),
        signed=False,
        problems=(),
    )


def test_a_signed_file_is_read_from_its_signed_content() -> None:
    txt = parse_security_txt(SIGNED)
    assert txt.signed
    assert txt.canonical == ("https://example.com/.well-known/security.txt",)
    assert txt.contacts == ("mailto:security@example.com", "tel:+1-201-555-0123")
    assert txt.preferred_languages == ("en", "fr", "de")
    assert txt.hiring == ("https://example.com/jobs.html",)
    assert txt.expires == datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC)
    # The "Hash:" armor header and the signature's "Version:" line are not fields of the file.
    assert txt.problems == ('line 11 is not a "Field: value" line or a "#" comment',)


def test_field_names_are_case_insensitive_and_crlf_lines_work() -> None:
    txt = parse_security_txt("CONTACT: mailto:a@example.org\r\nexpires:2030-01-01T00:00:00Z\r\n")
    assert txt.contacts == ("mailto:a@example.org",)
    assert txt.expires == datetime(2030, 1, 1, tzinfo=UTC)
    assert txt.problems == ()


def test_unknown_fields_and_comments_are_ignored() -> None:
    txt = parse_security_txt(
        "# hi\nX-Custom: 1\nContact: https://example.org/report\nExpires: 2030-01-01T00:00:00Z"
    )
    assert txt.contacts == ("https://example.org/report",) and txt.problems == ()


def test_a_byte_order_mark_and_leading_blank_lines_are_tolerated() -> None:
    txt = parse_security_txt("\ufeff\n\nContact: mailto:a@example.org\nExpires: 2030-01-01T00:00:00Z\n")
    assert txt.contacts == ("mailto:a@example.org",) and txt.problems == ()


# --- Expires ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-31T23:59:59Z", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2026-12-31t23:59:59z", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2026-12-31T23:59:59-05:00", datetime(2027, 1, 1, 4, 59, 59, tzinfo=UTC)),
        ("2026-12-31T23:59:59+0530", datetime(2026, 12, 31, 18, 29, 59, tzinfo=UTC)),
        ("2026-12-31 23:59:59.123456789+00:00", datetime(2026, 12, 31, 23, 59, 59, 123456, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_expires_is_read_as_a_timezone_aware_utc_time(raw: str, expected: datetime) -> None:
    txt = parse_security_txt(f"Contact: mailto:a@example.org\nExpires: {raw}\n")
    assert txt.expires == expected and txt.expires_raw == raw
    assert txt.expires.tzinfo is UTC
    assert txt.problems == ()


def test_expires_without_a_time_zone_is_read_as_utc_with_a_problem() -> None:
    txt = parse_security_txt("Contact: mailto:a@example.org\nExpires: 2026-12-31T23:59:59\n")
    assert txt.expires == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert txt.problems == (
        'Expires "2026-12-31T23:59:59" has no time zone, so it was read as UTC (add "Z" for UTC)',
    )


@pytest.mark.parametrize(
    "raw",
    [
        "2026-12-31",
        "31/12/2026",
        "Thu, 31 Dec 2026 23:59:59 GMT",
        "2026-02-30T00:00:00Z",
        "2026-12-31T24:00:00Z",
        "2026-12-31T23:59:59+24:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "never",
    ],
)
def test_an_unreadable_expires_is_a_problem_not_an_error(raw: str) -> None:
    txt = parse_security_txt(f"Contact: mailto:a@example.org\nExpires: {raw}\n")
    assert txt.expires is None and txt.expires_raw == raw
    assert txt.problems == (f'Expires "{raw}" is not a date and time like 2026-12-31T23:59:59Z',)


def test_an_expires_in_the_past_is_not_judged_by_the_parser() -> None:
    txt = parse_security_txt("Contact: mailto:a@example.org\nExpires: 1999-01-01T00:00:00Z\n")
    assert txt.problems == () and txt.expires == datetime(1999, 1, 1, tzinfo=UTC)


def test_a_second_expires_is_a_problem_and_the_first_is_used() -> None:
    txt = parse_security_txt(
        "Contact: mailto:a@example.org\nExpires: 2030-01-01T00:00:00Z\nExpires: 2031-01-01T00:00:00Z\n"
    )
    assert txt.expires == datetime(2030, 1, 1, tzinfo=UTC)
    assert txt.problems == ("the Expires field appears more than once; only the first is read",)


# --- problems ---------------------------------------------------------------------------------------


def test_missing_contact_and_expires_are_problems() -> None:
    txt = parse_security_txt("Policy: https://example.org/policy\n")
    assert txt.problems == (
        "the file has no Contact field, which RFC 9116 requires",
        "the file has no Expires field, which RFC 9116 requires",
    )
    assert txt.expires is None and txt.expires_raw is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Contact: security@example.org", 'an email address needs "mailto:" in front'),
        ("Contact: call us", "is not a URI"),
        ("Contact: http://example.org/security", "requires https://"),
        ("Encryption: HTTP://example.org/key.asc", "requires https://"),
        ("Policy: /security-policy", "is not a URI"),
        ("Contact:", "the Contact field on line 1 is empty"),
        (
            "Preferred-Languages: en\nPreferred-Languages: fr",
            "Preferred-Languages field appears more than once",
        ),
        ("just some words", 'line 1 is not a "Field: value" line'),
    ],
)
def test_fields_that_break_the_rfc_are_problems(line: str, problem: str) -> None:
    txt = parse_security_txt(f"{line}\nContact: mailto:a@example.org\nExpires: 2030-01-01T00:00:00Z\n")
    assert len(txt.problems) == 1 and problem in txt.problems[0]


def test_many_bad_lines_are_listed_up_to_five_then_counted() -> None:
    txt = parse_security_txt("Contact: mailto:a@example.org\nExpires: 2030-01-01T00:00:00Z\n" + "junk\n" * 8)
    assert len(txt.problems) == 6 and txt.problems[-1] == "3 more lines are not fields or comments"


def test_a_broken_signature_frame_is_a_problem() -> None:
    body = "Contact: mailto:a@example.org\nExpires: 2030-01-01T00:00:00Z\n"
    unclosed = parse_security_txt("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + body)
    assert unclosed.signed and unclosed.contacts == ("mailto:a@example.org",)
    assert unclosed.problems == ("the PGP signed message has no signature block after it",)
    outside = parse_security_txt(
        "Contact: mailto:evil@example.net\n-----BEGIN PGP SIGNED MESSAGE-----\n\n"
        + body
        + "-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\nHiring: https://x.example\n"
    )
    assert outside.contacts == ("mailto:a@example.org",) and outside.hiring == ()
    assert outside.problems == (
        "the text before the PGP signed message is not signed and was ignored",
        "the text after the PGP signature is not signed and was ignored",
    )


def test_a_huge_file_is_read_up_to_its_limits_with_a_problem() -> None:
    head = "Contact: mailto:a@example.org\nExpires: 2030-01-01T00:00:00Z\n"
    long_lines = parse_security_txt(head + "# comment\n" * 2000)
    assert long_lines.contacts == ("mailto:a@example.org",)
    assert long_lines.problems == ("the file is longer than 1000 lines; only the first 1000 were read",)
    big = parse_security_txt(head + "#" + "x" * 70_000 + "\nHiring: https://x.example\n")
    assert big.hiring == () and big.problems == (
        "the file is longer than 64 KiB; only the first 64 KiB were read",
    )


# --- not a security.txt -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (" \n\t\r\n", "empty"),
        ("<!DOCTYPE html><html><body>Contact: x</body></html>", "web page"),
        ("\n  <html>\nContact: mailto:a@example.org\n", "web page"),
        ("404 page not found", 'no "Field: value" lines'),
        ('{"error": "not found"}', 'no "Field: value" lines'),
        ("# only a comment\n", 'no "Field: value" lines'),
        ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n-----BEGIN PGP SIGNATURE-----\n", "no"),
    ],
)
def test_text_that_is_clearly_not_a_security_txt_is_an_error(text: str, message: str) -> None:
    with pytest.raises(SecurityTxtParseError, match=message):
        parse_security_txt(text)


# --- properties -------------------------------------------------------------------------------------

lines = st.one_of(
    st.tuples(
        st.sampled_from(
            ["Contact", "contact", "Expires", "Encryption", "Preferred-Languages", "Policy", "X", ""]
        ),
        st.sampled_from([": ", ":", " : "]),
        st.sampled_from(
            [
                "mailto:a@example.org",
                "a@example.org",
                "http://x.example",
                "2030-01-01T00:00:00Z",
                "2030-02-30T00:00:00Z",
                "0001-01-01T00:00:00+23:59",
                "2030-01-01T00:00:00",
                "en, fr",
                "",
            ]
        ),
    ).map("".join),
    st.sampled_from(
        [
            "# comment",
            "",
            "-----BEGIN PGP SIGNED MESSAGE-----",
            "Hash: SHA256",
            "-----BEGIN PGP SIGNATURE-----",
            "-----END PGP SIGNATURE-----",
            "- Contact: mailto:b@example.org",
            "<html>",
        ]
    ),
    st.text(max_size=10),
)
near_valid = st.tuples(st.lists(lines, max_size=10), st.sampled_from(["\n", "\r\n"])).map(
    lambda t: t[1].join(t[0])
)


def _check(text: str) -> None:
    try:
        txt = parse_security_txt(text)
    except SecurityTxtParseError as error:
        assert str(error)
        return
    assert txt.expires is None or txt.expires.tzinfo is UTC
    assert (txt.expires_raw is None) <= (txt.expires is None)
    assert all(problem for problem in txt.problems)
    assert bool(txt.contacts) != any("no Contact field" in problem for problem in txt.problems)
    assert (txt.expires_raw is None) == any("no Expires field" in problem for problem in txt.problems)
    assert all(value for value in txt.contacts + txt.canonical + txt.preferred_languages)


@given(st.text())
def test_any_text_gives_a_file_or_a_security_txt_parse_error(text: str) -> None:
    _check(text)


@given(near_valid)
def test_near_valid_files_give_a_file_or_a_security_txt_parse_error(text: str) -> None:
    _check(text)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)))
def test_any_written_out_utc_expires_reads_back(moment: datetime) -> None:
    raw = moment.isoformat().replace("+00:00", "Z")
    txt = parse_security_txt(f"Contact: mailto:a@example.org\nExpires: {raw}\n")
    assert txt.expires == moment and txt.problems == ()
