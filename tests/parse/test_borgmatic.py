"""borgmatic configuration parsing: both layouts, retention, checks, passphrase set or not."""

import contextlib

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.borgmatic import BorgmaticParseError, parse_borgmatic


def test_the_flat_layout_parses() -> None:
    config = parse_borgmatic(
        "source_directories: [/home]\nrepositories:\n  - path: ssh://u@nas/./town\n    label: nas\n"
        "  - /srv/local.borg\nkeep_daily: 7\nkeep_weekly: 4\nkeep_within: 2w\n"
        "checks:\n  - name: repository\n    frequency: 2 weeks\n  - name: archives\n"
        "encryption_passcommand: pass show borg\n"
    )
    assert config.repositories == (("ssh://u@nas/./town", "nas"), ("/srv/local.borg", ""))
    assert config.retention == (("keep_within", "2w"), ("keep_daily", 7), ("keep_weekly", 4))
    assert config.checks == ("repository", "archives")
    assert config.password_set


def test_the_sectioned_layout_parses() -> None:
    config = parse_borgmatic(
        "location:\n  repositories: [user@host:town.borg]\nstorage:\n  encryption_passphrase: ''\n"
        "retention:\n  keep_daily: '3'\nconsistency:\n  checks: [disabled]\n"
    )
    assert config.repositories == (("user@host:town.borg", ""),)
    assert config.retention == (("keep_daily", 3),)
    assert config.checks == () and not config.password_set


def test_no_checks_named_means_borgmatics_defaults() -> None:
    assert parse_borgmatic("repositories: [/r]").checks == ("repository", "archives")


@pytest.mark.parametrize(
    "text",
    [
        "- a list",
        "repositories: /not-a-list",
        "keep_daily: seven",
        "checks: [bogus]",
        "location: [x]",
        "a: [b",
    ],
)
def test_a_bad_file_is_a_parse_error(text: str) -> None:
    with pytest.raises(BorgmaticParseError):
        parse_borgmatic(text)


@given(st.text(max_size=300))
def test_any_text_is_a_config_or_a_parse_error(text: str) -> None:
    try:
        config = parse_borgmatic(text)
    except ParseError:
        return
    assert all(path for path, _ in config.repositories)


KEYS = st.sampled_from(["repositories", "keep_daily", "keep_within", "checks", "location", "retention", "x"])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_any_shape_is_a_config_or_a_parse_error(data: dict[str, object]) -> None:
    with contextlib.suppress(ParseError):
        parse_borgmatic(yaml.safe_dump(data))
