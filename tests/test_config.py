"""Config: the examples load; a bad file is one line naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from secbase.config import load_config
from secbase.errors import ConfigError

GOOD = """\
version: 1
scan:
  resolvers: ["127.0.53.1", "127.0.53.2:5353", "[::1]:53"]
  timeout: 3
organisations:
  - id: alder
    name: Village of Alder
    contacts: ["it@alder.on.ca"]
    domains: [Alder.ON.ca.]
    non_mail_domains: [old-alder.on.ca]
    websites: [www.alder.on.ca]
    hosts: [127.0.0.10]
    expected_ports: {"127.0.0.10": [80, 443]}
    dkim_selectors: [s1]
    backups: []
"""


def write(tmp_path: Path, text: str, name: str = "town.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message, "a config error is one line"
    return message


@pytest.mark.parametrize("name", ["town.yml", "region.yml"])
def test_shipped_examples_load(examples: Path, name: str) -> None:
    loaded = load_config(examples / name)
    assert loaded.config.organisations


def test_a_good_config_is_normalised(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD)).config
    org = cfg.organisations[0]
    assert org.domains == ["alder.on.ca"]
    assert cfg.scan.resolvers == ["127.0.53.1:53", "127.0.53.2:5353", "[::1]:53"]
    assert org.expected_ports == {"127.0.0.10": [80, 443]}


def test_a_bad_domain_names_file_key_and_fix(tmp_path: Path) -> None:
    text = GOOD.replace("domains: [Alder.ON.ca.]", 'domains: [alder.on.ca, "alder..on.ca"]')
    assert error_of(tmp_path, text) == (
        'town.yml: organisations[0].domains[1]: "alder..on.ca" is not a domain name; write it like "alder.on.ca"'
    )


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = GOOD.replace("    name: Village of Alder", "    name: [Village of Alder")
    message = error_of(tmp_path, text)
    assert message.startswith("town.yml: line ")
    assert "not valid YAML" in message


def test_an_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("    domains:", "    domians:"))
    assert message == 'town.yml: organisations[0].domians: unknown key; did you mean "domains"?'


def test_a_missing_key_says_to_add_it(tmp_path: Path) -> None:
    assert error_of(tmp_path, "version: 1\n") == "town.yml: organisations: required; add it"


def test_another_version_is_refused_with_the_fix(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("version: 1", "version: 2"))
    assert message.startswith('town.yml: version: this secbase reads version 1 configs; write "version: 1"')


def test_duplicate_organisation_ids_are_refused(tmp_path: Path) -> None:
    org = GOOD[GOOD.index("  - id: alder") :]
    message = error_of(tmp_path, GOOD + org)
    assert 'two organisations have the id "alder"' in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'resolvers: ["127.0.53.1", "127.0.53.2:5353", "[::1]:53"]',
            'resolvers: ["dns.example"]',
            "scan.resolvers[0]",
        ),
        ("timeout: 3", "timeout: -1", "scan.timeout"),
        ("hosts: [127.0.0.10]", 'hosts: ["not a host"]', "organisations[0].hosts[0]"),
        ("[80, 443]", "[80, 70000]", "organisations[0].expected_ports.127.0.0.10[1]"),
        ('contacts: ["it@alder.on.ca"]', 'contacts: ["it at alder"]', "organisations[0].contacts"),
        ("id: alder", "id: Alder Village", "organisations[0].id"),
        ("dkim_selectors: [s1]", 'dkim_selectors: ["bad selector"]', "organisations[0].dkim_selectors[0]"),
    ],
)
def test_each_bad_value_names_its_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    message = error_of(tmp_path, GOOD.replace(old, new))
    assert message.startswith(f"town.yml: {expected}: "), message


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(tmp_path / "nope.yml")


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("  timeout: 3", "  timeout: 3\n  ca_file: lab-ca.pem")
    assert "scan.ca_file:" in error_of(tmp_path, text)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    assert "at the top" in error_of(tmp_path, "- just\n- a list\n")


def test_the_digest_changes_with_the_file(tmp_path: Path) -> None:
    a = load_config(write(tmp_path, GOOD, "a.yml")).digest
    b = load_config(write(tmp_path, GOOD.replace("timeout: 3", "timeout: 4"), "b.yml")).digest
    assert a != b


def test_dkim_selectors_can_differ_per_domain(tmp_path: Path) -> None:
    text = GOOD.replace("domains: [Alder.ON.ca.]", "domains: [alder.on.ca, library.alder.on.ca]").replace(
        "dkim_selectors: [s1]", "dkim_selectors: {alder.on.ca: [selector1], library.alder.on.ca: [google]}"
    )
    org = load_config(write(tmp_path, text)).config.organisations[0]
    assert org.selectors_for("alder.on.ca") == ("selector1",)
    assert org.selectors_for("library.alder.on.ca") == ("google",)


def test_selectors_for_a_domain_the_town_does_not_declare_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("dkim_selectors: [s1]", "dkim_selectors: {other.on.ca: [s1]}")
    assert 'dkim_selectors names "other.on.ca"' in error_of(tmp_path, text)


def test_a_domain_listed_twice_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("non_mail_domains: [old-alder.on.ca]", "non_mail_domains: [alder.on.ca]")
    assert error_of(tmp_path, text) == (
        'town.yml: organisations[0]: "alder.on.ca" is listed twice; a domain goes once, under domains or '
        "under non_mail_domains"
    )


def test_a_relative_ca_file_is_found_beside_the_config_wherever_the_scan_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lab-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    config = write(tmp_path, GOOD.replace("  timeout: 3", "  timeout: 3\n  ca_file: lab-ca.pem"))
    monkeypatch.chdir("/")
    assert load_config(config).config.scan.ca_file == (tmp_path / "lab-ca.pem").resolve()


BACKUPS = GOOD.replace(
    "    backups: []\n",
    """    backups:
      - name: nas
        kind: restic
        location: /srv/restic/town
        password_file: /etc/secbase/restic.pw
      - name: cloud
        kind: borg
        location: ssh://town@backup.example/./town
        password_env: TOWN_BORG_PW
        offsite: true
        check: always
        config_file: /etc/borgmatic/config.yaml
      - name: dumps
        kind: folder
        location: /srv/dumps
        rpo_hours: 48
