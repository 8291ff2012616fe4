"""dns.caa: does the domain say which certificate authorities may issue certificates for it (RFC 8659)?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check


@check(id="dns.caa", severity="info", target="domain")
def caa(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """A CAA record on the name or on the closest parent that has one (RFC 8659 3: the tree is climbed)."""
    labels = target.name.split(".")
    for i in range(len(labels) - 1):  # the top-level domain's CAA is not the town's choice
        name = ".".join(labels[i:])
        answer = facts.dns(name, "CAA")
        if answer.error is not None:
            return [Result.error(caa, target, answer.error)]
        if answer.records:
            where = "" if name == target.name else f" (inherited from {name})"
            return [
                Result.passed(
                    caa,
                    target,
                    f"CAA names who may issue certificates{where}.",
                    evidence="\n".join(answer.records),
                )
            ]
    return [
        Result.warn(
            caa,
            target,
            "No CAA record: any certificate authority may issue a certificate for this domain.",
        )
    ]
