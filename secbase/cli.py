"""The command line: parses arguments, calls the library, prints. No logic of its own."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from secbase._cli_backup import backup
from secbase._cli_common import EXIT_FAILED, EXIT_OK, _db_option, _errors, _lab_net_option, _setup_logging
from secbase._cli_findings import accept, findings
from secbase._services import expand_ports, risky_services
from secbase._version import __version__
from secbase.config import Config, LoadedConfig, load_config
from secbase.errors import SecbaseError, StoreError
from secbase.plugins import load_checks
from secbase.probes.restore import RestoreBook
from secbase.report import render_checks, render_results, results_json
from secbase.scan import ScanOutcome, run_scan
from secbase.store import Store, db_url, read_restore_tests

if TYPE_CHECKING:
    from secbase.lab import Lab


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


cli.add_command(findings)  # findings, accept: _cli_findings.py; backup: _cli_backup.py
cli.add_command(accept)
cli.add_command(backup)


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
    st = Store(db_url(db)) if store else None  # a bad store stops here too
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
        return RestoreBook(tests=tuple(read_restore_tests(db_url(db))))
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