""",
)


def test_backup_sources_are_typed_with_defaults(tmp_path: Path) -> None:
    nas, cloud, dumps = load_config(write(tmp_path, BACKUPS)).config.organisations[0].backups
    assert (nas.kind, nas.rpo_hours, nas.retention_days, nas.check, nas.offsite) == (
        "restic",
        26,
        30,
        "auto",
        False,
    )
    assert not nas.is_remote and cloud.is_remote and cloud.offsite and cloud.check == "always"
    assert dumps.rpo_hours == 48 and dumps.password_file is None


def test_a_password_in_the_config_is_refused_with_the_fix(tmp_path: Path) -> None:
    message = error_of(tmp_path, BACKUPS.replace("password_env: TOWN_BORG_PW", "password: hunter2"))
    assert "backups[1]" in message and "password_file" in message and "password_env" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("kind: folder", "kind: tape", "backups[2].kind"),
        ("name: dumps", "name: nas", 'two backups are named "nas"'),
        ("password_file: /etc/secbase/restic.pw", "pasword_file: /x", 'did you mean "password_file"'),
        ("location: /srv/dumps", "location: sftp:nas:/dumps", "not a local folder"),
        ("check: always", "check: sometimes", "backups[1].check"),
    ],
)
def test_a_bad_backup_source_is_one_line_naming_the_key(
    tmp_path: Path, old: str, new: str, expect: str
) -> None:
    assert expect in error_of(tmp_path, BACKUPS.replace(old, new))


def test_borg_scp_style_and_restic_urls_are_remote() -> None:
    from secbase.config import is_remote_location

    assert is_remote_location("borg", "town@nas:backups/town")
    assert is_remote_location("restic", "s3:s3.amazonaws.com/bucket")
    assert is_remote_location("restic", "rest:http://127.0.0.1:8000/")
    assert not is_remote_location("restic", "local:/srv/r")
    assert not is_remote_location("borg", "/srv/a:b")


LOCAL_PATHS = GOOD.replace(
    "    backups: []\n",
    """    backups:
      - {name: a, kind: restic, location: exp/restic, password_file: secrets/restic.pw,
         config_file: profiles.yaml}
      - {name: b, kind: restic, location: ./exp/restic2, password_env: PW}
      - {name: c, kind: borg, location: ~/exp/borg, key_file: ~/keys/town.key, password_file: ../pw}
      - {name: d, kind: restic, location: "local:exp/r3", password_env: PW}
      - {name: e, kind: folder, location: dumps/../dumps}
      - {name: f, kind: borg, location: /srv/borg, config_file: /etc/borgmatic/config.yaml}
      - {name: g, kind: folder, location: ~/dumps}
