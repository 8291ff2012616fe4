"""The command line: exit codes a cron job can use, JSON as documented, help that teaches."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from secbase.cli import _record_lab_restores, cli
from secbase.config import LoadedConfig
from secbase.lab import Lab
from secbase.model import Status
from secbase.store import Store, db_url
from tests.test_store import FP, T0, at_revision, outcome, record, res, revision_of, sharing_a_prefix


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="secbase")
    return result.exit_code, result.stdout, result.stderr


def test_a_scan_with_failures_exits_1_and_prints_each_town(lab: Lab, tmp_path: Path) -> None:
    code, out, _ = run("scan", str(lab.config_path), "--db", str(tmp_path / "s.db"))
    assert code == 1
    for town in ("Village of Alder (alder)", "Town of Birch (birch)", "Elm Falls (elm)"):
        assert town in out


def test_a_scan_where_nothing_fails_exits_0(lab: Lab, tmp_path: Path) -> None:
    code, out, _ = run("scan", str(lab.config_path), "--org", "alder", "--db", str(tmp_path / "s.db"))
    assert code == 0, out
    assert "0 fail" in out


def test_json_output_has_the_documented_shape(lab: Lab, tmp_path: Path) -> None:
    out_file = tmp_path / "r.json"
    code, _, _ = run(
        "scan",
        str(lab.config_path),
        "--org",
        "cedar",
        "--checks",
        "email.spf",
        "--no-store",
        "--json",
        str(out_file),
    )
    data = json.loads(out_file.read_text())
    assert code == 1
    assert set(data) == {"scan", "results"}
    assert data["scan"]["organisations"] == ["cedar"]
    assert {r["check"] for r in data["results"]} == {
        "email.spf.present",
        "email.spf.policy",
        "email.spf.syntax",
        "email.spf.lookups",
    }
    for r in data["results"]:
        assert set(r) >= {
            "organisation",
            "check",
            "target",
            "subject",
            "status",
            "severity",
            "summary",
            "evidence",
        }
        assert r["status"] in {"pass", "warn", "fail", "error", "not_applicable"}


def test_json_to_stdout_is_only_json(lab: Lab) -> None:
    code, out, _ = run(
        "scan", str(lab.config_path), "--org", "alder", "--checks", "dns.caa", "--no-store", "--json", "-"
    )
    assert code == 0
    assert json.loads(out)["results"][0]["status"] == "pass"


def test_a_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "town.yml"
    bad.write_text('version: 1\norganisations:\n  - id: alder\n    name: A\n    domains: ["alder..on.ca"]\n')
    code, out, err = run("scan", str(bad))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        'secbase: town.yml: organisations[0].domains[0]: "alder..on.ca" is not a domain name; '
        'write it like "alder.on.ca"'
    ]


def test_an_unknown_org_or_check_pattern_exits_2(lab_config: LoadedConfig) -> None:
    code, _, err = run("scan", str(lab_config.path), "--org", "zebra", "--no-store")
    assert code == 2 and "no organisation with the id 'zebra'" in err
    code, _, err = run("scan", str(lab_config.path), "--checks", "web.nothing", "--no-store")
    assert code == 2 and "no check matches" in err


def test_findings_show_open_ones_then_fixed_ones(lab: Lab, tmp_path: Path) -> None:
    db = str(tmp_path / "f.db")
    run("scan", str(lab.config_path), "--org", "birch", "--db", db)
    code, out, _ = run("findings", "--db", db)
    assert code == 0
    assert "Open findings" in out and "email.spf.lookups" in out and "open for" in out
    code, out, _ = run("findings", "--db", db, "--json")
    rows = json.loads(out)
    assert rows and all(r["resolved_at"] is None for r in rows)


def test_findings_on_an_empty_store_say_what_to_do(tmp_path: Path) -> None:
    code, out, _ = run("findings", "--db", str(tmp_path / "empty.db"))
    assert code == 0 and "secbase scan" in out


def test_the_catalogue_lists_every_check(registry: object) -> None:
    code, out, _ = run("checks", "--json")
    rows = json.loads(out)
    assert code == 0
    assert {"email.spf.lookups", "dns.dnssec"} <= {r["id"] for r in rows}
    assert all(r["source"] == "secbase" and r["risk"] and r["fix"] for r in rows)


@pytest.mark.parametrize(
    "command", [[], ["scan"], ["checks"], ["findings"], ["demo"], ["lab"], ["lab", "up"]]
)
def test_every_help_teaches_with_an_example(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0
    assert "Example" in out or "secbase demo" in out
    assert "secbase" in out


def test_server_text_cannot_reach_the_terminal_raw() -> None:
    from secbase.report import clean

    assert clean("v=spf1 \x1b[2J\x1b]0;pwned\x07 -all") == "v=spf1 \\x1b[2J\\x1b]0;pwned\\x07 -all"
    assert clean("abc\u202edef") == "abc\\u202edef"
    # A TXT record with a line break cannot add a forged line to the report.
    forged = clean("v=DMARC1; p=none; x=\n    PASS   email.dmarc.policy   all good")
    assert "\n" not in forged and "\\x0a" in forged
    assert clean("a\tb\u2028c\ufeff") == "a\\x09b\\u2028c\\ufeff"
    assert clean("x" * 5000).endswith("(3000 more characters)")


def _port_53_free(address: str) -> bool:

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((address, 53))
        except OSError:
            return False
    return True


def _free_lab_net() -> int:
    """A 127.N network where no lab listens now (a benchmark or a developer's lab may hold some)."""
    for net in range(60, 250):
        if _port_53_free(f"127.{net}.0.1"):
            return net
    raise AssertionError("no free 127.N.0.1:53 for a second lab")


@pytest.mark.slow
def test_the_demo_runs_and_leaves_nothing_running(tmp_path: Path) -> None:
    net = _free_lab_net()
    proc = subprocess.run(
        [sys.executable, "-m", "secbase", "demo", "--lab-net", str(net), "--db", str(tmp_path / "demo.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Village of Alder" in proc.stdout and "the lab is stopped" in proc.stderr
    # Nothing is left listening: the lab's resolver address can be bound again at once.
    assert _port_53_free(f"127.{net}.0.1")


@pytest.mark.slow
@pytest.mark.parametrize("command", [["demo"], ["lab", "up"]])
def test_ctrl_c_stops_the_lab_and_leaves_nothing_running(tmp_path: Path, command: list[str]) -> None:
    net = _free_lab_net()
    args = [sys.executable, "-m", "secbase", *command, "--lab-net", str(net)]
    if command == ["lab", "up"]:
        args += ["--dir", str(tmp_path / "lab")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while _port_53_free(f"127.{net}.0.1") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # wait until the lab listens
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    # 130 is our own "interrupted"; -SIGINT is the same ending when the signal lands in the interpreter.
    assert proc.returncode in (0, 1, 130, -signal.SIGINT), err
    assert "Traceback" not in err
    assert _port_53_free(f"127.{net}.0.1")


# Accepted risk, from the command line: a store built with test_store's helpers, no lab needed.


@pytest.fixture
def risky_db(tmp_path: Path) -> str:
    """A store with two open findings of alder: email.spf.policy (fingerprint FP) and dns.caa."""
    db = str(tmp_path / "risk.db")
    st = Store(db_url(db))
    record(st, [res(Status.FAIL), res(Status.FAIL, check="dns.caa")], T0)
    st.close()
    return db


def _in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def test_accept_leaves_a_finding_out_and_findings_accepted_lists_it(risky_db: str) -> None:
    until = _in_days(30)
    code, out, err = run(
        "accept",
        FP[:6],
        "--until",
        until,
        "--by",
        "ana",
        "--reason",
        "Replaced in February.",
        "--db",
        risky_db,
    )
    assert code == 0, err
    assert f"Accepted as a known risk by ana until {until}: Replaced in February." in out
    code, out, _ = run("findings", "--db", risky_db)
    assert code == 0 and "dns.caa" in out and FP not in out
    assert "1 finding accepted as a known risk is left out; see it with: secbase findings --accepted" in out
    code, out, _ = run("findings", "--accepted", "--db", risky_db)
    assert code == 0 and FP in out and "dns.caa" not in out
    assert f"Accepted as a known risk by ana until {until}: Replaced in February." in out
    code, out, _ = run("findings", "--accepted", "--json", "--db", risky_db)
    [row] = json.loads(out)
    assert row["fingerprint"] == FP and row["accepted"] is True and row["resolved_at"] is None
    assert (row["accepted_until"], row["accepted_by"], row["accepted_reason"]) == (
        until,
        "ana",
        "Replaced in February.",
    )
    assert row["accepted_at"]
    code, out, _ = run("findings", "--json", "--db", risky_db)
    assert [(r["check"], r["accepted"], r["accepted_until"]) for r in json.loads(out)] == [
        ("dns.caa", False, None)
    ]


def test_accept_names_the_os_user_without_by(risky_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "clerk")  # getpass.getuser reads it first
    code, out, _ = run("accept", FP, "--until", _in_days(1), "--reason", "r", "--db", risky_db)
    assert code == 0 and "by clerk until" in out


def test_revoke_lists_the_finding_again(risky_db: str) -> None:
    run("accept", FP, "--until", _in_days(10), "--reason", "r", "--by", "ana", "--db", risky_db)
    code, out, err = run("accept", FP[:10], "--revoke", "--db", risky_db)
    assert code == 0 and "acceptance revoked" in err and "Open findings" in out
    _, out, _ = run("findings", "--db", risky_db)
    assert FP in out and "left out" not in out
    _, out, _ = run("findings", "--accepted", "--db", risky_db)
    assert "No finding is accepted as a known risk today." in out
    code, _, err = run("accept", FP, "--revoke", "--db", risky_db)
    assert code == 0 and "it was not accepted; nothing changed" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["0123456789", "--until", "+30", "--reason", "r"], "no finding has the fingerprint 0123456789"),
        ([FP[:5], "--until", "+30", "--reason", "r"], "at least 6 characters"),
        ([FP, "--until", "-1", "--reason", "r"], "is in the past"),
        ([FP, "--until", "+400", "--reason", "r"], "a risk is accepted for one year at most"),
        ([FP, "--until", "2027-3-1", "--reason", "r"], "--until takes a day written YYYY-MM-DD"),
        ([FP, "--until", "2027-02-30", "--reason", "r"], "--until takes a day written YYYY-MM-DD"),
        ([FP, "--until", "+30"], 'give --reason "why" and --until'),
        ([FP, "--until", "+30", "--reason", " "], "give a reason"),
        ([FP, "--revoke", "--reason", "r"], "--revoke takes no --reason"),
    ],
)
def test_accept_refuses_with_one_line_and_exit_2(
    risky_db: str, args: list[str], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "clerk")  # --by defaults to it: a refusal must not depend on the machine
    days = [_in_days(int(a)) if a[:1] in "+-" and a[1:].isdigit() else a for a in args]  # "+30": in 30 days
    code, out, err = run("accept", *days, "--db", risky_db)
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("secbase: ") and says in line
    _, out, _ = run("findings", "--accepted", "--db", risky_db)
    assert "No finding is accepted" in out  # nothing was changed


def test_accept_refuses_an_ambiguous_prefix_naming_the_matches(tmp_path: Path) -> None:
    db = str(tmp_path / "two.db")
    st = Store(db_url(db))
    record(st, [res(Status.FAIL, check="email.dkim", subject=s) for s in sharing_a_prefix()], T0)
    prints = sorted(f.fingerprint for f in st.findings())
    st.close()
    code, out, err = run(
        "accept", prints[0][:6], "--until", _in_days(5), "--reason", "r", "--by", "a", "--db", db
    )
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert prints[0] in line and prints[1] in line and "give more characters" in line


def test_accept_refuses_a_fixed_finding(risky_db: str) -> None:
    st = Store(db_url(risky_db))
    record(st, [res(Status.PASS)], T0 + timedelta(days=1))
    st.close()
    code, out, err = run("accept", FP, "--until", _in_days(5), "--reason", "r", "--by", "a", "--db", risky_db)
    assert code == 2 and out == "" and "only an open finding is accepted" in err


def test_a_reason_cannot_reach_the_terminal_raw(risky_db: str) -> None:
    reason = "fine\x1b[2J\x1b]0;pwned\x07\nPASS everything\u202e"
    code, out, _ = run(
        "accept", FP, "--until", _in_days(5), "--reason", reason, "--by", "ana\x1b[31m", "--db", risky_db
    )
    assert code == 0
    for text in (out, run("findings", "--accepted", "--db", risky_db)[1]):
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        assert (
            "fine\\x1b[2J\\x1b]0;pwned\\x07\\x0aPASS everything\\u202e" in text and "by ana\\x1b[31m" in text
        )
        assert not any(line.startswith("PASS") for line in text.splitlines())


@pytest.mark.parametrize("command", [["accept"], ["findings"]])
def test_accept_and_findings_help_teach_accepted_risk_with_an_example(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and "Example" in out
    assert "secbase findings --accepted" in out
    if command == ["accept"]:
        assert "--revoke" in out and "secbase accept 3f9c2a71 --until" in out and "one year" in out


def test_bad_extra_ports_exit_2_with_one_line_before_any_lookup(tmp_path: Path) -> None:
    town = tmp_path / "town.yml"
    town.write_text("version: 1\norganisations:\n  - id: alder\n    name: A\n    hosts: [192.0.2.1]\n")
    code, out, err = run("scan", str(town), "--ports", "8081,http", "--no-store")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "secbase: --ports: 'http' is not a port or a range of ports; write ports and ranges like 8081,8000-8100"
    ]


def test_extra_ports_reach_the_net_checks(lab: Lab, tmp_path: Path) -> None:
    _, out, _ = run(
        "scan",
        str(lab.config_path),
        "--checks",
        "net.service.unexpected",
        "--ports",
        "9000-9001",
        "--json",
        "-",
        "--no-store",
    )
    subjects = {r["subject"] for r in json.loads(out)["results"]}
    assert {"9000/tcp", "9001/tcp"} <= subjects, subjects


# Restore tests: recorded by hand (no repository can show one), read by the next scan.


@pytest.fixture
def dumps_town(tmp_path: Path) -> Path:
    """A config whose only target is a folder of dumps: scanning it needs no network."""
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "permits-2026-11-24.sql").write_text("-- a dump\n" * 50)
    town = tmp_path / "town.yml"
    town.write_text(
        "version: 1\norganisations:\n  - id: alder\n    name: Village of Alder\n    backups:\n"
        f"      - name: dumps\n        kind: folder\n        location: {dumps}\n"
    )
    return town


def _restore_verdict(town: Path, *store: str) -> dict[str, str]:
    code, out, _ = run("scan", str(town), "--checks", "backup.restore_tested", "--json", "-", *store)
    assert code == 0, out
    [row] = json.loads(out)["results"]
    return {"status": row["status"], "summary": row["summary"], "evidence": row["evidence"]}


def test_a_recorded_restore_test_makes_the_next_scan_pass(dumps_town: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    before = _restore_verdict(dumps_town, "--db", db)
    assert before["status"] == "warn"
    assert "secbase backup restored alder dumps --date" in before["summary"]
    day = _in_days(-3)
    code, out, err = run(
        "backup", "restored", "alder", "dumps", "--date", day, "--note", "Loaded the dump on a test server.",
        "--by", "ana", "--db", db,
    )  # fmt: skip
    assert code == 0, err
    assert day in out and "worked" in out and "Loaded the dump on a test server." in out
    assert "the next scan's backup.restore_tested reads it" in err
    after = _restore_verdict(dumps_town, "--db", db)
    assert after["status"] == "pass" and "3 days ago" in after["summary"]
    assert "ana" in after["evidence"]
    code, out, _ = run("backup", "restores", "--org", "alder", "--json", "--db", db)
    [listed] = json.loads(out)
    assert listed["source"] == "dumps" and listed["tested_on"] == day and listed["worked"] is True


def test_a_failed_restore_test_warns(dumps_town: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    code, _, err = run("backup", "restored", "alder", "dumps", "--note", "Half the tables were empty.",
                       "--failed", "--config", str(dumps_town), "--db", db)  # fmt: skip
    assert code == 0, err
    _, out, _ = run("backup", "restores", "--db", db)
    assert "DID NOT WORK" in out and "Half the tables were empty." in out
    verdict = _restore_verdict(dumps_town, "--db", db)
    assert verdict["status"] == "warn" and "did not work" in verdict["summary"]


def test_a_scan_without_storing_still_reads_the_restore_tests(dumps_town: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    run(
        "backup",
        "restored",
        "alder",
        "dumps",
        "--note",
        "Loaded it.",
        "--config",
        str(dumps_town),
        "--db",
        db,
    )
    assert _restore_verdict(dumps_town, "--no-store", "--db", db)["status"] == "pass"
    st = Store(db_url(db))
    assert st.scans() == []  # nothing stored
    st.close()


def test_a_scan_without_storing_creates_no_store(dumps_town: Path, tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    assert _restore_verdict(dumps_town, "--no-store", "--db", str(db))["status"] == "warn"
    assert not db.exists()


def test_an_unreadable_store_is_could_not_check_without_storing(dumps_town: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("this is not sqlite" * 100)
    verdict = _restore_verdict(dumps_town, "--no-store", "--db", str(bad))
    assert verdict["status"] == "error"
    assert "restore tests could not be read" in verdict["summary"]


def test_an_unreadable_store_stops_a_storing_scan_before_it_starts(dumps_town: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("this is not sqlite" * 100)
    code, out, err = run("scan", str(dumps_town), "--db", str(bad))
    assert code == 2 and out == ""
    assert err.startswith("secbase: cannot open the store") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["alder", "dump"],
            "alder has no backup source named 'dump' in the stored scans; its sources there: dumps;",
        ),
        (
            ["alder", "nas", "--config", "{town}"],
            "alder has no backup source named 'nas' in {town}; its sources",
        ),
        (["birch", "dumps", "--config", "{town}"], "no organisation with the id 'birch'"),
        (["alder", "dumps", "--date", "2026-02-30"], "--date takes a day written YYYY-MM-DD"),
        (["alder", "dumps", "--date", "{future}"], "is in the future: record a restore test once it is done"),
        (["alder", "dumps", "--note", " "], 'give --note "what you restored'),
    ],
)
def test_backup_restored_refuses_with_one_line_and_exit_2(
    dumps_town: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    db = str(tmp_path / "s.db")
    _restore_verdict(dumps_town, "--db", db)  # a stored scan has looked at alder's "dumps"
    fill = {"town": str(dumps_town), "future": _in_days(2)}
    args = [a.format(**fill) for a in args]
    note = [] if "--note" in args else ["--note", "Restored it."]
    code, out, err = run("backup", "restored", *args, *note, "--db", db)
    assert code == 2 and out == ""
    assert message.format(**fill) in err and len(err.strip().splitlines()) == 1
    st = Store(db_url(db))
    assert st.restore_tests() == []
    st.close()


def test_a_restore_note_cannot_reach_the_terminal_raw(dumps_town: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    code, out, _ = run("backup", "restored", "alder", "dumps", "--note", "ok\x1b[2J\u202edone", "--config",
                       str(dumps_town), "--db", db)  # fmt: skip
    assert code == 0
    _, listed, _ = run("backup", "restores", "--db", db)
    for text in (out, listed):
        assert "\x1b" not in text and "\u202e" not in text and "ok\\x1b[2J" in text


@pytest.mark.parametrize("command", [["backup"], ["backup", "restored"], ["backup", "restores"]])
def test_backup_help_teaches_restore_tests_with_an_example(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and "Example" in out
    assert "secbase backup restore" in out


def test_a_scan_without_storing_leaves_an_older_store_as_it_was(dumps_town: Path, tmp_path: Path) -> None:
    url = db_url(str(tmp_path / "old.db"))
    at_revision(url, "0002")
    assert _restore_verdict(dumps_town, "--no-store", "--db", str(tmp_path / "old.db"))["status"] == "warn"
    assert revision_of(url) == "0002"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "fresh",
            "no scan is stored yet, so secbase cannot check the organisation and source; give --config FILE",
        ),
        (
            "scanned",
            "no stored scan looked at an organisation 'nosuch' (they looked at: alder); check the id",
        ),
    ],
)
def test_backup_restored_explains_what_the_store_cannot_tell(
    dumps_town: Path, tmp_path: Path, setup: str, message: str
) -> None:
    db = str(tmp_path / "s.db")
    if setup == "scanned":
        _restore_verdict(dumps_town, "--db", db)
    org = "nosuch" if setup == "scanned" else "alder"
    code, out, err = run("backup", "restored", org, "dumps", "--note", "Restored.", "--db", db)
    assert code == 2 and out == ""
    assert err.strip() == f"secbase: {message}" or message in err


def test_backup_restored_refuses_an_empty_name(dumps_town: Path, tmp_path: Path) -> None:
    code, _, err = run("backup", "restored", "alder", "dumps", "--note", "Restored.", "--by", "",
                       "--config", str(dumps_town), "--db", str(tmp_path / "s.db"))  # fmt: skip
    assert code == 2 and "give the name of who made the restore test" in err


def test_backup_restores_on_no_store_says_so_and_creates_none(tmp_path: Path) -> None:
    code, out, err = run("backup", "restores", "--db", str(tmp_path / "typo.db"))
    assert code == 2 and out == ""
    assert f"there is no store at {tmp_path / 'typo.db'}; check --db, or scan first" in err
    assert not (tmp_path / "typo.db").exists()


def test_the_demo_records_no_lab_restore_tests_in_a_store_of_other_towns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "town.db")
    st = Store(db_url(db))
    st.record_scan(
        outcome([res(Status.FAIL, org="maple")], T0, orgs=("maple",)), config_digest="d", tool_version="t"
    )
    st.close()
    lab_like = SimpleNamespace(restore_tests=Lab(tmp_path / "never-started").restore_tests)
    _record_lab_restores(db, lab_like)  # type: ignore[arg-type]
    st = Store(db_url(db))
    assert st.restore_tests() == []
    st.close()
    assert "holds scans of other organisations" in capsys.readouterr().err
    # A store of the lab's towns only (a demo's, kept with --db) gets them, once.
    lab_db = str(tmp_path / "lab.db")
    _record_lab_restores(lab_db, lab_like)  # type: ignore[arg-type]
    _record_lab_restores(lab_db, lab_like)  # type: ignore[arg-type]
    st = Store(db_url(lab_db))
    assert len(st.restore_tests()) == len(lab_like.restore_tests)
    st.close()


def test_the_demo_does_not_read_secbase_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECBASE_DB", "/nonexistent/town.db")
    code, out, _ = run("demo", "--help")
    assert code == 0 and "SECBASE_DB is not read here" in out


def test_restore_tests_of_a_renamed_source_are_pointed_out(dumps_town: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    code, _, err = run("backup", "restored", "alder", "dumps", "--note", "Restored.", "--config",
                       str(dumps_town), "--db", db)  # fmt: skip
    assert code == 0, err
    dumps_town.write_text(dumps_town.read_text().replace("name: dumps", "name: db-dumps"))
    code, out, err = run("scan", str(dumps_town), "--checks", "backup.restore_tested", "--db", db)
    assert code == 0 and "No restore test is recorded" in out
    assert (
        "secbase: warning: restore tests are recorded for alder 'dumps', which the config does not declare; "
        "if the source was renamed, record the next test under its new name" in err
    )
