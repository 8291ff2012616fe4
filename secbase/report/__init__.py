"""Renderers: every text secbase prints comes from a jinja2 template, and everything in it is made safe."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2

from secbase._version import __version__
from secbase.config import Config
from secbase.facts import RestoreTest
from secbase.model import Result, Severity, Status
from secbase.parse import escape
from secbase.plugins import Check
from secbase.scan import ScanOutcome

if TYPE_CHECKING:
    from secbase.store import StoredFinding

MAX_FIELD = 2000  # a server may send a 100,000-character header; a report shows this much of any field

STATUS_ORDER = [Status.FAIL, Status.WARN, Status.ERROR, Status.PASS, Status.NOT_APPLICABLE]
STATUS_LABEL = {
    Status.FAIL: "FAIL",
    Status.WARN: "WARN",
    Status.ERROR: "UNKNOWN",  # "could not check": not something the town did wrong
    Status.PASS: "PASS",
    Status.NOT_APPLICABLE: "N/A",
}


def clean(value: Any) -> str:
    """Make any text safe for a terminal: control and direction-changing characters escaped, length capped.

    Summaries and evidence carry what servers sent (TXT records, later headers and certificate fields);
    an escape sequence in a TXT record must not repaint the clerk's terminal.
    """
    text = "" if value is None else str(value)
    text = unicodedata.normalize("NFC", text)
    text = escape(text)
    if len(text) > MAX_FIELD:
        text = text[:MAX_FIELD] + f"... ({len(text) - MAX_FIELD} more characters)"
    return text


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("secbase.report", "templates"),
        autoescape=False,  # plain text; HTML templates get their own autoescaping environment
        finalize=clean,  # every {{ value }} is cleaned: nothing a server sent reaches the terminal raw
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["label"] = lambda s: STATUS_LABEL[Status(s)]
    env.filters["duration"] = duration
    return env


def duration(seconds: float) -> str:
    """A duration in words a clerk reads at a glance: "3 days", "5 hours", "12 minutes"."""
    s = max(0.0, seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if s >= size:
            n = int(s // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "under a minute"


def _sort_key(r: Result) -> tuple[int, str, str]:
    return (STATUS_ORDER.index(r.status), r.check, r.subject)


FOLD_PASSES_AT = 3  # this many passes of one check on one target, each about a subject, print as one line
FOLD_SHOWN = 5


@dataclass(frozen=True)
class _Line:
    """One line of the text report: a result, or several passes of one check folded together."""

    status: Status
    check: str
    subject: str
    summary: str


def _lines(results: list[Result]) -> list[Result | _Line]:
    """Results in report order, the passes of one check about many subjects (every port scanned, every
    old TLS version refused) folded into one line: the problems are what a reader looks for."""
    ordered = sorted(results, key=_sort_key)
    passes: dict[str, list[Result]] = {}
    for r in ordered:
        if r.status is Status.PASS and r.subject:
            passes.setdefault(r.check, []).append(r)
    out: list[Result | _Line] = []
    for r in ordered:
        group = passes.get(r.check, [])
        if len(group) < FOLD_PASSES_AT or r not in group:
            out.append(r)
        elif r is group[0]:
            subjects = sorted((g.subject for g in group), key=_natural)
            shown = ", ".join(subjects[:FOLD_SHOWN])
            more = f" and {len(group) - FOLD_SHOWN} more" if len(group) > FOLD_SHOWN else ""
            out.append(_Line(Status.PASS, r.check, f"{len(group)} checked", f"All pass: {shown}{more}."))
    return out


def _natural(text: str) -> list[tuple[int, str]]:
    """A sort key that puts "22/ssh" before "102/s7": numbers by value, the rest as text."""
    return [(int(part), "") if part.isdigit() else (0, part) for part in re.split(r"(\d+)", text)]


def first_sentence(text: str) -> str:
    """The first sentence of a check's fix text: the next step, for a line under a problem."""
    flat = " ".join(text.split())
    end = flat.find(". ")
    return flat if end < 0 else flat[: end + 1]