""",
)


def test_local_backup_paths_are_found_beside_the_config_and_from_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    folder = tmp_path / "etc"
    folder.mkdir()
    config = write(folder, LOCAL_PATHS)
    monkeypatch.chdir("/")
    a, b, c, d, e, f, g = load_config(config).config.organisations[0].backups
    assert a.location == str(folder / "exp/restic")
    assert a.password_file == folder / "secrets/restic.pw" and a.config_file == folder / "profiles.yaml"
    assert b.location == str(folder / "exp/restic2")
    assert c.location == str(home / "exp/borg") and c.key_file == home / "keys/town.key"
    assert c.password_file == tmp_path / "pw"
    assert d.location == f"local:{folder / 'exp/r3'}"
    assert e.location == str(folder / "dumps")
    assert (f.location, f.config_file) == ("/srv/borg", Path("/etc/borgmatic/config.yaml"))
    assert g.location == str(home / "dumps")


def test_a_config_named_by_a_relative_path_still_gives_whole_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, LOCAL_PATHS)
    monkeypatch.chdir(tmp_path)
    a = load_config("town.yml").config.organisations[0].backups[0]
    assert a.location == str(tmp_path / "exp/restic") and a.password_file == tmp_path / "secrets/restic.pw"


@pytest.mark.parametrize(
    ("kind", "location"),
    [
        ("restic", "sftp:town@nas.example:/srv/restic"),
        ("restic", "rest:https://town:pw@backup.example:8000/town"),
        ("restic", "s3:s3.amazonaws.com/bucket/town"),
        ("restic", "b2:bucket:town"),
        ("borg", "ssh://town@backup.example/./town"),
        ("borg", "town@nas.example:backups/town"),
        ("borg", "nas:backups/town"),
        ("borg", "file:///srv/borg"),
    ],
)
def test_repository_urls_stay_as_written(tmp_path: Path, kind: str, location: str) -> None:
    text = GOOD.replace(
        "    backups: []\n",
        f"    backups:\n      - {{name: r, kind: {kind}, location: '{location}', password_env: PW}}\n",
    )
    (source,) = load_config(write(tmp_path, text)).config.organisations[0].backups
    assert source.location == location


def test_key_file_is_for_borg_only(tmp_path: Path) -> None:
    message = error_of(tmp_path, BACKUPS.replace("password_file: /etc/secbase/restic.pw", "key_file: /k"))
    assert "backups[0]" in message and "key_file is for borg" in message
    text = BACKUPS.replace(
        "password_env: TOWN_BORG_PW", "password_env: TOWN_BORG_PW\n        key_file: k.key"
    )
    cloud = load_config(write(tmp_path, text)).config.organisations[0].backups[1]
    assert cloud.key_file == tmp_path / "k.key"


def test_a_ca_file_that_is_not_text_is_named_at_load(tmp_path: Path) -> None:
    (tmp_path / "lab-ca.pem").write_bytes(b"\x00\xff\xfe binary, not PEM")
    text = GOOD.replace("  timeout: 3", "  timeout: 3\n  ca_file: lab-ca.pem")
    message = error_of(tmp_path, text)
    assert "scan.ca_file:" in message and "cannot be read (it is not a text (PEM) file)" in message
