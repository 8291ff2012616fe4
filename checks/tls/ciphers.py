"""tls.ciphers.weak: do the endpoints accept cipher suites that are broken, or merely dated?"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from secbase import Facts, Result, Status, Target, check
from secbase.facts import TlsAnswer

from .._text import clean
from ._endpoints import REASON_CHARS, Verdict, judge_all, some

SUITE_CHARS = 80
SHOWN_SUITES = 3

# Broken by design or by attack: no encryption, 1990s export grade, no server authentication, RC4
# (RFC 7465), DES and 3DES (64-bit blocks, Sweet32). Checked in this order; the first names the suite.
WEAK = (
    ("NULL", "no encryption at all"),
    ("EXPORT", "deliberately weakened 1990s export encryption"),
    ("ANON", "no certificate, so anyone can pose as the server"),
    ("RC4", "the broken RC4 cipher"),
    ("3DES", "the outdated 3DES cipher"),
    ("DES", "the broken DES cipher"),
)
_AEAD = frozenset({"GCM", "CCM", "POLY1305"})  # encryption and integrity in one (RFC 9325 4.2)
_INTEGRITY_ONLY = re.compile(r"^TLS_SHA\d+_SHA\d+$")  # TLS_SHA256_SHA256, TLS_SHA384_SHA384
_FORWARD_SECRET = frozenset({"ECDHE", "DHE"})  # a fresh key per connection: old traffic stays safe


class Grade(StrEnum):
    """How a cipher suite stands against the baseline."""

    GOOD = "good"  # forward-secret key exchange and AEAD encryption (every TLS 1.3 suite)
    DATED = "dated"  # CBC mode or no forward secrecy: works, below the baseline's recommendation
    WEAK = "weak"  # broken: fails the check


@dataclass(frozen=True)
class Rating:
    grade: Grade
    reasons: tuple[str, ...] = ()  # what is wrong, in plain words for a summary; none for a good suite


def _tokens(text: str) -> set[str]:
    """The words of a suite name, with the variants folded: EXPORT1024 and EXPORT40 are EXPORT, DES40 is
    DES, SSL 2.0's DES_192_EDE3 (and OpenSSL's DES-CBC3) is 3DES, and "anon" in any case is ANON."""
    out = set()
    for raw in re.split(r"[_\-\s]+", text.upper()):
        if raw.startswith("EXPORT"):
            out.add("EXPORT")
        elif raw in ("DES40", "DES"):
            out.add("DES")
        elif raw in ("3DES", "EDE3", "EDE", "CBC3"):
            out.add("3DES")
        else:
            out.add(raw)
    return out


def rate_suite(name: str) -> Rating:
    """Grade a cipher suite by its IANA name (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256),
    or by OpenSSL's SSL 2.0 names (SSL_CK_RC4_128_WITH_MD5). Any text gives a rating: an unknown name is
    never good."""
    upper = name.upper()
    if upper.endswith("_SCSV"):  # a signal (RFC 7507, RFC 5746), not a suite: nothing to judge
        return Rating(Grade.GOOD)
    every = _tokens(upper)
    for token, why in WEAK:
        if token in every:
            return Rating(Grade.WEAK, (why,))
    if _INTEGRITY_ONLY.match(upper):  # RFC 9150: TLS 1.3 with integrity only, no encryption
        return Rating(Grade.WEAK, (WEAK[0][1],))
    reasons = []
    if "CBC" in every:
        reasons.append("CBC mode, an older way of encrypting open to padding attacks")
    elif not every & _AEAD:
        reasons.append("no built-in integrity protection")
    # Names without _WITH_ are TLS 1.3's (cipher and hash only): its key exchange is always (EC)DHE.
    exchange, sep, _cipher = upper.partition("_WITH_")
    if sep and not _tokens(exchange) & _FORWARD_SECRET:
        reasons.append("no forward secrecy, so a stolen server key would unlock recorded traffic")
    if reasons:
        return Rating(Grade.DATED, tuple(reasons))
    return Rating(Grade.GOOD)


def _accepted(answer: TlsAnswer, grade: Grade) -> list[str]:
    return list(dict.fromkeys(s.name for s in answer.suites if rate_suite(s.name).grade is grade))


def _reasons(names: list[str]) -> str:
    return "; ".join(dict.fromkeys(why for name in names for why in rate_suite(name).reasons))


def _verdict(answer: TlsAnswer) -> Verdict:
    weak = _accepted(answer, Grade.WEAK)
    if weak:  # seen is seen, even if the tests did not finish
        return (
            Status.FAIL,
            f"The server accepts broken encryption: {some(weak, SHOWN_SUITES, SUITE_CHARS)} "
            f"({_reasons(weak)}).",
        )
    if answer.suites_error:
        return (
            Status.ERROR,
            f"the cipher suite tests did not finish: {clean(answer.suites_error, REASON_CHARS)}",
        )
    if not answer.suites:
        return Status.ERROR, "no accepted cipher suite was recorded"
    dated = _accepted(answer, Grade.DATED)
    if dated:
        which = (
            "Besides modern encryption, the server" if _accepted(answer, Grade.GOOD) else "The server only"
        )
        return (
            Status.WARN,
            f"{which} accepts dated encryption: {some(dated, SHOWN_SUITES, SUITE_CHARS)} ({_reasons(dated)}).",
        )
    how = "every suite was tried" if answer.full_enumeration else "the usual weak suites were tried"
    return Status.PASS, f"The server accepts only modern encryption ({how})."


def _line(answer: TlsAnswer) -> str:
    counts = {grade: len(_accepted(answer, grade)) for grade in Grade}
    text = ", ".join(f"{n} {grade}" for grade, n in counts.items() if n) or "no suites"
    parts = [f"accepted: {text}"]
    weak = _accepted(answer, Grade.WEAK) + _accepted(answer, Grade.DATED)
    if weak:
        parts.append(some(weak, 6, SUITE_CHARS))
    if answer.suites_error:
        parts.append(f"tests did not finish: {clean(answer.suites_error, REASON_CHARS)}")
    return "; ".join(parts)


@check(id="tls.ciphers.weak", severity="high", target=("website", "domain"), facts=("dns", "smtp", "tls"))
def ciphers_weak(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """No endpoint accepts a broken cipher suite, and none a dated one (RFC 9325 4.2, RFC 7465)."""
    return judge_all(ciphers_weak, target, facts, _verdict, _line)
