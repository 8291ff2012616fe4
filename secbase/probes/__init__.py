"""Probes: one module per source of facts. Each fetches a fact per key, once per scan, and never raises."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from secbase.facts import FactKey


class FactSource(Protocol):
    """The scan's facts, as a probe sees them: a probe that needs another fact (an address, say) asks here,
    so that it is gathered once and shared, like any fact a check asks for."""

    async def fact(self, key: FactKey) -> object: ...


class Probe(Protocol):
    """Gathers the facts of some kinds. `fetch` returns a fact for every key, successful or not."""

    kinds: tuple[str, ...]

    async def fetch(self, key: FactKey, facts: FactSource) -> object: ...


@dataclass(frozen=True)
class ProbeFailure:
    """A probe raised instead of returning a fact: a bug of ours, kept as a fact so the scan goes on."""

    reason: str


class Limiter:
    """Bounds network operations: so many in flight for the whole scan, fewer towards one remote server.

    Time-outs then overlap instead of adding up, and no single server gets more than its share.
    """

    def __init__(self, *, total: int, per_server: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_server = per_server
        self._servers: dict[Hashable, asyncio.Semaphore] = {}

    def slot(self, server: Hashable | None) -> _Slot:
        """A place for one operation towards `server`; None counts against the whole-scan bound only."""
        if server is None:
            return _Slot(self._total, None)
        sem = self._servers.get(server)
        if sem is None:
            sem = self._servers[server] = asyncio.Semaphore(self._per_server)
        return _Slot(self._total, sem)


class _Slot:
    def __init__(self, total: asyncio.Semaphore, server: asyncio.Semaphore | None) -> None:
        self._total, self._server = total, server

    async def __aenter__(self) -> None:
        if self._server is not None:
            await self._server.acquire()
        try:
            await self._total.acquire()
        except BaseException:
            if self._server is not None:
                self._server.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._total.release()
        if self._server is not None:
            self._server.release()
