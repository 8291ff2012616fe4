"""email.dkim: does each declared DKIM selector publish a usable, strong key?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check, dns_key
from secbase.parse.dkim import DkimParseError, key_bits, parse_dkim_key


@check(
    id="email.dkim",
    severity="medium",
    target="domain",
    defaults={"min_rsa_bits": 1024, "good_rsa_bits": 2048},
)
def dkim(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """One result per selector the config declares (subject: the selector)."""
    if not target.sends_mail:
        return [Result.not_applicable(dkim, target, "declared as a domain without mail")]
    if not target.dkim_selectors:
        return [
            Result.not_applicable(
                dkim,
                target,
                "No DKIM selectors are declared, and they cannot be discovered. Ask your email provider for "
                "them and add dkim_selectors to the config.",
            )
        ]
    facts.require(*(dns_key(f"{s}._domainkey.{target.name}", "TXT") for s in target.dkim_selectors))
    return [_one(target, sel, facts, limits) for sel in target.dkim_selectors]


def _one(target: Target, selector: str, facts: Facts, limits: Mapping[str, Any]) -> Result:
    name = f"{selector}._domainkey.{target.name}"
    answer = facts.dns(name, "TXT")
    if answer.error is not None:
        return Result.error(dkim, target, answer.error, subject=selector)
    # A key record is a tag list with p= (RFC 6376 3.6.1); other TXT at the name (verification tokens) is not.
    texts = [t for t in answer.texts() if t.lstrip().startswith("v=DKIM1") or "p=" in t.replace(" ", "")]
    if not texts:
        return Result.fail(
            dkim,
            target,
            f"No DKIM key at {name}: mail signed with selector {selector} cannot be verified.",
            subject=selector,
        )
    if len(texts) > 1:
        return Result.fail(
            dkim,
            target,
            f"{len(texts)} DKIM key records at {name}: receivers may pick either; keep one.",
            subject=selector,
            evidence="\n".join(texts),
        )
    text = texts[0]
    try:
        key = parse_dkim_key(text)
        bits = key_bits(key)
    except DkimParseError as exc:
        return Result.fail(
            dkim, target, f"The DKIM key at {name} cannot be read: {exc}.", subject=selector, evidence=text
        )
    if key.is_revoked:
        return Result.fail(
            dkim,
            target,
            f"The DKIM key for selector {selector} is revoked (empty p=).",
            subject=selector,
            evidence=text,
        )
    if key.key_type == "rsa" and bits is not None and bits < limits["min_rsa_bits"]:
        return Result.fail(
            dkim,
            target,
            f"The DKIM key for selector {selector} is only {bits} bits long and can be broken: ask your "
            "email provider for a 2048-bit key.",
            subject=selector,
            evidence=text,
        )
    if key.key_type == "rsa" and bits is not None and bits < limits["good_rsa_bits"]:
        return Result.warn(
            dkim,
            target,
            f"The DKIM key for selector {selector} is RSA {bits} bits; 2048 is the baseline.",
            subject=selector,
            evidence=text,
        )
    if key.is_testing:
        return Result.warn(
            dkim,
            target,
            f"The DKIM key for selector {selector} is in test mode (t=y): receivers may ignore its signatures.",
            subject=selector,
            evidence=text,
        )
    size = f"an {key.key_type.upper()} {bits}-bit key" if bits else f"a {key.key_type} key"
    return Result.passed(
        dkim, target, f"Selector {selector} publishes {size}.", subject=selector, evidence=text
    )
