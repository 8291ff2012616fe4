"""What every command shares: exit codes, logging, one-line errors, common options, day and user parsing."""

from __future__ import annotations

import getpass
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import click

from secbase.errors import SecbaseError

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


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: str, option: str, example: str) -> date:
    """A day given as YYYY-MM-DD; anything else (2027-02-30 too) is one line naming the option."""
    wrong = SecbaseError(f"{option} takes a day written YYYY-MM-DD, like {example}")
    if not _DAY.fullmatch(value.strip()):
        raise wrong
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise wrong from exc


def _user_name(who: str) -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError) as exc:  # no LOGNAME and no passwd entry, as in some containers
        raise SecbaseError(f"cannot tell your user name; say who {who} with --by NAME") from exc
