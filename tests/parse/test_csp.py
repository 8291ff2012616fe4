"""Content-Security-Policy parsing (W3C CSP Level 3) and what a policy allows for scripts."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.csp import CspParseError, CspPolicy, parse_csp, parse_csp_headers

WORDPRESS = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' https://www.google-analytics.com; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; frame-ancestors 'self'"
)
STRICT = "script-src 'nonce-r4nd0m+/=' 'strict-dynamic' 'unsafe-inline' https: http:; object-src 'none'; base-uri 'none'"
GITHUB = (
    "default-src 'none'; base-uri 'self'; connect-src 'self' api.github.com; frame-ancestors 'none'; "
    "img-src 'self' data: github.githubassets.com; script-src github.githubassets.com; upgrade-insecure-requests"
)


def test_the_csp_error_is_a_parse_error() -> None:
    assert issubclass(CspParseError, ParseError)


# --- parsing ----------------------------------------------------------------------------------------


def test_a_wordpress_policy_parses_into_directives_with_sources_as_written() -> None:
    policy = parse_csp(WORDPRESS)
    assert [name for name, _ in policy.directives] == [
        "default-src",
        "script-src",
        "style-src",
        "img-src",
        "frame-ancestors",
    ]
    assert policy.get("img-src") == ("'self'", "data:", "https:")
    assert policy.get("IMG-SRC") == policy.get("img-src")
    assert policy.get("object-src") is None


def test_a_directive_without_a_value_has_an_empty_source_list() -> None:
    policy = parse_csp(GITHUB)
    assert policy.get("upgrade-insecure-requests") == ()
    assert policy.frame_ancestors() == ("'none'",)


def test_directive_names_are_lower_cased_but_sources_keep_their_case() -> None:
    assert parse_csp("Script-SRC 'SELF' Example.COM").directives == (
        ("script-src", ("'SELF'", "Example.COM")),
    )


def test_the_first_of_two_duplicate_directives_wins() -> None:
    policy = parse_csp("script-src 'self'; SCRIPT-SRC *; img-src *")
    assert policy.get("script-src") == ("'self'",)
    assert len(policy.directives) == 2


def test_ascii_whitespace_separates_sources_and_empty_or_non_ascii_directives_are_skipped() -> None:
    policy = parse_csp(";; default-src\t'self'\n\fexample.org ;  ; img-src caf\u00e9.example ;\r\n")
    assert policy.directives == (("default-src", ("'self'", "example.org")),)


def test_only_ascii_whitespace_separates_sources() -> None:
    assert parse_csp("img-src a\x0bb c\x1cd").get("img-src") == ("a\x0bb", "c\x1cd")


@pytest.mark.parametrize("value", ["", "  ", ";", " ; ;", "caf\u00e9-src x"])
def test_a_value_without_directives_is_an_error(value: str) -> None:
    with pytest.raises(CspParseError):
        parse_csp(value)


def test_several_policies_in_one_value_are_refused_by_parse_csp() -> None:
    with pytest.raises(CspParseError, match="more than one policy"):
        parse_csp("default-src 'self', frame-ancestors 'none'")


def test_a_policy_over_64_kib_or_with_over_1000_directives_is_refused() -> None:
    with pytest.raises(CspParseError, match="64 KiB"):
        parse_csp("default-src " + "a" * 70_000)
    with pytest.raises(CspParseError, match="64 KiB"):
        parse_csp_headers(["default-src " + "a" * 70_000])
    with pytest.raises(CspParseError, match="more than 1000 directives"):
        parse_csp(";".join(f"d{i}-src x" for i in range(1001)))


# --- several policies -------------------------------------------------------------------------------


def test_each_comma_separated_policy_and_each_header_is_a_separate_policy() -> None:
    policies = parse_csp_headers(["default-src 'self', frame-ancestors 'none'", "script-src 'self'"])
    assert [policy.directives for policy in policies] == [
        (("default-src", ("'self'",)),),
        (("frame-ancestors", ("'none'",)),),
        (("script-src", ("'self'",)),),
    ]


def test_empty_policies_among_the_headers_are_skipped() -> None:
    assert parse_csp_headers(["", " , ;", "img-src *,"]) == [CspPolicy((("img-src", ("*",)),))]
    assert parse_csp_headers([]) == []


# --- scripts ----------------------------------------------------------------------------------------


def test_script_sources_fall_back_to_default_src() -> None:
    assert parse_csp("default-src 'self'; img-src *").script_sources() == ("'self'",)
    assert parse_csp("default-src 'self'; script-src cdn.example").script_sources() == ("cdn.example",)
    assert parse_csp("img-src *").script_sources() is None


def test_a_wordpress_policy_allows_inline_scripts_and_eval() -> None:
    policy = parse_csp(WORDPRESS)
    assert policy.allows_unsafe_inline_scripts()
    assert policy.allows_unsafe_eval()
    assert not policy.has_wildcard_script_source()


@pytest.mark.parametrize(
    "source",
    [
        "'nonce-abc123'",
        "'NONCE-abc123=='",
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'SHA512-a_b-c'",
        "'strict-dynamic'",
    ],
)
def test_a_nonce_a_hash_or_strict_dynamic_disables_unsafe_inline(source: str) -> None:
    assert not parse_csp(f"script-src 'self' 'unsafe-inline' {source}").allows_unsafe_inline_scripts()


@pytest.mark.parametrize("source", ["'nonce-'", "'sha1-abc'", "nonce-abc", "'nonce-a b'"])
def test_something_that_only_looks_like_a_nonce_or_hash_does_not_disable_unsafe_inline(source: str) -> None:
    assert parse_csp(f"script-src 'unsafe-inline' {source}").allows_unsafe_inline_scripts()


def test_unsafe_inline_is_matched_case_insensitively_and_only_in_the_effective_list() -> None:
    assert parse_csp("default-src 'UNSAFE-INLINE'").allows_unsafe_inline_scripts()
    assert not parse_csp("default-src 'unsafe-inline'; script-src 'self'").allows_unsafe_inline_scripts()
    assert not parse_csp("script-src 'self'; style-src 'unsafe-inline'").allows_unsafe_inline_scripts()


def test_a_policy_with_no_script_list_restricts_no_scripts() -> None:
    policy = parse_csp("frame-ancestors 'none'")
    assert policy.allows_unsafe_inline_scripts() and policy.allows_unsafe_eval()
    assert not policy.has_wildcard_script_source()


def test_eval_needs_unsafe_eval_and_is_not_disabled_by_a_nonce() -> None:
    assert parse_csp("script-src 'nonce-abc' 'Unsafe-Eval'").allows_unsafe_eval()
    assert not parse_csp("script-src 'self' 'wasm-unsafe-eval'").allows_unsafe_eval()


@pytest.mark.parametrize("source", ["*", "https:", "HTTP:", "data:", "https://*", "*:443", "http://*/js/"])
def test_a_wildcard_or_bare_scheme_is_a_wildcard_script_source(source: str) -> None:
    assert parse_csp(f"default-src 'self' {source}").has_wildcard_script_source()


@pytest.mark.parametrize("source", ["*.example.org", "https://cdn.example", "'self'", "blob:", "'none'"])
def test_a_named_host_or_subdomain_wildcard_is_not_a_wildcard_script_source(source: str) -> None:
    assert not parse_csp(f"script-src {source}").has_wildcard_script_source()


def test_a_strict_policy_with_strict_dynamic_is_safe_despite_its_fallbacks() -> None:
    policy = parse_csp(STRICT)
    assert not policy.allows_unsafe_inline_scripts()
    assert not policy.allows_unsafe_eval()
    assert not policy.has_wildcard_script_source()


def test_frame_ancestors_does_not_fall_back_to_default_src() -> None:
    assert parse_csp("default-src 'none'").frame_ancestors() is None
    assert parse_csp(WORDPRESS).frame_ancestors() == ("'self'",)


# --- properties -------------------------------------------------------------------------------------

names = st.sampled_from(
    ["default-src", "script-src", "SCRIPT-SRC", "frame-ancestors", "img-src", "x", "", "\u00e9"]
)
sources = st.sampled_from(
    [
        "'self'",
        "'unsafe-inline'",
        "'unsafe-eval'",
        "'nonce-abc'",
        "'sha256-abc='",
        "'strict-dynamic'",
        "*",
        "https:",
        "data:",
        "https://*",
        "cdn.example",
        "'none'",
        ",",
        "",
    ]
)
directive = st.one_of(
    st.tuples(names, st.lists(sources, max_size=4)).map(lambda t: " ".join([t[0], *t[1]])),
    st.text(max_size=10),
)
near_valid = st.tuples(st.lists(directive, max_size=6), st.sampled_from([";", "; ", " ;\t", ";;", ", "])).map(
    lambda t: t[1].join(t[0])
)


def _check_policy(policy: CspPolicy) -> None:
    names_seen = [name for name, _ in policy.directives]
    assert names_seen and len(names_seen) == len(set(names_seen))
    assert all(name == name.lower() and name.isascii() and name for name in names_seen)
    assert all(
        source and " " not in source and ";" not in source for _, s in policy.directives for source in s
    )
    script = policy.script_sources()
    assert script == (
        policy.get("script-src") if policy.get("script-src") is not None else policy.get("default-src")
    )
    assert isinstance(policy.allows_unsafe_inline_scripts(), bool)
    assert isinstance(policy.allows_unsafe_eval(), bool)
    assert isinstance(policy.has_wildcard_script_source(), bool)
    assert policy.frame_ancestors() == policy.get("frame-ancestors")


def _check(value: str) -> None:
    try:
        policy = parse_csp(value)
    except CspParseError as error:
        assert str(error)
    else:
        assert "," not in value
        _check_policy(policy)
    policies = parse_csp_headers([value])
    for each in policies:
        _check_policy(each)
    if "," not in value:
        assert len(policies) <= 1


@given(st.text())
def test_any_text_gives_a_policy_or_a_csp_parse_error(value: str) -> None:
    _check(value)


@given(near_valid)
def test_near_valid_policies_give_a_policy_or_a_csp_parse_error(value: str) -> None:
    _check(value)


@given(
    st.lists(
        st.tuples(names.filter(bool), st.lists(sources.filter(lambda s: s not in ("", ",")), max_size=4)),
        max_size=6,
    )
)
def test_written_out_directives_read_back_with_the_first_occurrence_kept(
    directives: list[tuple[str, list[str]]],
) -> None:
    value = "; ".join(" ".join([name, *srcs]) for name, srcs in directives)
    expected: dict[str, tuple[str, ...]] = {}
    for name, srcs in directives:
        if name and name.isascii():
            expected.setdefault(name.lower(), tuple(srcs))
    try:
        policy = parse_csp(value)
    except CspParseError:
        assert not expected
        return
    assert dict(policy.directives) == expected
