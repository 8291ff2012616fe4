"""The findings commands: `findings` lists them, `accept` accepts one as a known risk or revokes that."""

from __future__ import annotations

from datetime import UTC, date, datetime

import click

from secbase._cli_common import _day, _db_option, _errors, _user_name
from secbase.errors import SecbaseError
from secbase.report import render_findings
from secbase.store import Store, StoredFinding, db_url


@click.command()
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
        st = Store(db_url(db))
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


@click.command()
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
        st = Store(db_url(db))
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
