"""The backup commands: `backup restored` records a restore test, `backup restores` lists them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from secbase._cli_common import _day, _db_option, _errors, _user_name
from secbase.config import load_config
from secbase.errors import SecbaseError
from secbase.report import render_restores
from secbase.store import Store, db_url, read_restore_tests, store_exists


@click.group()
def backup() -> None:
    """Record the restore tests of your backups, and list them.

    No repository can show that its backups restore: only trying does. After each test (restore a
    folder or a database to a spare place and open it), record it here; backup.restore_tested reads
    these records and asks for a new test every 90 days.

    \b
    Example:
        secbase backup restored alder fileserver --date 2026-11-20 --note "Restored /finance to a spare disk; files opened."
        secbase backup restores --org alder
    """


@backup.command("restored")
@click.argument("org_id", metavar="ORG")
@click.argument("source")
@click.option(
    "--date", "date_text", metavar="YYYY-MM-DD", help="The day the restore was tested (default: today)."
)
@click.option("--note", metavar="TEXT", help="What was restored, where to, and what you saw.")
@click.option("--failed", is_flag=True, help="The restore did not work (files missing, would not open).")
@click.option("--by", metavar="NAME", help="Who made the test (default: your user name).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check ORG and SOURCE against this config (default: against the sources stored scans looked at).",
)
@_db_option
@click.pass_context
def backup_restored(
    ctx: click.Context,
    org_id: str,
    source: str,
    date_text: str | None,
    note: str | None,
    failed: bool,
    by: str | None,
    config_path: Path | None,
    db: str | None,
) -> None:
    """Record a restore test of one backup SOURCE of organisation ORG.

    ORG is the organisation's id and SOURCE the backup's name, as in the config (the scan report
    shows both). The record is kept in the store; the next scan's backup.restore_tested reads it.
    A test that did not work is worth recording too (--failed): the check then asks for a fix.

    \b
    Example:
        secbase backup restored alder fileserver --date 2026-11-20 \\
            --note "Restored the finance folder to a spare disk; all files opened."

    Exit codes: 0 recorded; 2 bad usage (an unknown organisation or source, a day in the future,
    no note).
    """
    with _errors(ctx):
        if not note or not note.strip():
            raise SecbaseError('give --note "what you restored, where to, and what you saw"')
        tested_on = _day(date_text, "--date", "2026-11-20") if date_text else date.today()
        who = by if by is not None else _user_name("made the test")
        st = Store(db_url(db))
        try:
            _known_source(st, org_id, source, config_path)
            test = st.record_restore(
                org_id, source, tested_on=tested_on, note=note, by=who, worked=not failed
            )
        finally:
            st.close()
        click.echo(render_restores([test], as_json=False), nl=False)
        click.echo("secbase: recorded; the next scan's backup.restore_tested reads it", err=True)


def _known_source(st: Store, org_id: str, source: str, config_path: Path | None) -> None:
    """Refuse a restore test of a source that is not declared: a typo would never be read."""
    if config_path is not None:
        loaded = load_config(config_path)
        names = [b.name for b in loaded.config.organisation(org_id).backups]
        where = f"{config_path}"
    else:
        names = sorted(st.backup_sources(org_id))
        where = "the stored scans"
        if not names:
            scanned = sorted({org for scan in st.scans() for org in scan.organisations})
            if not scanned:
                raise SecbaseError(
                    "no scan is stored yet, so secbase cannot check the organisation and source; "
                    "give --config FILE (your secbase config) to check them against it"
                )
            if org_id not in scanned:
                raise SecbaseError(
                    f"no stored scan looked at an organisation {org_id!r} (they looked at: "
                    f"{', '.join(scanned)}); check the id, or give --config FILE to check against your config"
                )
    if source in names:
        return
    known = f"; its sources there: {', '.join(names)}" if names else ""
    hint = "" if config_path else ", or give --config FILE to check against your config"
    raise SecbaseError(
        f"{org_id} has no backup source named {source!r} in {where}{known}; check the spelling{hint}"
    )


@backup.command("restores")
@click.option("--org", "org_id", metavar="ID", help="Only this organisation's restore tests.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@_db_option
@click.pass_context
def backup_restores(ctx: click.Context, org_id: str | None, as_json: bool, db: str | None) -> None:
    """List the restore tests recorded, newest first.

    \b
    Example:
        secbase backup restores --org alder

    Exit codes: 0 listed (also when there are none); 2 no store there, or one that cannot be read.
    """
    with _errors(ctx):
        url = db_url(db)
        if not store_exists(url):
            raise SecbaseError(
                f"there is no store at {url.removeprefix('sqlite:///')}; check --db, or scan first"
            )
        tests = [t for t in read_restore_tests(url) if org_id is None or t.organisation == org_id]
        click.echo(render_restores(tests, as_json=as_json), nl=False)
