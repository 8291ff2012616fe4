"""The store: one transaction per scan, and each finding's life from first seen to fixed and back."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from secbase.errors import StoreError
from secbase.model import Result, Severity, Status
from secbase.scan import ScanOutcome
from secbase.store import Store, db_url, default_db_url, metadata

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
