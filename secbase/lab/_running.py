"""What every lab server shares: started on entering a `with` block, stopped on leaving it."""

from __future__ import annotations

from typing import Self


class Running:
    """start() on entering a `with` block; stop() on leaving it, also on an error or Ctrl-C."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
