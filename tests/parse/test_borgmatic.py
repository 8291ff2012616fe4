"""borgmatic configuration parsing: both layouts, retention, checks, passphrase set or not."""

import contextlib
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from secbase.facts import BackupRetention
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


# --- keep settings ----------------------------------------------------------------------------------


def test_every_borg_keep_rule_is_read_and_a_negative_count_keeps_all() -> None:
    config = parse_borgmatic(
        "repositories: [/r]\nkeep_exclude_tags: true\nkeep_secondly: 10\nkeep_minutely: 60\n"
        "keep_daily: -1\nkeep_13weekly: 4\nkeep_3monthly: '2'\nkeep_yearly: unlimited\n"
    )
    assert config.retention == (
        ("keep_secondly", 10),
        ("keep_minutely", 60),
        ("keep_daily", "unlimited"),
        ("keep_13weekly", 4),
        ("keep_3monthly", 2),
        ("keep_yearly", "unlimited"),
    )


def test_a_keep_setting_borg_does_not_have_is_kept_to_be_named() -> None:
    config = parse_borgmatic("repositories: [/r]\nretention:\n  keep_daily: 7\n  keep_fortnightly: 2\n")
    assert config.retention == (("keep_daily", 7), ("keep_fortnightly", "2"))
    assert parse_borgmatic("keep-daily: 7").retention == (("keep-daily", "7"),)  # borgmatic reads keep_daily


RETAIN_KEYS = st.sampled_from(
    ["keep_within", "keep_secondly", "keep_minutely", "keep_hourly", "keep_daily", "keep_weekly",
     "keep_13weekly", "keep_monthly", "keep_3monthly", "keep_yearly", "keep_tag", "keep-daily"]
)  # fmt: skip
RETAIN_VALUES = (
    st.integers(-(10**6), 10**6)
    | st.integers(-(10**6), 10**6).map(str)
    | st.sampled_from(["unlimited", "30d", "2w", "1y2m", "-1", "", "x"])
)


@given(st.dictionaries(RETAIN_KEYS, RETAIN_VALUES, max_size=6), st.booleans())
def test_counts_are_never_negative_and_days_reached_never_negative(
    keep: dict[str, object], sectioned: bool
) -> None:
    data = {"repositories": ["/r"], **({"retention": keep} if sectioned else keep)}
    try:
        config = parse_borgmatic(yaml.safe_dump(data))
    except ParseError:
        return
    assert all(v >= 0 for _, v in config.retention if isinstance(v, int))
    read = BackupRetention.from_pairs(config.retention)
    if read is not None:
        assert read.reach_days >= 0 and read.daily_kept >= 0
        assert all(n >= 0 for _, n in read.snapshot_counts)


# --- !include ---------------------------------------------------------------------------------------


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_an_included_file_is_merged_under_the_files_own_keys(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "common.yaml",
        "repositories: [ssh://u@nas/./town]\nkeep_daily: 3\nkeep_monthly: 6\n"
        "encryption_passcommand: pass show borg\n",
    )
    main = _write(
        tmp_path, "town.yaml", "<<: !include common.yaml\nrepositories: [/srv/local.borg]\nkeep_daily: 7\n"
    )
    config = parse_borgmatic(main.read_text(), path=main)
    assert config.repositories == (("ssh://u@nas/./town", ""), ("/srv/local.borg", ""))  # lists add up
    assert config.retention == (("keep_daily", 7), ("keep_monthly", 6))  # the file's own key wins
    assert config.password_set


def test_an_include_as_a_value_and_one_in_another_folder(tmp_path: Path) -> None:
    _write(tmp_path, "shared/keep.yaml", "keep_within: 2w\n")
    _write(tmp_path, "shared/checks.yaml", "<<: !include ../shared/keep.yaml\nkeep_weekly: 5\n")
    main = _write(
        tmp_path,
        "etc/town.yaml",
        f"location:\n  repositories: [/r]\nretention: !include {tmp_path}/shared/checks.yaml\n",
    )
    assert parse_borgmatic(main.read_text(), path=main).retention == (
        ("keep_within", "2w"),
        ("keep_weekly", 5),
    )


def test_retain_and_omit_are_obeyed(tmp_path: Path) -> None:
    _write(tmp_path, "common.yaml", "repositories: [/a, /b]\nretention: {keep_daily: 3, keep_weekly: 2}\n")
    main = _write(
        tmp_path,
        "town.yaml",
        "<<: !include common.yaml\nrepositories: [!omit /a, /c]\nretention: !retain {keep_daily: 9}\n",
    )
    config = parse_borgmatic(main.read_text(), path=main)
    assert config.repositories == (("/b", ""), ("/c", ""))
    assert config.retention == (("keep_daily", 9),)


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ({"town.yaml": "<<: !include nowhere.yaml\n"}, "nowhere.yaml, which does not exist"),
        ({"town.yaml": "<<: !include a.yaml\n", "a.yaml": "<<: !include town.yaml\n"}, "includes itself"),
        ({"town.yaml": "<<: !include town.yaml\n"}, "includes itself"),
        (
            {"town.yaml": "<<: !include f0.yaml\n"}
            | {f"f{i}.yaml": f"<<: !include f{i + 1}.yaml\n" for i in range(12)}
            | {"f12.yaml": "keep_daily: 1\n"},
            "more than 8 files deep",
        ),
        ({"town.yaml": "<<: !include a.yaml\n", "a.yaml": "keep_daily: [\n"}, "in the included"),
        ({"town.yaml": "<<: !include a.yaml\n", "a.yaml": "- a list\n"}, "mapping"),
    ],
)
def test_an_include_that_cannot_be_read_says_why(tmp_path: Path, files: dict[str, str], said: str) -> None:
    for name, text in files.items():
        _write(tmp_path, name, text)
    main = tmp_path / "town.yaml"
    with pytest.raises(BorgmaticParseError, match=said.replace("(", r"\(")):
        parse_borgmatic(main.read_text(), path=main)


def test_an_include_without_the_files_folder_is_a_parse_error_not_a_guess() -> None:
    with pytest.raises(BorgmaticParseError, match="folder"):
        parse_borgmatic("<<: !include common.yaml\n")
