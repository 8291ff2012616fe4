"""SPF record parsing and domain-only macro expansion (RFC 7208)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.spf import SpfParseError, SpfRecord, SpfTerm, expand_domain_spec, is_spf, parse_spf

MICROSOFT = "v=spf1 include:spf.protection.outlook.com -all"
GOOGLE = "v=spf1 include:_spf.google.com ~all"


# --- recognising a record ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["v=spf1", "v=spf1 -all", "V=SPF1 ~all", "v=Spf1  a"])
def test_a_record_starting_with_the_version_and_a_space_is_spf(text: str) -> None:
    assert is_spf(text)


@pytest.mark.parametrize("text", ["", "v=spf10", "v=spf1\t-all", " v=spf1 -all", "spf1 -all", "v=spf2.0/pra"])
def test_anything_else_is_not_spf(text: str) -> None:
    assert not is_spf(text)


def test_the_spf_error_is_a_parse_error_and_a_value_error() -> None:
    assert issubclass(SpfParseError, ParseError)
    assert issubclass(SpfParseError, ValueError)


# --- real-world records -----------------------------------------------------------------------------


def test_the_microsoft_365_record_parses_into_include_and_hard_fail() -> None:
    record = parse_spf(MICROSOFT)
    include, all_ = record.terms
    assert include == SpfTerm(
        "include:spf.protection.outlook.com",
        "mechanism",
        "include",
        "+",
        "spf.protection.outlook.com",
        None,
        None,
        None,
    )
    assert all_.name == "all" and all_.qualifier == "-"
    assert record.all_qualifier == "-"
    assert record.lookup_terms == (include,)


def test_the_google_record_ends_in_soft_fail() -> None:
    record = parse_spf(GOOGLE)
    assert record.all_qualifier == "~"
    assert [t.domain_spec for t in record.lookup_terms] == ["_spf.google.com"]


def test_a_bare_version_is_a_record_with_no_terms() -> None:
    record = parse_spf("v=spf1")
    assert record.terms == ()
    assert record.all_qualifier is None and record.redirect is None


def test_several_spaces_between_terms_and_trailing_spaces_are_allowed() -> None:
    assert len(parse_spf("v=spf1   a   mx  -all  ").terms) == 3


def test_mechanism_names_and_the_version_are_case_insensitive() -> None:
    record = parse_spf("V=SPF1 INCLUDE:_spf.Example.com MX -ALL")
    assert [t.name for t in record.terms] == ["include", "mx", "all"]
    assert record.terms[0].domain_spec == "_spf.Example.com"


@pytest.mark.parametrize(
    ("text", "qualifier"), [("all", "+"), ("+all", "+"), ("-all", "-"), ("~all", "~"), ("?all", "?")]
)
def test_the_qualifier_defaults_to_pass(text: str, qualifier: str) -> None:
    assert parse_spf(f"v=spf1 {text}").all_qualifier == qualifier


def test_ip4_and_ip6_keep_the_address_and_prefix_length_apart() -> None:
    record = parse_spf("v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 ip6:2001:db8::/32 ip6:::1 -all")
    ip4, single, ip6, loopback, _ = record.terms
    assert (ip4.address, ip4.cidr4, ip4.cidr6) == ("192.0.2.0", 24, None)
    assert (single.address, single.cidr4) == ("198.51.100.7", None)
    assert (ip6.address, ip6.cidr4, ip6.cidr6) == ("2001:db8::", None, 32)
    assert loopback.address == "::1"
    assert not any(t.is_lookup for t in record.terms)


def test_a_and_mx_take_an_optional_domain_and_dual_cidr() -> None:
    a, mx, mx2, a2 = parse_spf("v=spf1 a mx:mail.example.org/24//64 mx//48 a:%{d}/32").terms
    assert (a.domain_spec, a.cidr4, a.cidr6) == (None, None, None)
    assert (mx.domain_spec, mx.cidr4, mx.cidr6) == ("mail.example.org", 24, 64)
    assert (mx2.domain_spec, mx2.cidr4, mx2.cidr6) == (None, None, 48)
    assert (a2.domain_spec, a2.cidr4) == ("%{d}", 32)


def test_ptr_takes_an_optional_domain() -> None:
    ptr, ptr2 = parse_spf("v=spf1 ptr ptr:example.org").terms
    assert ptr.domain_spec is None and ptr2.domain_spec == "example.org"
    assert ptr.is_lookup


def test_redirect_is_the_last_lookup_whatever_its_position() -> None:
    record = parse_spf("v=spf1 redirect=_spf.example.org a mx exists:%{i}.x.example.org ip4:192.0.2.1")
    assert [t.name for t in record.lookup_terms] == ["a", "mx", "exists", "redirect"]
    assert record.redirect == "_spf.example.org"
    assert all(t.is_lookup for t in record.lookup_terms)


def test_redirect_is_not_a_lookup_when_the_record_has_all() -> None:
    record = parse_spf("v=spf1 a redirect=_spf.example.org -all")
    assert record.redirect == "_spf.example.org"
    assert [t.name for t in record.lookup_terms] == ["a"]


def test_exp_is_a_modifier_but_not_a_lookup() -> None:
    record = parse_spf("v=spf1 -all exp=explain._spf.%{d}")
    exp = record.terms[1]
    assert (exp.kind, exp.name, exp.qualifier, exp.domain_spec) == (
        "modifier",
        "exp",
        "",
        "explain._spf.%{d}",
    )
    assert not exp.is_lookup
    assert record.exp == "explain._spf.%{d}"
    assert record.mechanisms == record.terms[:1]


def test_unknown_modifiers_are_allowed_and_keep_their_value() -> None:
    record = parse_spf("v=spf1 moo.cow-far_out=%{l}.example -all foo=")
    moo, _, foo = record.terms
    assert (moo.kind, moo.name, moo.domain_spec, moo.value) == (
        "modifier",
        "moo.cow-far_out",
        None,
        "%{l}.example",
    )
    assert foo.value == ""
    assert record.terms[1].value is None


def test_modifier_names_are_case_insensitive() -> None:
    assert parse_spf("v=spf1 Redirect=_spf.example.org").redirect == "_spf.example.org"


def test_a_fully_qualified_domain_with_a_trailing_dot_is_accepted() -> None:
    assert parse_spf("v=spf1 include:spf.example.org. -all").terms[0].domain_spec == "spf.example.org."


def test_a_domain_ending_in_a_macro_is_accepted() -> None:
    assert (
        parse_spf("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}").terms[0].domain_spec == "%{ir}.%{l1r+-}._spf.%{d}"
    )


# --- errors -----------------------------------------------------------------------------------------


def test_the_version_must_come_first() -> None:
    with pytest.raises(SpfParseError, match='must start with "v=spf1"'):
        parse_spf("include:_spf.google.com v=spf1 ~all")


def test_an_unknown_mechanism_is_named_in_the_error() -> None:
    with pytest.raises(SpfParseError, match=re.escape('unknown mechanism "inclde:_spf.example.org"')):
        parse_spf("v=spf1 inclde:_spf.example.org -all")


def test_split_record_joined_without_space_is_a_syntax_error() -> None:
    # "v=spf1 ip4:1.2.3.4" + "-all" from two TXT strings, joined as RFC 7208 3.3 says: no space between.
    with pytest.raises(SpfParseError, match=r'"1.2.3.4-all" is not a valid IPv4 address.*"-all" looks like'):
        parse_spf("v=spf1 ip4:1.2.3.4-all")


def test_an_include_glued_to_all_is_reported_as_a_missing_space() -> None:
    with pytest.raises(SpfParseError, match='"~all" looks like the start of another term'):
        parse_spf("v=spf1 include:_spf.google.com~all")


def test_stray_text_after_all_is_an_error() -> None:
    with pytest.raises(SpfParseError, match='unexpected text after "all" in "-all-"'):
        parse_spf("v=spf1 -all-")


@pytest.mark.parametrize(
    "term",
    [
        "~",
        "-",
        "%{d}",
        "1.2.3.4",
        ":",
        "/24",
        "ip4",
        "ip6",
        "include",
        "exists",
        "include:",
        "exists:",
        "a:",
        "mx:/24",
        "ptr:",
        "ptr/24",
        "all:foo.com",
        "include.example.com",
        "a-b",
        "redirect=",
        "exp=",
    ],
)
def test_a_malformed_term_is_an_error(term: str) -> None:
    with pytest.raises(SpfParseError):
        parse_spf(f"v=spf1 {term} -all")


@pytest.mark.parametrize(
    "term",
    [
        "ip4:1.2.3",
        "ip4:256.1.1.1",
        "ip4:01.2.3.4",
        "ip4:1.2.3.4/33",
        "ip4:1.2.3.4/",
        "ip4:1.2.3.4/024",
        "ip4:1.2.3.4/24/8",
        "ip4:1.2.3.4//64",
        "ip4:::1",
        "ip6:1.2.3.4",
        "ip6:2001:db8::/129",
        "ip6:fe80::1%eth0",
        "ip6:2001:db8:::1",
        "ip6:",
        "a/33",
        "mx//129",
        "a/-1",
        "a/2x",
    ],
)
def test_a_bad_address_or_prefix_length_is_an_error(term: str) -> None:
    with pytest.raises(SpfParseError):
        parse_spf(f"v=spf1 {term}")


@pytest.mark.parametrize(
    "spec", ["%", "%x", "%{", "%{d", "%{x}", "%{}", "%{d0}", "%{d00}", "%{d1rr}", "%{d!}", "%{dr2}", "%{ d}"]
)
def test_a_bad_macro_is_an_error(spec: str) -> None:
    with pytest.raises(SpfParseError, match="bad macro"):
        parse_spf(f"v=spf1 include:{spec}.example.org")


@pytest.mark.parametrize("letter", ["c", "r", "t", "C"])
def test_explanation_only_macros_are_not_allowed_in_a_domain(letter: str) -> None:
    with pytest.raises(SpfParseError, match="only in explanation text"):
        parse_spf(f"v=spf1 exists:%{{{letter}}}.example.org")


@pytest.mark.parametrize(
    "spec",
    [
        "example..org",
        ".example.org",
        "example.org..",
        "localhost",
        "x" * 64 + ".org",
        "example.123",
        "example.-org",
        "example.org-",
        "a." * 130 + "org",
    ],
)
def test_an_implausible_domain_is_an_error(spec: str) -> None:
    with pytest.raises(SpfParseError, match="domain"):
        parse_spf(f"v=spf1 include:{spec}")


@pytest.mark.parametrize("name", ["redirect", "exp", "REDIRECT"])
def test_redirect_or_exp_twice_is_an_error(name: str) -> None:
    with pytest.raises(SpfParseError, match="more than once"):
        parse_spf(f"v=spf1 {name}=a.example.org redirect=b.example.org exp=c.example.org")


def test_a_qualifier_on_a_modifier_is_an_error() -> None:
    with pytest.raises(SpfParseError, match="modifier cannot have a qualifier"):
        parse_spf("v=spf1 -redirect=_spf.example.org")


@pytest.mark.parametrize("text", ["v=spf1 a\t-all", "v=spf1 -all\n", "v=spf1 include:exämple.org"])
def test_a_tab_line_break_or_non_ascii_character_is_an_error(text: str) -> None:
    with pytest.raises(SpfParseError, match="character"):
        parse_spf(text)


# --- macro expansion --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("%{d}", "mail.example.org"),
        ("%{o}", "mail.example.org"),
        ("%{h}", "mail.example.org"),
        ("_spf.%{d2}", "_spf.example.org"),
        ("%{dr}", "org.example.mail"),
        ("%{d1r}", "mail"),
        ("%{d9}", "mail.example.org"),
        ("%{d0002}", "example.org"),
        ("%{d" + "9" * 5000 + "}", "mail.example.org"),
        ("%{d-}", "mail.example.org"),
        ("plain.example.org", "plain.example.org"),
        ("%%%_%-", "% %20"),
    ],
)
def test_domain_only_macros_expand(spec: str, expected: str) -> None:
    assert expand_domain_spec(spec, "mail.example.org") == expected


def test_delimiters_split_the_value_and_the_parts_join_with_dots() -> None:
    assert expand_domain_spec("%{d-}", "a-b.c") == "a.b.c"
    assert expand_domain_spec("%{d1-}", "a-b.c") == "b.c"
    assert expand_domain_spec("%{d2.-}", "a-b.c") == "b.c"


def test_an_upper_case_macro_letter_url_escapes_the_value() -> None:
    assert expand_domain_spec("%{D}", "a b.example") == "a%20b.example"


@pytest.mark.parametrize("letter", ["s", "l", "i", "p", "v", "c", "r", "t", "S", "I"])
def test_macros_that_need_sender_data_give_none(letter: str) -> None:
    assert expand_domain_spec(f"%{{{letter}}}._spf.%{{d}}", "example.org") is None


def test_a_bad_macro_in_expansion_is_an_error() -> None:
    with pytest.raises(SpfParseError, match="bad macro"):
        expand_domain_spec("%{q}.example.org", "example.org")


def test_an_over_long_expansion_loses_labels_from_the_left() -> None:
    domain = ".".join(["a" * 60] * 4) + ".org"
    result = expand_domain_spec("%{d}.%{d}", domain)
    assert result is not None and len(result) <= 253 and result.endswith(domain)


# --- properties -------------------------------------------------------------------------------------

qualifiers = st.sampled_from(["", "+", "-", "~", "?"])
domains = st.sampled_from(
    [
        "example.org",
        "_spf.google.com",
        "spf.protection.outlook.com",
        "%{d}",
        "_spf.%{d2}",
        "%{i}.%{v}._spf.%{d}",
        "%{ir}.x.example",
        "example.org.",
        "xn--p1ai",
        "a.xn--p1ai",
        "",
        "foo",
        "a..b.com",
        "x" * 64 + ".com",
        "%{z}.x.com",
        "%",
        "%{d0}.com",
        "%{c}.com",
        "%-%_%%.example.com",
        "example.com~all",
        "%{d}com",
        "ex=ample.com",
    ]
)
cidrs = st.sampled_from(["", "", "/24", "/0", "/32", "/33", "//64", "/24//128", "//129", "/024", "/"])
ip4s = st.one_of(
    st.ip_addresses(v=4).map(str), st.sampled_from(["1.2.3", "256.1.1.1", "1.2.3.4-all", "01.2.3.4"])
)
ip6s = st.one_of(
    st.ip_addresses(v=6).map(str), st.sampled_from(["1.2.3.4", "fe80::1%1", "::ffff:1.2.3.4", "g::"])
)
mechanism_names = st.sampled_from(
    ["all", "include", "a", "mx", "ptr", "exists", "ALL", "Include", "inclde", "ip5"]
)
modifier_names = st.sampled_from(["redirect", "exp", "REDIRECT", "foo", "x-y.z", "1bad", "v"])


def _with(prefix: str) -> st.SearchStrategy[str]:
    return st.tuples(qualifiers, st.just(prefix), ip4s if prefix == "ip4" else ip6s, cidrs).map(
        lambda t: f"{t[0]}{t[1]}:{t[2]}{t[3]}"
    )


terms = st.one_of(
    st.tuples(qualifiers, mechanism_names, st.sampled_from(["", ":"]), domains, cidrs).map(
        lambda t: f"{t[0]}{t[1]}{t[2] + t[3] if t[2] else ''}{t[4]}"
    ),
    _with("ip4"),
    _with("ip6"),
    st.tuples(st.sampled_from(["", "-"]), modifier_names, domains).map(lambda t: f"{t[0]}{t[1]}={t[2]}"),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=8),
)
near_valid = st.tuples(
    st.sampled_from(["v=spf1"] * 6 + ["V=SPF1", "v=spf10", " v=spf1"]),
    st.lists(st.tuples(st.sampled_from([" ", " ", "  ", ""]), terms), max_size=8),
    st.sampled_from(["", "", " ", " ", "\t"]),
).map(lambda t: t[0] + "".join(sep + term for sep, term in t[1]) + t[2])


def _check(text: str) -> SpfRecord | None:
    try:
        record = parse_spf(text)
    except SpfParseError as error:
        assert str(error)
        return None
    assert is_spf(text)
    assert all(t.is_lookup for t in record.lookup_terms)
    assert 0 <= len(record.lookup_terms) <= len(record.terms)
    assert all(t.kind == "mechanism" and t.qualifier in "+-~?" and t.qualifier for t in record.mechanisms)
    assert all(t.qualifier == "" for t in record.terms if t.kind == "modifier")
    # Round trip: writing the terms back in canonical spacing reads the same record.
    assert parse_spf(" ".join(["v=spf1", *(t.text for t in record.terms)])) == record
    return record


@given(st.text())
def test_any_text_gives_a_record_or_an_spf_parse_error(text: str) -> None:
    _check(text)


@given(st.text().map(lambda s: "v=spf1 " + s))
def test_any_text_after_the_version_gives_a_record_or_an_spf_parse_error(text: str) -> None:
    _check(text)


@given(near_valid)
def test_near_valid_records_give_a_record_or_an_spf_parse_error(text: str) -> None:
    _check(text)


valid_domains = st.sampled_from(
    [
        "example.org",
        "_spf.google.com",
        "%{d}",
        "_spf.%{d2}",
        "%{ir}.%{v}._spf.%{d}",
        "mail.example.org.",
        "a.xn--p1ai",
        "a-1.b2",
    ]
)


@st.composite
def valid_terms(draw: st.DrawFn) -> tuple[str, SpfTerm]:
    qualifier = draw(qualifiers)
    kind = draw(st.sampled_from(["all", "include", "exists", "a", "mx", "ptr", "ip4", "ip6", "exp", "other"]))
    name = draw(st.sampled_from([kind, kind.upper()]))
    if kind == "all":
        return f"{qualifier}{name}", SpfTerm(
            f"{qualifier}{name}", "mechanism", "all", qualifier or "+", None, None, None, None
        )
    if kind in ("include", "exists"):
        domain = draw(valid_domains)
        text = f"{qualifier}{name}:{domain}"
        return text, SpfTerm(text, "mechanism", kind, qualifier or "+", domain, None, None, None)
    if kind in ("a", "mx", "ptr"):
        optional = draw(st.none() | valid_domains)
        c4 = None if kind == "ptr" else draw(st.none() | st.integers(0, 32))
        c6 = None if kind == "ptr" else draw(st.none() | st.integers(0, 128))
        text = (
            f"{qualifier}{name}{'' if optional is None else ':' + optional}{'' if c4 is None else f'/{c4}'}"
            f"{'' if c6 is None else f'//{c6}'}"
        )
        return text, SpfTerm(text, "mechanism", kind, qualifier or "+", optional, None, c4, c6)
    if kind in ("ip4", "ip6"):
        address = str(draw(st.ip_addresses(v=4 if kind == "ip4" else 6)))
        cidr = draw(st.none() | st.integers(0, 32 if kind == "ip4" else 128))
        text = f"{qualifier}{name}:{address}{'' if cidr is None else f'/{cidr}'}"
        return text, SpfTerm(
            text,
            "mechanism",
            kind,
            qualifier or "+",
            None,
            address,
            cidr if kind == "ip4" else None,
            cidr if kind == "ip6" else None,
        )
    if kind == "exp":
        domain = draw(valid_domains)
        return f"{name}={domain}", SpfTerm(
            f"{name}={domain}", "modifier", "exp", "", domain, None, None, None
        )
    other = draw(
        st.from_regex(r"[A-Za-z][A-Za-z0-9\-_.]{0,6}", fullmatch=True).filter(
            lambda n: n.lower() not in ("redirect", "exp")
        )
    )
    value = draw(st.sampled_from(["", "x", "%{l}", "%%", "a=b"]))
    return f"{other}={value}", SpfTerm(
        f"{other}={value}", "modifier", other.lower(), "", None, None, None, None
    )


@given(
    st.lists(valid_terms(), max_size=8).filter(lambda ts: sum(t.name == "exp" for _, t in ts) <= 1),
    st.sampled_from([" ", "  "]),
)
def test_valid_records_parse_into_exactly_the_terms_written(
    written: list[tuple[str, SpfTerm]], sep: str
) -> None:
    record = parse_spf(sep.join(["v=spf1", *(text for text, _ in written)]))
    assert record.terms == tuple(term for _, term in written)


@given(st.text(st.characters(codec="ascii"), max_size=30), st.sampled_from(["example.org", "a.b-c.d", "x"]))
def test_expanding_any_spec_gives_text_none_or_an_spf_parse_error(spec: str, domain: str) -> None:
    try:
        result = expand_domain_spec(spec, domain)
    except SpfParseError:
        return
    assert result is None or len(result) <= 253 or "." not in result


@given(
    st.lists(
        st.sampled_from(["%{d}", "%{o2}", "%{hr}", "%{D1}", "_spf", "x", "%%", "%-"]), min_size=1, max_size=4
    ).map(".".join),
    st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,4}", fullmatch=True),
)
def test_domain_only_specs_always_expand_without_leftover_macros(spec: str, domain: str) -> None:
    result = expand_domain_spec(spec, domain)
    assert result is not None and "%{" not in result
