"""The store: one transaction per scan, and each finding's life from first seen to fixed and back."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from secbase._store_schema import _REVISIONS, metadata
from secbase.errors import SecbaseError, StoreError
from secbase.model import Result, Severity, Status, fingerprint
from secbase.scan import ScanOutcome
from secbase.store import (
    ACCEPT_MIN_PREFIX,
    Acceptance,
    Store,
    StoredFinding,
    db_url,
    default_db_url,
    read_restore_tests,
    store_exists,
)

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def res(
    status: Status,
    *,
    org: str = "alder",
    check: str = "email.spf.policy",
    target: str = "alder.test",
    subject: str = "",
) -> Result:
    return Result(org, check, target, status, Severity.HIGH, f"{check} is {status}", subject=subject)


def outcome(results: list[Result], at: datetime, orgs: tuple[str, ...] = ("alder",)) -> ScanOutcome:
    return ScanOutcome(
        at, at + timedelta(seconds=5), orgs, tuple(sorted({r.check for r in results})), results
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store(db_url(str(tmp_path / "s.db")))
    yield st
    st.close()


def record(store: Store, results: list[Result], at: datetime) -> int:
    return store.record_scan(outcome(results, at), config_digest="d", tool_version="t")


def test_a_fail_opens_a_finding(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    [f] = store.findings(now=T0 + timedelta(days=3))
    assert f.is_open and f.first_seen == T0
    assert f.open_seconds == pytest.approx(3 * 86400)


def test_a_later_fail_refreshes_last_seen_not_first_seen(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    record(store, [res(Status.WARN)], T0 + timedelta(days=1))
    [f] = store.findings()
    assert f.first_seen == T0 and f.last_seen == T0 + timedelta(days=1)
    assert f.status is Status.WARN


def test_a_pass_resolves_it_with_a_time_to_remediate(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    record(store, [res(Status.PASS)], T0 + timedelta(days=10))
    assert store.findings() == []
    [f] = store.findings(include_resolved=True, now=T0 + timedelta(days=99))
    assert f.resolved_at == T0 + timedelta(days=10)
    assert f.open_seconds == pytest.approx(10 * 86400)


def test_not_applicable_resolves_too(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    record(store, [res(Status.NOT_APPLICABLE)], T0 + timedelta(days=1))
    assert store.findings() == []


def test_error_never_resolves_a_finding(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    record(store, [res(Status.ERROR)], T0 + timedelta(days=1))
    [f] = store.findings()
    assert f.is_open and f.last_seen == T0  # and "could not check" is not "seen again" either


def test_error_never_opens_a_finding(store: Store) -> None:
    record(store, [res(Status.ERROR)], T0)
    assert store.findings(include_resolved=True) == []


def test_a_fixed_finding_that_comes_back_is_reopened_and_each_period_counts(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    record(store, [res(Status.PASS)], T0 + timedelta(days=2))
    record(store, [res(Status.FAIL)], T0 + timedelta(days=5))
    [f] = store.findings(now=T0 + timedelta(days=6))
    assert f.is_open and f.times_reopened == 1 and f.first_seen == T0
    assert f.open_seconds == pytest.approx((2 + 1) * 86400)


def test_a_pass_on_another_subject_does_not_resolve(store: Store) -> None:
    record(store, [res(Status.FAIL, check="email.dkim", subject="s1")], T0)
    record(store, [res(Status.PASS, check="email.dkim", subject="s2")], T0 + timedelta(days=1))
    [f] = store.findings()
    assert f.subject == "s1" and f.is_open


def test_a_narrower_scan_resolves_only_what_it_looked_at(store: Store) -> None:
    record(
        store,
        [
            res(Status.FAIL),
            res(Status.FAIL, org="birch", target="birch.test"),
            res(Status.FAIL, check="dns.caa"),
        ],
        T0,
    )
    # --org alder --checks email.*: birch and dns.caa were not looked at, so they stay open.
    record(store, [res(Status.PASS)], T0 + timedelta(days=1))
    left = {(f.organisation, f.check) for f in store.findings()}
    assert left == {("birch", "email.spf.policy"), ("alder", "dns.caa")}


def test_every_result_of_every_scan_is_kept(store: Store) -> None:
    first = record(store, [res(Status.FAIL), res(Status.PASS, check="dns.caa")], T0)
    record(store, [res(Status.PASS)], T0 + timedelta(days=1))
    assert [s.id for s in store.scans()] == [first, first + 1]
    assert {r.check for r in store.results(first)} == {"email.spf.policy", "dns.caa"}


def test_a_scan_that_breaks_while_being_written_leaves_nothing(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    bad = res(Status.FAIL, check="x" * 10)
    broken = Result(
        bad.organisation,
        bad.check,
        bad.target,
        bad.status,
        bad.severity,
        None,
    )  # type: ignore[arg-type]
    with pytest.raises(sa.exc.IntegrityError):
        store.record_scan(
            outcome([res(Status.PASS), broken], T0 + timedelta(days=1)), config_digest="d", tool_version="t"
        )
    assert len(store.scans()) == 1
    [f] = store.findings()
    assert f.is_open  # the PASS written before the failure was rolled back with it


def test_a_scan_killed_half_way_leaves_earlier_scans_intact(tmp_path: Path) -> None:
    url = db_url(str(tmp_path / "k.db"))
    st = Store(url)
    record(st, [res(Status.FAIL)], T0)
    st.close()
    # A child process starts writing a big scan and is killed inside the transaction.
    script = textwrap.dedent(f"""
        import os, signal
        from datetime import datetime, UTC
        from secbase.store import Store, _update_findings
        import secbase.store as m
        from secbase.model import Result, Severity, Status
        from secbase.scan import ScanOutcome
        def die(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        m._update_findings = die
        st = Store({url!r})
        rs = [Result("alder", "email.spf.policy", "alder.test", Status.PASS, Severity.HIGH, "ok")] * 1000
        now = datetime.now(UTC)
        st.record_scan(ScanOutcome(now, now, ("alder",), ("email.spf.policy",), rs), config_digest="d", tool_version="t")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()
    st = Store(url)
    assert len(st.scans()) == 1 and len(st.results(st.scans()[0].id)) == 1
    [f] = st.findings()
    assert f.is_open
    st.close()


def test_the_migrations_build_exactly_the_schema_the_code_uses(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_an_unusable_store_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db.db"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(db_url(str(bad)))


def test_a_password_in_the_url_is_never_shown() -> None:
    with pytest.raises(StoreError) as info:
        Store("postgresql://clerk:hunter2@127.0.0.1:1/secbase")
    assert "hunter2" not in str(info.value)


def test_the_default_store_follows_secbase_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECBASE_DB", str(tmp_path / "x.db"))
    assert default_db_url() == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.delenv("SECBASE_DB")
    assert default_db_url().endswith("secbase.db")


# Accepted risk: a finding the town decided to live with until a day, left out of the list until then.

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # the day the clerk accepts: 2026-11-02
FP = res(Status.FAIL).fingerprint


def accept(
    store: Store, fingerprint: str = FP, *, until: date = date(2027, 3, 1), **kw: Any
) -> StoredFinding:
    args: dict[str, Any] = {
        "reason": "The old camera system is replaced in February.",
        "by": "ana",
        "now": NOW,
    }
    return store.accept(fingerprint, until=until, **{**args, **kw})


def sharing_a_prefix(length: int = ACCEPT_MIN_PREFIX) -> tuple[str, str]:
    """Two DKIM selectors whose findings' fingerprints start with the same characters."""
    seen: dict[str, str] = {}
    for i in itertools.count():
        subject = f"s{i}"
        start = fingerprint("alder", "email.dkim", "alder.test", subject)[:length]
        if start in seen:
            return seen[start], subject
        seen[start] = subject
    raise AssertionError("unreachable")


def test_an_accepted_finding_leaves_the_list_but_stays_open_with_its_life(store: Store) -> None:
    record(store, [res(Status.FAIL), res(Status.FAIL, check="dns.caa")], T0)
    done = accept(store)
    assert done.is_accepted and done.acceptance is not None
    assert done.acceptance.until == date(2027, 3, 1) and done.acceptance.by == "ana"
    assert done.acceptance.at == NOW
    assert [f.check for f in store.findings(now=NOW)] == ["dns.caa"]
    # A later scan still sees it: last seen moves, first seen and the open period stay, still accepted.
    record(store, [res(Status.FAIL)], T0 + timedelta(days=7))
    [f] = store.findings(accepted=True, now=T0 + timedelta(days=10))
    assert f.is_open and f.is_accepted and f.fingerprint == FP
    assert f.first_seen == T0 and f.last_seen == T0 + timedelta(days=7)
    assert f.open_seconds == pytest.approx(10 * 86400)
    assert f.acceptance is not None and f.acceptance.reason.startswith("The old camera")
    assert {g.check for g in store.findings(accepted=None, now=NOW)} == {"email.spf.policy", "dns.caa"}


def test_an_acceptance_runs_through_its_day_and_ends_by_itself(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    accept(store, until=date(2026, 12, 24))
    assert store.findings(now=datetime(2026, 12, 24, 23, 59, tzinfo=UTC)) == []
    [f] = store.findings(now=datetime(2026, 12, 25, 0, 0, tzinfo=UTC))  # nothing ran in between
    assert f.is_open and not f.is_accepted
    assert f.acceptance is not None and f.acceptance.until == date(2026, 12, 24)  # why it is back
    assert store.findings(accepted=True, now=datetime(2026, 12, 25, tzinfo=UTC)) == []


def test_the_day_is_the_readers_own_day(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    accept(store, until=date(2026, 12, 24))
    # 23:30 on the 24th in Ontario is already the 25th in UTC: still accepted there.
    evening = datetime(2026, 12, 24, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert store.findings(now=evening) == []
    assert store.findings(now=evening.astimezone(UTC)) != []


def test_accepting_again_replaces_the_acceptance(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    accept(store)
    accept(store, until=date(2026, 12, 1), reason="Delayed to December.", by="bo")
    [f] = store.findings(accepted=True, now=NOW)
    assert f.acceptance == Acceptance(date(2026, 12, 1), "Delayed to December.", "bo", NOW)


def test_revoking_lists_it_again_at_once(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    accept(store)
    found, removed = store.revoke(FP[:8], now=NOW)
    assert removed is not None and removed.by == "ana"
    assert found.acceptance is None and not found.is_accepted
    assert [f.fingerprint for f in store.findings(now=NOW)] == [FP]
    assert store.revoke(FP, now=NOW)[1] is None  # nothing left to revoke: said, not an error


def test_six_characters_of_the_fingerprint_are_enough(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    assert accept(store, FP[:6].upper()).fingerprint == FP
    with pytest.raises(SecbaseError, match="at least 6 characters"):
        accept(store, FP[:5])
    with pytest.raises(SecbaseError, match="no finding has the fingerprint"):
        accept(store, "0123456789")
    with pytest.raises(SecbaseError, match="digits 0-9 and the letters a-f"):
        accept(store, "alder%")


def test_an_ambiguous_prefix_is_refused_naming_the_matches(store: Store) -> None:
    one, two = sharing_a_prefix()
    record(store, [res(Status.FAIL, check="email.dkim", subject=s) for s in (one, two)], T0)
    prints = sorted(fingerprint("alder", "email.dkim", "alder.test", s) for s in (one, two))
    with pytest.raises(SecbaseError) as info:
        accept(store, prints[0][:6])
    message = str(info.value)
    assert "\n" not in message and "give more characters" in message
    assert prints[0] in message and prints[1] in message and "email.dkim" in message
    assert accept(store, prints[1]).fingerprint == prints[1]  # the whole fingerprint is never ambiguous


@pytest.mark.parametrize(
    ("until", "refused"),
    [
        (date(2026, 11, 1), "in the past"),
        (date(2026, 11, 2), None),  # through today
        (date(2027, 11, 2), None),  # exactly one year
        (date(2027, 11, 3), "one year at most (2027-11-02 at the latest)"),
    ],
)
def test_an_acceptance_lasts_at_most_one_year_and_never_starts_in_the_past(
    store: Store, until: date, refused: str | None
) -> None:
    record(store, [res(Status.FAIL)], T0)
    if refused is None:
        assert accept(store, until=until).is_accepted
    else:
        with pytest.raises(SecbaseError, match=re.escape(refused)):
            accept(store, until=until)
        assert store.findings(accepted=True, now=NOW) == []


def test_one_year_from_29_february_is_28_february(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    leap = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert accept(store, until=date(2029, 2, 28), now=leap).is_accepted
    with pytest.raises(SecbaseError, match="2029-02-28 at the latest"):
        accept(store, until=date(2029, 3, 1), now=leap)


@pytest.mark.parametrize(("field", "value"), [("reason", "  "), ("by", ""), ("by", "x" * 129)])
def test_an_acceptance_needs_a_reason_and_a_name(store: Store, field: str, value: str) -> None:
    record(store, [res(Status.FAIL)], T0)
    with pytest.raises(SecbaseError):
        accept(store, **{field: value})


def test_a_fixed_finding_cannot_be_accepted(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    record(store, [res(Status.PASS)], T0 + timedelta(hours=1))
    with pytest.raises(SecbaseError, match="was fixed on 2026-11-01: only an open finding is accepted"):
        accept(store)


def test_a_fix_keeps_the_acceptance_on_record_and_a_comeback_clears_it(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    accept(store)
    record(store, [res(Status.PASS)], T0 + timedelta(days=3))
    [fixed] = store.findings(include_resolved=True, now=NOW)
    assert not fixed.is_open and not fixed.is_accepted  # fixed is fixed: not an accepted risk
    assert fixed.acceptance is not None and fixed.acceptance.by == "ana"  # who had accepted it, still told
    assert store.findings(accepted=True, now=NOW) == []
    # It comes back before the accepted day: that is news, listed at once, and needs a new decision.
    record(store, [res(Status.FAIL)], T0 + timedelta(days=5))
    [back] = store.findings(now=T0 + timedelta(days=6))
    assert back.times_reopened == 1 and back.acceptance is None and not back.is_accepted
    assert back.open_seconds == pytest.approx((3 + 1) * 86400)


def test_an_error_result_leaves_the_acceptance_alone(store: Store) -> None:
    record(store, [res(Status.FAIL)], T0)
    accept(store)
    record(store, [res(Status.ERROR)], T0 + timedelta(days=1))
    assert [f.fingerprint for f in store.findings(accepted=True, now=NOW)] == [FP]


def test_a_store_of_the_first_version_opens_with_its_findings_unaccepted(tmp_path: Path) -> None:
    url = db_url(str(tmp_path / "old.db"))
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "secbase:migrations")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            sa.text(
                "INSERT INTO findings (fingerprint, organisation, check_id, target, subject, severity, status,"
                " summary, first_seen, last_seen) VALUES ('abcdef0123456789abcd', 'alder', 'dns.caa',"
                " 'alder.test', '', 'low', 'warn', 'no CAA', :t, :t)"
            ),
            {"t": T0.isoformat(timespec="microseconds")},
        )
    engine.dispose()
    st = Store(url)
    try:
        [f] = st.findings(now=NOW)
        assert f.acceptance is None and not f.is_accepted
        assert st.accept("abcdef", reason="r", until=date(2027, 1, 1), by="ana", now=NOW).is_accepted
    finally:
        st.close()
    with engine.begin() as conn:  # and back down again, as Alembic promises
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
        assert "accepted_until" not in {c["name"] for c in sa.inspect(conn).get_columns("findings")}
    engine.dispose()


# Restore tests: recorded by hand, read back by the scan (backup.restore_tested).


def test_restore_tests_are_kept_and_read_back_oldest_first(store: Store) -> None:
    store.record_restore("alder", "nas", tested_on=date(2026, 10, 1), note="late", by="bo", now=NOW)
    store.record_restore("alder", "files", tested_on=date(2026, 9, 1), note="early", by="ana", now=NOW)
    store.record_restore(
        "birch", "nas", tested_on=date(2026, 9, 15), note="x", by="cy", worked=False, now=NOW
    )
    assert [t.note for t in store.restore_tests()] == ["early", "x", "late"]
    [birch] = store.restore_tests(organisation="birch")
    assert birch.worked is False and birch.by == "cy" and birch.recorded_at == NOW
    assert birch.tested_on == date(2026, 9, 15)


def test_a_restore_note_is_kept_on_one_line(store: Store) -> None:
    test = store.record_restore(
        "alder", "nas", tested_on=date(2026, 10, 1), note=" a\n\tb  c ", by="ana", now=NOW
    )
    assert test.note == "a b c"
    assert store.restore_tests()[0].note == "a b c"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"note": "  "}, "give a note"),
        ({"note": "x" * 2001}, "longer than 2000 characters"),
        ({"by": " "}, "give the name of who made the restore test"),
        ({"tested_on": date(2026, 11, 3)}, "2026-11-03 is in the future"),
    ],
)
def test_a_restore_test_is_refused_with_one_line(store: Store, change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"tested_on": date(2026, 11, 2), "note": "Restored.", "by": "ana", "now": NOW}
    with pytest.raises(SecbaseError, match=message):
        store.record_restore("alder", "nas", **{**args, **change})
    assert store.restore_tests() == []


def test_the_backup_sources_a_stored_scan_looked_at(store: Store) -> None:
    assert store.backup_sources("alder") == set()
    record(store, [res(Status.PASS, check="backup.fresh", target="nas"), res(Status.FAIL)], T0)
    assert store.backup_sources("alder") == {"nas"}
    assert store.backup_sources("birch") == set()


def test_a_missing_sqlite_file_is_no_store_yet(tmp_path: Path) -> None:
    assert not store_exists(db_url(str(tmp_path / "none.db")))
    (tmp_path / "there.db").write_bytes(b"")
    assert store_exists(db_url(str(tmp_path / "there.db")))
    assert store_exists("postgresql://clerk@127.0.0.1:1/secbase")  # only opening it can tell


# A check that reports every subject it judges (Check.every_subject) closes its findings about others.

UNEXPECTED = "net.service.unexpected"
HOST = "gw.alder.test"


def _port(status: Status, port: int, check: str = UNEXPECTED, org: str = "alder") -> Result:
    return res(status, org=org, check=check, target=HOST, subject=f"{port}/tcp")


def _every(store: Store, results: list[Result], at: datetime, *units: tuple[str, str, str]) -> None:
    done = outcome(results, at)
    store.record_scan(replace(done, every_subject=frozenset(units)), config_digest="d", tool_version="t")


def test_a_subject_no_longer_judged_is_closed_when_the_check_reports_every_subject(store: Store) -> None:
    unit = ("alder", UNEXPECTED, HOST)
    _every(store, [_port(Status.WARN, 3389), _port(Status.WARN, 8081), _port(Status.PASS, 443)], T0, unit)
    # Next scan: 3389 is left to net.service.risky and 8081 dropped from the list; 443 and 993 reported.
    later = T0 + timedelta(days=2)
    _every(store, [_port(Status.PASS, 443), _port(Status.WARN, 993)], later, unit)
    found = {f.subject: f for f in store.findings(include_resolved=True, now=later)}
    assert found["3389/tcp"].resolved_at == later and found["8081/tcp"].resolved_at == later
    assert found["3389/tcp"].open_seconds == pytest.approx(2 * 86400)
    assert found["993/tcp"].is_open


def test_without_the_promise_or_for_other_targets_nothing_is_closed(store: Store) -> None:
    _every(store, [_port(Status.WARN, 3389), _port(Status.WARN, 3389, org="birch")], T0)
    later = T0 + timedelta(days=1)
    _every(store, [_port(Status.PASS, 443)], later)  # no unit promises every subject
    _every(store, [_port(Status.PASS, 443)], later, ("birch", UNEXPECTED, "other.birch.test"))
    assert {(f.organisation, f.subject) for f in store.findings(now=later)} == {
        ("alder", "3389/tcp"),
        ("birch", "3389/tcp"),
    }


def at_revision(url: str, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "secbase:migrations")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def revision_of(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = str(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar())
    engine.dispose()
    return found


def test_the_revisions_read_without_migrating_are_alembics() -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "secbase:migrations")
    assert {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()} == _REVISIONS


def test_restore_tests_are_read_without_migrating_or_creating_a_store(tmp_path: Path) -> None:
    assert read_restore_tests(db_url(str(tmp_path / "none.db"))) == []
    assert not (tmp_path / "none.db").exists()
    old = db_url(str(tmp_path / "old.db"))
    at_revision(old, "0002")
    assert read_restore_tests(old) == []
    assert revision_of(old) == "0002"  # left as it was
    st = Store(old)
    st.record_restore("alder", "nas", tested_on=date(2026, 10, 1), note="n", by="ana", now=NOW)
    st.close()
    assert [t.source for t in read_restore_tests(old)] == ["nas"]


def test_a_store_made_by_a_newer_secbase_is_a_one_line_error(tmp_path: Path) -> None:
    url = db_url(str(tmp_path / "newer.db"))
    at_revision(url, "head")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"made by a newer secbase .*; upgrade secbase"):
        Store(url)
    with pytest.raises(StoreError, match=r"made by a newer secbase \(revision 0099\)"):
        read_restore_tests(url)
