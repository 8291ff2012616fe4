"""Follow a domain's SPF record through include and redirect, from facts: the tree the SPF checks judge."""

from __future__ import annotations

from dataclasses import dataclass, field

from secbase import DnsAnswer, FactKey, Facts, dns_key
from secbase.parse.spf import SpfParseError, SpfRecord, SpfTerm, expand_domain_spec, is_spf, parse_spf

MAX_NODES = 40  # past this many records the count is far over 10 anyway; stop asking


@dataclass
class SpfNode:
    """One SPF record in the tree: where it was found and what its lookups returned."""

    domain: str
    answer: DnsAnswer
    texts: list[str]  # the SPF records at this name (more than one is an error)
    record: SpfRecord | None = None
    parse_error: str | None = None
    strings: tuple[str, ...] = ()  # how the record was split into TXT strings
    children: list[tuple[SpfTerm, SpfNode | None]] = field(default_factory=list)


@dataclass
class SpfTree:
    """A walked SPF tree with the counts RFC 7208 4.6.4 limits."""

    root: SpfNode
    lookups: int = 0  # DNS-querying terms, all records together
    voids: list[str] = field(default_factory=list)  # terms whose lookup found nothing
    unknown: list[str] = field(default_factory=list)  # terms whose lookup could not be done: reasons
    loops: list[str] = field(default_factory=list)
    missing_records: list[str] = field(default_factory=list)  # include/redirect targets with no SPF
    truncated: bool = False

    def nodes(self) -> list[SpfNode]:
        out, todo = [], [self.root]
        while todo:
            node = todo.pop(0)
            out.append(node)
            todo.extend(child for _, child in node.children if child is not None)
        return out


def _term_keys(term: SpfTerm, target: str) -> list[FactKey]:
    if term.name in ("include",) or (term.kind == "modifier" and term.name == "redirect"):
        return [dns_key(target, "TXT")]
    if term.name == "a":
        return [dns_key(target, "A"), dns_key(target, "AAAA")]
    if term.name == "mx":
        return [dns_key(target, "MX")]
    if term.name == "exists":
        return [dns_key(target, "A")]
    return []  # ptr needs the sender's address: counted, never asked


def _node(domain: str, facts: Facts) -> SpfNode:
    answer = facts.dns(domain, "TXT")
    texts = [t for t in answer.texts() if is_spf(t)]
    node = SpfNode(domain=domain, answer=answer, texts=texts)
    if answer.error is None and len(texts) == 1:
        for strings in answer.strings():
            if is_spf("".join(strings)):
                node.strings = strings
        try:
            node.record = parse_spf(texts[0])
        except SpfParseError as exc:
            node.parse_error = str(exc)
    return node


def walk_spf(domain: str, facts: Facts) -> SpfTree:
    """Walk the tree breadth first, asking for one level's lookups at a time (NeedFacts between levels)."""
    tree = SpfTree(root=_node(domain, facts))
    level: list[tuple[SpfNode, tuple[str, ...]]] = [(tree.root, (domain,))]
    count = 1
    while level:
        keys: list[FactKey] = []
        plans: list[tuple[SpfNode, tuple[str, ...], SpfTerm, str | None]] = []
        for node, path in level:
            if node.record is None:
                continue
            for term in node.record.lookup_terms:
                tree.lookups += 1
                spec = term.domain_spec or node.domain
                target = expand_domain_spec(spec, node.domain) if term.domain_spec else node.domain
                if target is not None:
                    target = target.rstrip(".").lower()
                    keys += _term_keys(term, target)
                plans.append((node, path, term, target))
        facts.require(*keys)
        next_level: list[tuple[SpfNode, tuple[str, ...]]] = []
        for node, path, term, target in plans:
            child = _judge_term(tree, node, path, term, target, facts)
            node.children.append((term, child))
            if child is not None:
                if count >= MAX_NODES:
                    tree.truncated = True
                    continue
                count += 1
                next_level.append((child, (*path, child.domain)))
        level = next_level
    return tree


def _judge_term(
    tree: SpfTree, node: SpfNode, path: tuple[str, ...], term: SpfTerm, target: str | None, facts: Facts
) -> SpfNode | None:
    label = f"{term.text} (in the record of {node.domain})"
    if target is None:
        # a, mx and exists with sender macros are one lookup each, counted already; only an include or
        # redirect leads to records we cannot know.
        if term.name in ("include", "redirect"):
            tree.unknown.append(f"{label} depends on the sender, so it was not followed")
        return None
    answers = [facts.get(k, DnsAnswer) for k in _term_keys(term, target)]
    if not answers:
        return None
    failed = [a.error for a in answers if a.error is not None]
    if term.name == "a" and any(a.error is None and not a.is_empty for a in answers):
        return None  # one address family answered: not void
    if failed:
        tree.unknown.append(f"{label}: {failed[0]}")
        return None
    if all(a.is_empty for a in answers):
        tree.voids.append(label)
    if term.name not in ("include", "redirect"):
        return None
    if target in path:
        tree.loops.append(f"{label} leads back to {target}")
        return None
    child = _node(target, facts)
    if not child.texts:
        tree.missing_records.append(f"{label}: {target} has no SPF record")
        return None
    return child


def effective_all(tree: SpfTree) -> tuple[str | None, str]:
    """The qualifier of the record's final "all", following redirect=, and the domain it came from."""
    node: SpfNode | None = tree.root
    seen = set()
    while node is not None and node.record is not None and node.domain not in seen:
        seen.add(node.domain)
        if node.record.all_qualifier is not None:
            return node.record.all_qualifier, node.domain
        redirect = next((child for term, child in node.children if term.name == "redirect"), None)
        if node.record.redirect is None:
            return None, node.domain
        node = redirect
    return None, tree.root.domain
