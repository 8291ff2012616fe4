"""resticprofile file parsing: YAML and TOML, versions 1 and 2, inheritance, retention, schedules."""

import contextlib

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from secbase.facts import BackupRetention
from secbase.parse import ParseError
from secbase.parse.resticprofile import ResticProfileParseError, parse_resticprofile

YAML_V1 = """\
version: "1"
global:
  priority: low
base:
  password-file: key
  retention:
    keep-daily: 7
    keep-within: 30d
town:
  inherit: base
  repository: "sftp:backup@nas:/town"
  backup:
    schedule: ["Mon..Fri 03:00", "Sat 05:00"]
    check-after: true
  copy:
    repository: "local:/mnt/usb/town"
"""


def test_a_version_1_yaml_file_with_inheritance() -> None:
    (town,) = parse_resticprofile(YAML_V1)
    assert town.name == "town"
    assert town.repositories == ("sftp:backup@nas:/town", "local:/mnt/usb/town")
    assert town.retention == (("keep_within", "30d"), ("keep_daily", 7))
    assert town.schedule == ("backup: Mon..Fri 03:00", "backup: Sat 05:00")
    assert town.checks == ("check-after",)
    assert town.password_set


def test_a_version_2_toml_file() -> None:
    text = (
        'version = "2"\n[profiles.default]\nrepository = "s3:s3.example/town"\n'
        "[profiles.default.env]\nRESTIC_PASSWORD = 'x'\n[profiles.default.forget]\nkeep_daily = 5\n"
        "[profiles.default.check]\nread-data-subset = '5%'\nschedule = 'weekly'\n"
    )
    (profile,) = parse_resticprofile(text, syntax="toml")
    assert profile.retention == (("keep_daily", 5),)
    assert profile.checks == ("check", "read-data") and profile.schedule == ("check: weekly",)
    assert profile.password_set


def test_a_profile_without_password_or_retention() -> None:
    (profile,) = parse_resticprofile("p:\n  repository: /srv/r\n")
    assert not profile.password_set and profile.retention == () and profile.schedule == ()


@pytest.mark.parametrize(
    ("text", "syntax"),
    [
        ("a:\n  inherit: a\n  repository: /r\n", "yaml"),
        ("a:\n  inherit: nobody\n", "yaml"),
        ("a:\n  repository: [1]\n", "yaml"),
        ("a:\n  repository: /r\n  retention: {keep-daily: many}\n", "yaml"),
        ("[a\n", "toml"),
        ("- x", "yaml"),
    ],
)
def test_a_bad_file_is_a_parse_error(text: str, syntax: str) -> None:
    with pytest.raises(ResticProfileParseError):
        parse_resticprofile(text, syntax=syntax)  # type: ignore[arg-type]


@given(st.text(max_size=300), st.sampled_from(["yaml", "toml"]))
def test_any_text_is_profiles_or_a_parse_error(text: str, syntax: str) -> None:
    try:
        profiles = parse_resticprofile(text, syntax=syntax)  # type: ignore[arg-type]
    except ParseError:
        return
    assert all(p.repositories for p in profiles)


KEYS = st.sampled_from(
    [
        "repository",
        "inherit",
        "retention",
        "forget",
        "backup",
        "check",
        "schedule",
        "keep-daily",
        "env",
        "version",
        "profiles",
        "copy",
    ]
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYS | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(KEYS | st.text(max_size=4), VALUES, max_size=5))
def test_any_shape_is_profiles_or_a_parse_error(data: dict[str, object]) -> None:
    with contextlib.suppress(ParseError):
        parse_resticprofile(yaml.safe_dump(data))


# --- keep settings ----------------------------------------------------------------------------------


def test_keep_within_periods_unlimited_and_unknown_keep_settings_are_read() -> None:
    (profile,) = parse_resticprofile(
        "p:\n  repository: /r\n  forget:\n    keep_within_daily: 7d\n    keep-within-monthly: 1y\n"
        "    keep-daily: -1\n    keep-weekly: unlimited\n    keep-tag: [important]\n    prune: true\n"
    )
    assert profile.retention == (
        ("keep_within_daily", "7d"),
        ("keep_within_monthly", "1y"),
        ("keep_daily", "unlimited"),
        ("keep_weekly", "unlimited"),
        ("keep-tag", "['important']"),
    )


RETAIN_KEYS = st.sampled_from(
    ["keep-within", "keep-within-hourly", "keep-within-daily", "keep-within-weekly", "keep-within-monthly",
     "keep-within-yearly", "keep-last", "keep-hourly", "keep_daily", "keep-weekly", "keep-monthly",
     "keep-yearly", "keep-tag", "keep-minutely", "prune"]
)  # fmt: skip
RETAIN_VALUES = (
    st.integers(-(10**6), 10**6)
    | st.integers(-(10**6), 10**6).map(str)
    | st.sampled_from(["unlimited", "30d", "1y2m3d", "2h", "-1", "", "x"])
)


@given(st.dictionaries(RETAIN_KEYS, RETAIN_VALUES, max_size=6), st.sampled_from(["retention", "forget"]))
def test_counts_are_never_negative_and_days_reached_never_negative(
    keep: dict[str, object], section: str
) -> None:
    try:
        profiles = parse_resticprofile(yaml.safe_dump({"p": {"repository": "/r", section: keep}}))
    except ParseError:
        return
    for profile in profiles:
        assert all(v >= 0 for _, v in profile.retention if isinstance(v, int))
        read = BackupRetention.from_pairs(profile.retention)
        if read is not None:
            assert read.reach_days >= 0 and read.daily_kept >= 0
            assert all(n >= 0 for _, n in read.snapshot_counts)


# --- profiles only inherited from ---------------------------------------------------------------------

TEMPLATE = """\
base:
  repository: "local:/srv/backup/town"
  password-file: key
  retention: {keep-daily: 3}
documents:
  inherit: base
  retention: {keep-daily: 14, keep-monthly: 6}
mail:
  inherit: base
  retention: {keep-daily: 30}
"""


def test_a_base_profile_only_inherited_from_is_not_a_plan_of_its_own() -> None:
    profiles = parse_resticprofile(TEMPLATE)
    assert [p.name for p in profiles] == ["documents", "mail"]


def test_a_parent_writing_to_a_repository_of_its_own_is_still_a_plan() -> None:
    text = TEMPLATE + "usb:\n  inherit: documents\n  repository: /mnt/usb/town\n"
    names = [p.name for p in parse_resticprofile(text)]
    assert names == ["documents", "mail", "usb"]  # documents writes to town, which usb does not
    chained = "root:\n  repository: /srv/r\nbase:\n  inherit: root\n  retention: {keep-daily: 1}\n"
    chained += "town:\n  inherit: base\n  retention: {keep-daily: 40}\n"
    assert [p.name for p in parse_resticprofile(chained)] == ["town"]
