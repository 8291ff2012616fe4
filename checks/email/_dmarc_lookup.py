"""Find the DMARC record that applies to a domain: its own, or its organisational domain's (RFC 7489 6.6.3)."""

from __future__ import annotations

from dataclasses import dataclass

from secbase import Facts
from secbase.parse.dmarc import DmarcParseError, DmarcRecord, looks_like_dmarc, parse_dmarc

from .._dns_names import organisational_domain


@dataclass(frozen=True)
class DmarcFound:
    """The DMARC record(s) that apply, where they were found, and whether they parse."""

    domain: str  # where the records are: the domain itself or its organisational domain
    texts: tuple[str, ...]
    record: DmarcRecord | None
    parse_error: str | None
    inherited: bool  # found at the organisational domain, so sp= (or p=) applies to this one
    error: str | None = None  # could not look: the lookup's reason

    @property
    def policy(self) -> str | None:
        """The policy that applies to the checked domain."""
        if self.record is None:
            return None
        if self.inherited and self.record.sp is not None:
            return self.record.sp
        return self.record.p


def find_dmarc(domain: str, facts: Facts) -> DmarcFound:
    """The DMARC record(s) that apply to the domain (found once per scan, shared by the DMARC checks)."""
    return facts.derive(("dmarc", domain), lambda: _find_dmarc(domain, facts))


def _find_dmarc(domain: str, facts: Facts) -> DmarcFound:
    org = organisational_domain(domain)
    names = [domain] if org == domain else [domain, org]
    for name in names:
        answer = facts.dns(f"_dmarc.{name}", "TXT")
        if answer.error is not None:
            return DmarcFound(name, (), None, None, inherited=name != domain, error=answer.error)
        texts = tuple(t for t in answer.texts() if looks_like_dmarc(t))
        if not texts:
            continue
        record, problem = None, None
        if len(texts) == 1:
            try:
                record = parse_dmarc(texts[0])
            except DmarcParseError as exc:
                problem = str(exc)
        return DmarcFound(name, texts, record, problem, inherited=name != domain)
    return DmarcFound(domain, (), None, None, inherited=False)
