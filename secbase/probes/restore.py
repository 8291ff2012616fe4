"""Restore tests: the records people keep in the store (`secbase backup restored`), handed to the scan as facts.

Nothing is asked over the network: whoever starts the scan reads the records first (the CLI from its store)
and gives them here as a RestoreBook. A book that could not be read carries the reason, and every
backup.restore_tested result then says "could not check" with it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from secbase.facts import FactKey, RestoreAnswer, RestoreTest
from secbase.probes import FactSource

NOT_READ = "no recorded restore tests were read for this scan (they are kept in the store)"


@dataclass(frozen=True)
class RestoreBook:
    """Every restore test recorded, or why they could not be read."""

    tests: tuple[RestoreTest, ...] = ()
    unavailable: str = ""  # set: the records could not be read, and nothing is known

    @classmethod
    def unread(cls, reason: str = NOT_READ) -> RestoreBook:
        return cls(unavailable=reason)


class RestoreProbe:
    """Answers restore_key(organisation, source) from a RestoreBook."""

    kinds: tuple[str, ...] = ("restore",)

    def __init__(self, book: RestoreBook | None = None) -> None:
        self._book = book or RestoreBook.unread()
        self._by_source: dict[tuple[str, str], list[RestoreTest]] = defaultdict(list)
        for test in sorted(self._book.tests, key=lambda t: (t.tested_on, t.recorded_at)):
            self._by_source[(test.organisation, test.source)].append(test)

    async def fetch(self, key: FactKey, facts: FactSource) -> RestoreAnswer:
        if self._book.unavailable:
            return RestoreAnswer(reason=self._book.unavailable)
        organisation, source = key.args
        return RestoreAnswer(tests=tuple(self._by_source.get((organisation, source), ())))
