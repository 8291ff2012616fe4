"""The text report: problems stand out, many passes of one check about many subjects are folded."""

from __future__ import annotations

from datetime import UTC, datetime

from secbase.config import Config
from secbase.model import Result, Severity, Status
from secbase.report import render_results
from secbase.scan import ScanOutcome

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _result(check: str, status: Status, subject: str, summary: str = "ok") -> Result:
    return Result("alder", check, "gw.alder.test", status, Severity.HIGH, summary, subject=subject)


def _render(results: list[Result]) -> str:
    config = Config.model_validate(
        {
            "version": 1,
            "organisations": [{"id": "alder", "name": "Village of Alder", "hosts": ["gw.alder.test"]}],
        }
    )
    outcome = ScanOutcome(NOW, NOW, ("alder",), ("net.service.risky",), results)
    return render_results(outcome, config)


def test_many_passes_of_one_check_fold_into_one_line_in_natural_order() -> None:
    ports = ["102/s7", "22/ssh", "3389/rdp", "445/smb", "5432/postgresql", "8080/web-admin", "21/ftp"]
    text = _render([_result("net.service.risky", Status.PASS, p) for p in ports])
    lines = [line for line in text.splitlines() if "net.service.risky" in line]
    assert len(lines) == 1
    assert "[7 checked] All pass: 21/ftp, 22/ssh, 102/s7, 445/smb, 3389/rdp and 2 more." in lines[0]


def test_problems_are_never_folded_and_few_passes_stay_apart() -> None:
    results = [
        _result("net.service.risky", Status.FAIL, "3389/rdp", "RDP answers."),
        _result("net.service.risky", Status.FAIL, "445/smb", "SMB answers."),
        _result("net.service.risky", Status.FAIL, "23/telnet", "Telnet answers."),
        _result("net.service.unexpected", Status.PASS, "443/tcp"),
        _result("net.service.unexpected", Status.PASS, "80/tcp"),
    ]
    text = _render(results)
    assert text.count("net.service.risky") == 3 and "RDP answers." in text
    assert text.count("net.service.unexpected") == 2 and "checked]" not in text
