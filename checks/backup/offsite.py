"""backup.offsite: does the organisation keep one copy away from the building (3-2-1)? Words: offsite.yml.

Judged per organisation: the verdict is given once, on the organisation's first declared backup source
(subject "organisation"), so that one missing off-site copy is one finding, not one per source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check
from secbase.parse import mask

from ._source import config_of, reason, spec_of

SUBJECT = "organisation"


@check(id="backup.offsite", severity="high", target="backup", facts=("backup_config",))
def offsite(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Some declared source is marked offsite or immutable, or some configuration writes to a remote repository."""
    spec = spec_of(target)
    sources = target.org_backups or (spec,)
    if sources[0].name != spec.name:
        return []  # the organisation's verdict is on its first source
    marked = [s.name for s in sources if s.offsite or s.immutable]
    if marked:
        summary = f"An off-site or immutable copy is declared: {', '.join(marked)}."
        return [Result.passed(offsite, target, summary, subject=SUBJECT)]
    configs = [c for c in (config_of(s, facts) for s in sources) if c is not None]
    remote = [c.path for c in configs if c.error is None and c.has_remote]
    if remote:
        summary = f"A configuration writes to a remote repository: {', '.join(remote)}."
        return [Result.passed(offsite, target, summary, subject=SUBJECT)]
    unread = [c for c in configs if c.error is not None]
    if unread:  # the unread file may name the off-site copy
        return [Result.error(offsite, target, reason(unread[0]), subject=SUBJECT)]
    over_network = [s.name for s in sources if s.remote]
    hint = (
        f" {', '.join(over_network)} is reached over the network: if it is in another building or a cloud, "
        "mark it offsite: true."
        if over_network
        else ""
    )
    summary = (
        "No backup is declared off-site or immutable, and no configuration writes to a remote repository: "
        f"a fire, flood or ransomware attack on the building could take every copy.{hint}"
    )
    # mask: a password written in a URL is never shown
    evidence = "\n".join(f"{s.name}: {s.kind} {mask(s.location)}" for s in sources)
    return [Result.fail(offsite, target, summary, subject=SUBJECT, evidence=evidence)]