def render_results(outcome: ScanOutcome, config: Config, checks: Mapping[str, Check] | None = None) -> str:
    """The results of a scan, per organisation and target, problems first, each with its next step."""
    steps = {
        cid: f"{first_sentence(c.words.fix)} Who: {c.words.who}. Time: {c.words.effort}."
        for cid, c in (checks or {}).items()
        if c.words is not None
    }
    names = {o.id: o.name for o in config.organisations}
    orgs = []
    for org_id in outcome.organisations:
        mine = [r for r in outcome.results if r.organisation == org_id]
        targets: dict[str, list[Result]] = {}
        for r in mine:
            targets.setdefault(r.target, []).append(r)
        orgs.append(
            {
                "id": org_id,
                "name": names.get(org_id, org_id),
                "targets": [(t, _lines(rs)) for t, rs in targets.items()],
                "counts": Counter(r.status for r in mine),
            }
        )
    return (
        _env()
        .get_template("results.txt.j2")
        .render(
            outcome=outcome,
            orgs=orgs,
            counts=Counter(r.status for r in outcome.results),
            Status=Status,
            version=__version__,
            steps=steps,
        )
    )


def results_json(outcome: ScanOutcome, config: Config) -> dict[str, Any]:
    """The documented JSON form of a scan: {"scan": {...}, "results": [...]}."""
    return {
        "scan": {
            "tool": "secbase",
            "version": __version__,
            "started_at": outcome.started_at.isoformat(),
            "finished_at": outcome.finished_at.isoformat(),
            "organisations": list(outcome.organisations),
            "checks": list(outcome.checks),
            "counts": {str(s): sum(1 for r in outcome.results if r.status is s) for s in Status},
        },
        "results": [r.to_json() for r in outcome.results],
    }


def render_checks(checks: list[Check], *, as_json: bool) -> str:
    """The catalogue of checks."""
    if as_json:
        rows = [
            {
                "id": c.id,
                "severity": str(c.severity),
                "target": ", ".join(map(str, c.target_kinds)),
                "facts": list(c.facts),
                "source": c.source,
                "defaults": dict(c.defaults),
                **(c.words.model_dump() if c.words else {}),
            }
            for c in checks
        ]
        return json.dumps(rows, indent=2) + "\n"
    return _env().get_template("checks.txt.j2").render(checks=checks)


def render_findings(
    found: Sequence[StoredFinding],
    *,
    as_json: bool,
    now: datetime,
    accepted_only: bool = False,
    accepted_left_out: int = 0,
) -> str:
    """Findings with how long each has been open, or how long it took to fix, and any accepted risk.

    Args:
        accepted_only: this is the list of accepted risks (it says so when it is empty).
        accepted_left_out: how many accepted risks the list leaves out, for a line pointing to them.
    """
    if as_json:
        rows = []
        for f in found:
            a = f.acceptance
            rows.append(
                {
                    "fingerprint": f.fingerprint,
                    "organisation": f.organisation,
                    "check": f.check,
                    "target": f.target,
                    "subject": f.subject,
                    "severity": str(f.severity),
                    "status": str(f.status),
                    "summary": f.summary,
                    "first_seen": f.first_seen.isoformat(),
                    "last_seen": f.last_seen.isoformat(),
                    "resolved_at": f.resolved_at.isoformat() if f.resolved_at else None,
                    "times_reopened": f.times_reopened,
                    "open_seconds": round(f.open_seconds, 1),
                    "accepted": f.is_accepted,
                    "accepted_until": a.until.isoformat() if a else None,
                    "accepted_reason": a.reason if a else None,
                    "accepted_by": a.by if a else None,
                    "accepted_at": a.at.isoformat() if a else None,
                }
            )
        return json.dumps(rows, indent=2) + "\n"
    return (
        _env()
        .get_template("findings.txt.j2")
        .render(
            open=[f for f in found if f.is_open and not f.is_accepted],
            accepted=[f for f in found if f.is_accepted],
            fixed=[f for f in found if not f.is_open],
            accepted_only=accepted_only,
            accepted_left_out=accepted_left_out,
            now=now,
            Severity=Severity,
        )
    )


def render_restores(tests: Sequence[RestoreTest], *, as_json: bool) -> str:
    """The restore tests recorded, newest first: what a council or an auditor asks to see."""
    newest_first = sorted(tests, key=lambda t: (t.tested_on, t.recorded_at), reverse=True)
    if as_json:
        rows = [
            {
                "organisation": t.organisation,
                "source": t.source,
                "tested_on": t.tested_on.isoformat(),
                "worked": t.worked,
                "note": t.note,
                "by": t.by,
                "recorded_at": t.recorded_at.isoformat(),
            }
            for t in newest_first
        ]
        return json.dumps(rows, indent=2) + "\n"
    return _env().get_template("restores.txt.j2").render(tests=newest_first)
