"""The command line: parses arguments, calls the library, prints. No logic of its own."""

from __future__ import annotations

import getpass
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from secbase._services import expand_ports, risky_services
from secbase._version import __version__
from secbase.config import Config, LoadedConfig, load_config
from secbase.errors import SecbaseError, StoreError
from secbase.plugins import load_checks
from secbase.probes.restore import RestoreBook
from secbase.report import render_checks, render_findings, render_restores, render_results, results_json
from secbase.scan import ScanOutcome, run_scan
from secbase.store import Store, StoredFinding, db_url, default_db_url, read_restore_tests, store_exists

if TYPE_CHECKING:
    from secbase.lab import Lab

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Quiet(logging.Formatter):
    """Without --debug a logged exception is one line: tracebacks are for developers."""

    def formatException(self, ei: Any) -> str:
        return ""


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("secbase: %(levelname)s %(name)s: %(message)s")
        if debug
        else _Quiet("secbase: %(message)s")
    )
    root = logging.getLogger("secbase")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.ERROR)
    root.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="secbase")
@click.option("--debug", is_flag=True, help="Show tracebacks and every probe's log.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """secbase: a cybersecurity baseline for small governments.

    It checks a town's email, DNS, websites and their encryption (TLS) the way a mail server, a
    resolver or a browser would, the ports open on the servers you declare, and your backups (read
    only), says in plain words what to fix, and keeps track of how long each problem takes.

    \b
    Start with the demo (fake towns on this machine, nothing leaves it):
        secbase demo
    Then copy examples/town.yml, fill in your town, and:
        secbase scan town.yml
        secbase findings

    Exit codes: 0 nothing failed, 1 something failed, 2 bad usage or config.
    """
    ctx.obj = {"debug": debug}
    _setup_logging(debug)


@contextmanager
def _errors(ctx: click.Context) -> Iterator[None]:
    """Print our errors as one line on stderr and exit 2; tracebacks only with --debug."""
    try:
        yield
    except SecbaseError as exc:
        if ctx.obj and ctx.obj.get("debug"):
            raise
        click.echo(f"secbase: {exc}", err=True)
        ctx.exit(EXIT_USAGE)


def _db_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db",
        envvar="SECBASE_DB",
        metavar="URL",
        help="Where scans and findings are kept: a file path or a SQLAlchemy URL (default: a SQLite file in "
        "your user data folder; the SECBASE_DB environment variable sets it too).",
    )(fn)


def _lab_net_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--lab-net",
        "lab_net",
        type=click.IntRange(1, 254),
        default=53,
        show_default=True,
        help="Run the lab on 127.N.x.x, so that two labs (say a demo beside 'lab up') do not collide.",
    )(fn)


def _progress(enabled: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not enabled:
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("scan", total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


def _scan_and_store(
    loaded: LoadedConfig,
    *,
    org_ids: Sequence[str],
    patterns: Sequence[str],
    db: str | None,
    store: bool,
    deep_tls: bool = False,
    ports: str | None = None,
) -> tuple[ScanOutcome, list[str]]:
    registry = load_checks()
    services = risky_services()  # a broken services file stops here, before any lookup
    config = loaded.config
    settings: dict[str, Any] = {}
    if deep_tls:
        settings["deep_tls"] = True
    if ports:
        settings["ports"] = [*(config.scan.ports or []), *_port_list(ports)]
    if settings:
        config = config.model_copy(update={"scan": config.scan.model_copy(update=settings)})
    checks = registry.select(patterns)
    for org_id in org_ids:
        loaded.config.organisation(org_id)  # an unknown id stops here, before any lookup
    st = Store(db_url(db) if db else default_db_url()) if store else None  # a bad store stops here too
    try:
        restores = RestoreBook(tests=tuple(st.restore_tests())) if st else _restores_without_storing(db)
        update, stop = _progress(sys.stderr.isatty())
        try:
            outcome = run_scan(config, checks, org_ids=org_ids, progress=update, restores=restores)
        finally:
            stop()
        if st:
            st.record_scan(outcome, config_digest=loaded.digest, tool_version=__version__)
    finally:
        if st:
            st.close()
    return outcome, [*registry.warnings, *services.warnings, *_unread_restores(config, restores, org_ids)]


def _unread_restores(config: Config, book: RestoreBook, org_ids: Sequence[str]) -> list[str]:
    """Restore tests recorded for a backup source the config no longer declares (renamed, say): no check
    reads them, so say so once rather than let backup.restore_tested report that none is recorded."""
    declared = {(org.id, src.name) for org in config.organisations for src in org.backups}
    scanned = set(org_ids) or {org.id for org in config.organisations}
    orphans = sorted({(t.organisation, t.source) for t in book.tests if t.organisation in scanned} - declared)
    return [
        f"restore tests are recorded for {org} {source!r}, which the config does not declare; if the source "
        f"was renamed, record the next test under its new name (secbase backup restored {org} NEW-NAME ...)"
        for org, source in orphans
    ]


def _restores_without_storing(db: str | None) -> RestoreBook:
    """The restore tests recorded in the store, for a scan that stores nothing: read without creating or
    migrating the store; one that cannot be read makes backup.restore_tested say so."""
    try:
        return RestoreBook(tests=tuple(read_restore_tests(db_url(db) if db else default_db_url())))
    except StoreError as exc:
        return RestoreBook.unread(f"the recorded restore tests could not be read: {exc}")


def _port_list(text: str) -> list[int | str]:
    """--ports "8081,8000-8100" as scan.ports takes it; one clear line for anything else."""
    specs: list[int | str] = [p.strip() for p in text.split(",") if p.strip()]
    try:
        expand_ports(specs)
    except ValueError as exc:
        raise SecbaseError(f"--ports: {exc}; write ports and ranges like 8081,8000-8100") from exc
    return [int(p) if isinstance(p, str) and p.isdigit() else p for p in specs]


def _print_outcome(outcome: ScanOutcome, loaded: LoadedConfig, json_out: str | None) -> None:
    """Results as text on stdout, or only JSON with "--json -", or text plus a JSON file."""
    as_json = json.dumps(results_json(outcome, loaded.config), indent=2) + "\n"
    if json_out == "-":
        click.echo(as_json, nl=False)
        return
    click.echo(render_results(outcome, loaded.config, load_checks().checks), nl=False)
    if json_out:
        try:
            Path(json_out).write_text(as_json, encoding="utf-8")
        except OSError as exc:
            raise SecbaseError(f"cannot write the JSON results to {json_out}: {exc.strerror or exc}") from exc


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--org", "org_ids", multiple=True, metavar="ID", help="Scan only this organisation (repeatable)."
)
@click.option(
    "--checks",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help='Run only the checks matching this pattern, like "email.*" or "email.spf" (repeatable).',
)
@click.option(
    "--json", "json_out", metavar="FILE", help='Also write the results as JSON to FILE ("-" for stdout).'
)
@click.option("--no-store", is_flag=True, help="Do not record this scan in the store.")
@click.option(
    "--ports",
    metavar="LIST",
    help="Also try these ports on declared hosts, like 8081,8000-8100 "
    "(the default list is the risky services' ports and the common web and mail ones).",
)
@click.option(
    "--deep-tls",
    is_flag=True,
    help="Try every TLS cipher suite on its own (hundreds of connections per server; slow). "
    "By default a few targeted offers find the weak ones.",
)
@_db_option
@click.pass_context
def scan(
    ctx: click.Context,
    config: Path,
    org_ids: tuple[str, ...],
    patterns: tuple[str, ...],
    json_out: str | None,
    no_store: bool,
    ports: str | None,
    deep_tls: bool,
    db: str | None,
) -> None:
    """Scan the organisations in CONFIG and record the results.

    Every check asks only what a mail server or a browser would ask. Results are printed per
    organisation; each problem becomes a finding in the store, whose life (first seen, fixed,
    back again) `secbase findings` shows. A scan narrowed with --org or --checks never closes the
    findings of what it did not look at, and "could not check" never closes anything.

    \b
    Example:
        secbase scan town.yml
        secbase scan region.yml --org alder --checks 'email.*' --json alder.json

    Exit codes: 0 nothing failed, 1 something failed, 2 bad usage or config.
    """
    with _errors(ctx):
        loaded = load_config(config)
        outcome, warnings = _scan_and_store(
            loaded,
            org_ids=org_ids,
            patterns=patterns,
            db=db,
            store=not no_store,
            deep_tls=deep_tls,
            ports=ports,
        )
        for w in warnings:
            click.echo(f"secbase: warning: {w}", err=True)
        _print_outcome(outcome, loaded, json_out)
    ctx.exit(EXIT_FAILED if outcome.has_failures else EXIT_OK)


@cli.command("checks")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
@click.pass_context
def checks_cmd(ctx: click.Context, as_json: bool) -> None:
    """List every check: its id, severity, title and the package it came from.

    Third-party checks (packages that declare the "secbase.checks" entry point) are listed beside
    the built-in ones.

    \b
    Example:
        secbase checks
        secbase checks --json | jq '.[].id'
    """
    with _errors(ctx):
        registry = load_checks()
        for w in registry.warnings:
            click.echo(f"secbase: warning: {w}", err=True)
        click.echo(render_checks(registry.select(), as_json=as_json), nl=False)


@cli.command()
@click.option("--org", "org_id", metavar="ID", help="Only this organisation's findings.")
@click.option(
    "--all", "include_resolved", is_flag=True, help="Include fixed findings, with how long they took."
)
@click.option(
    "--accepted",
    "accepted_only",
    is_flag=True,
    help="List only the findings accepted as known risks today: who accepted each, why, and until when.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@_db_option
@click.pass_context
def findings(
    ctx: click.Context,
    org_id: str | None,
    include_resolved: bool,
    accepted_only: bool,
    as_json: bool,
    db: str | None,
) -> None:
    """List open findings with how long each has been open.

    A finding opens when a check fails or warns, and closes when a later scan sees the same check
    pass on the same target. With --all, fixed findings show their time to remediate. Findings
    accepted as known risks (secbase accept) are left out until their day has passed; --accepted
    lists them.

    \b
    Example:
        secbase findings
        secbase findings --org alder --all
        secbase findings --accepted
    """
    with _errors(ctx):
        st = Store(db_url(db) if db else default_db_url())
        try:
            found: list[StoredFinding] = st.findings(
                organisation=org_id, include_resolved=include_resolved, accepted=accepted_only
            )
            left_out = 0 if accepted_only else len(st.findings(organisation=org_id, accepted=True))
        finally:
            st.close()
        click.echo(
            render_findings(
                found,
                as_json=as_json,
                now=datetime.now(UTC),
                accepted_only=accepted_only,
                accepted_left_out=left_out,
            ),
            nl=False,
        )


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: str, option: str, example: str) -> date:
    if _DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass  # 2027-02-30: the same one-line error as any other non-date
    raise SecbaseError(f"{option} takes a day written YYYY-MM-DD, like {example}")


def _user_name(who: str) -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError) as exc:  # no LOGNAME and no passwd entry, as in some containers
        raise SecbaseError(f"cannot tell your user name; say who {who} with --by NAME") from exc


@cli.command()
@click.argument("fingerprint")
@click.option(
    "--reason", metavar="TEXT", help="Why the risk is accepted for now, in words the next reader gets."
)
@click.option(
    "--until",
    "until_text",
    metavar="YYYY-MM-DD",
    help="The last day it is accepted, at most one year from today; the day after, it is listed again.",
)
@click.option("--by", metavar="NAME", help="Who accepts it (default: your user name).")
@click.option("--revoke", is_flag=True, help="Remove the acceptance: the finding is listed again at once.")
@_db_option
@click.pass_context
def accept(
    ctx: click.Context,
    fingerprint: str,
    reason: str | None,
    until_text: str | None,
    by: str | None,
    revoke: bool,
    db: str | None,
) -> None:
    """Accept an open finding as a known risk until a day, or revoke that with --revoke.

    Use it for a problem the town knows of and has decided to live with for a while (the old camera
    system is replaced in spring). The finding stays open and its time still counts, but `secbase
    findings` leaves it out through that day; the day after, it is listed again by itself. Accepting
    again replaces the reason and the day. FINGERPRINT is the one `secbase findings` shows, or its
    first 6 characters or more. If a later scan finds it fixed and it comes back after, the
    acceptance is gone: a problem that returns is news.

    \b
    Example:
        secbase accept 3f9c2a71 --until 2027-03-01 --reason "The old camera system is replaced in February."
        secbase findings --accepted
        secbase accept 3f9c2a71 --revoke

    Exit codes: 0 done; 2 bad usage (an unknown or ambiguous fingerprint, a fixed finding, a day in
    the past or more than one year away).
    """
    with _errors(ctx):
        if revoke and (reason is not None or until_text is not None or by is not None):
            raise SecbaseError("--revoke takes no --reason, --until or --by")
        acceptance: tuple[str, date, str] | None = None  # reason, until, by
        if not revoke:
            if reason is None or until_text is None:
                raise SecbaseError(
                    'give --reason "why" and --until YYYY-MM-DD (or --revoke to undo an acceptance)'
                )
            acceptance = (
                reason,
                _day(until_text, "--until", "2027-03-01"),
                by or _user_name("accepts the risk"),
            )
        st = Store(db_url(db) if db else default_db_url())
        try:
            if acceptance is None:
                found, removed = st.revoke(fingerprint)
                note = (
                    "acceptance revoked; it is listed again"
                    if removed
                    else "it was not accepted; nothing changed"
                )
            else:
                why, until, who = acceptance
                found = st.accept(fingerprint, reason=why, until=until, by=who)
                note = "accepted; secbase findings leaves it out until that day has passed"
        finally:
            st.close()
        click.echo(render_findings([found], as_json=False, now=datetime.now(UTC)), nl=False)
        click.echo(f"secbase: {found.fingerprint}: {note}", err=True)


@cli.group()
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
        st = Store(db_url(db) if db else default_db_url())
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
        url = db_url(db) if db else default_db_url()
        if not store_exists(url):
            raise SecbaseError(
                f"there is no store at {url.removeprefix('sqlite:///')}; check --db, or scan first"
            )
        tests = [t for t in read_restore_tests(url) if org_id is None or t.organisation == org_id]
        click.echo(render_restores(tests, as_json=as_json), nl=False)


@cli.command()
@click.option(
    "--db",
    "db",
    metavar="URL",
    help="Keep the demo's scan in this store (a file path or a SQLAlchemy URL) instead of a temporary one. "
    "SECBASE_DB is not read here: the demo never writes into your town's store unasked.",
)
@click.option(
    "--json", "json_out", metavar="FILE", help='Also write the results as JSON to FILE ("-" for stdout).'
)
@_lab_net_option
@click.pass_context
def demo(ctx: click.Context, db: str | None, json_out: str | None, lab_net: int) -> None:
    """Start the lab, scan its fake towns, print what is wrong with each, and stop the lab.

    The lab runs real DNS servers on 127.53.x.x (port 53, so it needs root or the right to bind
    low ports); nothing leaves this machine. Each town has planted problems; one passes everything.
    Results go to a temporary store unless --db is given. Nothing is left running, also on Ctrl-C.

    \b
    Example:
        secbase demo
        secbase demo --db demo.db && secbase findings --db demo.db
    """
    from secbase.lab import Lab

    with _errors(ctx), tempfile.TemporaryDirectory(prefix="secbase-demo-") as tmp:
        began = time.monotonic()
        with Lab(Path(tmp) / "lab", net=lab_net) as lab:
            loaded = load_config(lab.config_path)
            store_at = db or str(Path(tmp) / "demo.db")
            _record_lab_restores(store_at, lab)
            outcome, _ = _scan_and_store(loaded, org_ids=(), patterns=(), db=store_at, store=True)
        _print_outcome(outcome, loaded, json_out)
        click.echo(f"Demo finished in {time.monotonic() - began:.1f} s; the lab is stopped.", err=True)
    ctx.exit(EXIT_OK)


def _record_lab_restores(db: str, lab: Lab) -> None:
    """Record the lab towns' restore tests in the demo's store, once, and only in a store of the lab's towns:
    made-up tests in a real town's store could make its backup.restore_tested pass."""
    from secbase.lab import TOWNS

    st = Store(db_url(db))
    try:
        towns = {t.organisation for t in lab.restore_tests}
        if any(t.organisation in towns for t in st.restore_tests()):
            return
        if {org for scan in st.scans() for org in scan.organisations} - {town.id for town in TOWNS}:
            click.echo(
                "secbase: this store holds scans of other organisations: the lab's restore tests are not "
                "recorded in it, so the lab towns' backup.restore_tested will warn",
                err=True,
            )
            return
        for t in lab.restore_tests:
            st.record_restore(
                t.organisation, t.source, tested_on=t.tested_on, note=t.note, by=t.by, worked=t.worked
            )
    finally:
        st.close()


@cli.group()
def lab() -> None:
    """Run the lab of fake towns by hand, to poke at it with dig or to scan it yourself.

    \b
    Example:
        secbase lab up --dir /tmp/lab
    """


@lab.command("up")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("secbase-lab"),
    show_default=True,
    help="Where the lab writes its config (lab.yml).",
)
@_lab_net_option
@click.pass_context
def lab_up(ctx: click.Context, workdir: Path, lab_net: int) -> None:
    """Start the lab in the foreground until Ctrl-C.

    \b
    Example:
        secbase lab up --dir /tmp/lab
        # in another terminal:
        dig @127.53.0.1 _dmarc.alder.test TXT
        secbase scan /tmp/lab/lab.yml --db /tmp/lab/lab.db
    """
    from secbase.lab import Lab

    with _errors(ctx), Lab(workdir, net=lab_net) as running:
        click.echo(f"The lab is up. Config: {running.config_path}", err=True)
        click.echo(f"Try: secbase scan {running.config_path} --no-store", err=True)
        click.echo("Press Ctrl-C to stop it.", err=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("Stopping the lab.", err=True)


def main() -> None:
    """Entry point of the `secbase` command."""
    cli.main(prog_name="secbase")
