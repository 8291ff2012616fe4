"""backup.encrypted: could someone who gets the backup files read them? Words: encrypted.yml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import BORG_PLAIN_MODES, Facts, Result, Target, check

from ._source import look, reason


@check(id="backup.encrypted", severity="high", target="backup", facts=("backup",))
def encrypted(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The repository encrypts what it stores: restic always does; borg unless its mode is none."""
    spec, answer = look(target, facts)
    if answer.error:
        return [Result.error(encrypted, target, reason(answer))]
    if spec.kind == "folder":
        # A folder holds whatever files a dump script writes: nothing here can tell whether they are
        # encrypted, and an `error` every scan would be noise nobody can act on.
        why = (
            "A folder of dumps cannot say whether its files are encrypted; encrypt the dumps themselves "
            "(or back the folder up with restic or borg) and check by hand."
        )
        return [Result.not_applicable(encrypted, target, why)]
    mode = answer.encryption
    if spec.kind == "restic":  # restic has no unencrypted repositories
        return [Result.passed(encrypted, target, "The restic repository is encrypted.", evidence=mode)]
    if mode.lower() in BORG_PLAIN_MODES or answer.encrypted is False:
        summary = f'The borg repository is not encrypted (mode "{mode or "none"}"): anyone with its files can read them.'
        return [Result.fail(encrypted, target, summary, evidence=f"encryption mode: {mode}")]
    if answer.encrypted is None or not mode:
        return [Result.error(encrypted, target, "borg did not say the repository's encryption mode")]
    summary = f'The borg repository is encrypted (mode "{mode}").'
    return [Result.passed(encrypted, target, summary, evidence=f"encryption mode: {mode}")]
