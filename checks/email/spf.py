"""email.spf.*: is there one SPF record, does it end strictly, does it parse, does it stay within 10 lookups?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Check, Facts, Result, Target, check
from secbase.parse.spf import SpfParseError, is_spf, parse_spf

from ._spf_tree import SpfTree, effective_all, walk_spf


def _judgeable(check_: Check, target: Target, facts: Facts, *, parsed: bool) -> SpfTree | list[Result]:
    """The walked tree, or the `error` result saying why there is nothing to judge.

    A missing, doubled or unreadable record is another check's finding: this one says it could not
    check (which never closes its own finding), not "not applicable" (which would).
    """
    tree = facts.derive(("spf_tree", target.name), lambda: walk_spf(target.name, facts))
    if tree.root.answer.error is not None:
        return [Result.error(check_, target, tree.root.answer.error)]
    if len(tree.root.texts) != 1:
        return [Result.error(check_, target, "there is not exactly one SPF record; see email.spf.present")]
    if parsed and tree.root.record is None:
        return [Result.error(check_, target, "the SPF record cannot be read; see email.spf.syntax")]
    return tree


@check(id="email.spf.present", severity="high", target="domain")
def spf_present(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Exactly one SPF record at the domain."""
    answer = facts.dns(target.name, "TXT")
    if answer.error is not None:
        return [Result.error(spf_present, target, answer.error)]
    records = [t for t in answer.texts() if is_spf(t)]
    if not records:
        return [
            Result.fail(
                spf_present, target, "No SPF record: anyone can send mail that claims to be from this domain."
            )
        ]
    if len(records) > 1:
        return [
            Result.fail(
                spf_present,
                target,
                f"{len(records)} SPF records: mail servers treat that as an error and ignore them all. Merge them into one.",
                evidence="\n".join(records),
            )
        ]
    return [Result.passed(spf_present, target, "One SPF record.", evidence=records[0])]


@check(id="email.spf.policy", severity="high", target="domain")
def spf_policy(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The record ends in -all (or ~all, a warning), possibly through redirect=."""
    tree = _judgeable(spf_policy, target, facts, parsed=True)
    if not isinstance(tree, SpfTree):
        return tree
    assert tree.root.record is not None
    qualifier, _where = effective_all(tree)
    evidence = tree.root.texts[0]
    if qualifier is None:
        # A redirect= whose target could not be looked up leaves the ending unknown, not missing.
        unknown = next((u for u in tree.unknown if u.lower().startswith("redirect=")), None)
        if unknown is not None:
            return [Result.error(spf_policy, target, unknown)]
        return [
            Result.fail(
                spf_policy,
                target,
                'The SPF record does not end in "-all", so mail from anywhere else is not rejected.',
                evidence=evidence,
            )
        ]
    if qualifier in ("+", "?"):
        return [
            Result.fail(
                spf_policy,
                target,
                f'The SPF record ends in "{qualifier}all": it lets any server send as this domain.',
                evidence=evidence,
            )
        ]
    if qualifier == "~":
        return [
            Result.warn(
                spf_policy,
                target,
                'The SPF record ends in "~all" (soft fail): forged mail is only marked, not refused.',
                evidence=evidence,
            )
        ]
    return [Result.passed(spf_policy, target, 'The SPF record ends in "-all".', evidence=evidence)]


@check(id="email.spf.syntax", severity="medium", target="domain")
def spf_syntax(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Every SPF record in the tree parses, and every include or redirect target has one."""
    tree = _judgeable(spf_syntax, target, facts, parsed=False)
    if not isinstance(tree, SpfTree):
        return tree
    root = tree.root
    if root.parse_error is not None:
        summary = f"The SPF record cannot be read: {root.parse_error}."
        if len(root.strings) > 1 and _parses(" ".join(root.strings)):
            summary = (
                "The SPF record is split into several text strings and joined without a space between them "
                f'("{root.strings[0][-12:]}" + "{root.strings[1][:12]}"), which breaks it: {root.parse_error}.'
            )
        evidence = " | ".join(f'"{s}"' for s in root.strings) if root.strings else root.texts[0]
        return [Result.fail(spf_syntax, target, summary, evidence=evidence)]
    problems = [f"{n.domain}: {n.parse_error}" for n in tree.nodes()[1:] if n.parse_error]
    problems += [f"{n.domain} has {len(n.texts)} SPF records" for n in tree.nodes()[1:] if len(n.texts) > 1]
    problems += tree.missing_records + tree.loops
    if problems:
        return [
            Result.fail(
                spf_syntax,
                target,
                "A record your SPF record includes is broken, so receivers treat your whole SPF record as broken.",
                evidence="\n".join(problems),
            )
        ]
    if tree.unknown:
        return [Result.error(spf_syntax, target, tree.unknown[0])]
    return [
        Result.passed(
            spf_syntax, target, "The SPF record and every record it includes parse.", evidence=root.texts[0]
        )
    ]


def _parses(text: str) -> bool:
    try:
        parse_spf(text)
    except SpfParseError:
        return False
    return True


@check(
    id="email.spf.lookups",
    severity="medium",
    target="domain",
    defaults={"max_lookups": 10, "warn_lookups": 8, "max_voids": 2},
)
def spf_lookups(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """At most 10 DNS-querying terms and 2 void lookups, counted through every include (RFC 7208 4.6.4)."""
    tree = _judgeable(spf_lookups, target, facts, parsed=True)
    if not isinstance(tree, SpfTree):
        return tree
    limit, warn_at, max_voids = limits["max_lookups"], limits["warn_lookups"], limits["max_voids"]
    counted = f"{tree.lookups} DNS lookup{'' if tree.lookups == 1 else 's'}" + (
        " or more" if tree.truncated or tree.unknown else ""
    )
    evidence = "\n".join(
        [counted, *(f"void: {v}" for v in tree.voids), *(f"not followed: {u}" for u in tree.unknown)]
    )
    if tree.lookups > limit or tree.truncated:
        return [
            Result.fail(
                spf_lookups,
                target,
                f"The SPF record needs {counted}; receivers give up after {limit}, so your mail can be rejected.",
                evidence=evidence,
            )
        ]
    if len(tree.voids) > max_voids:
        return [
            Result.fail(
                spf_lookups,
                target,
                f"{len(tree.voids)} names in the SPF record do not exist; receivers give up after {max_voids}.",
                evidence=evidence,
            )
        ]
    if tree.unknown:
        return [Result.error(spf_lookups, target, tree.unknown[0])]
    if tree.lookups >= warn_at:
        return [
            Result.warn(
                spf_lookups,
                target,
                f"The SPF record needs {tree.lookups} of the {limit} DNS lookups allowed: one more provider and it breaks.",
                evidence=evidence,
            )
        ]
    return [
        Result.passed(
            spf_lookups,
            target,
            f"The SPF record needs {tree.lookups} of {limit} DNS lookups.",
            evidence=evidence,
        )
    ]
