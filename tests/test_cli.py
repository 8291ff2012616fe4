"""The command line: exit codes a cron job can use, JSON as documented, help that teaches."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from secbase.cli import cli
from secbase.config import LoadedConfig
from secbase.lab import Lab


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
