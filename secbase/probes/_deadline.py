"""A time budget that ends stalled reads: shared by the probes that talk to servers in worker threads."""

from __future__ import annotations

import socket
import threading
import time


class Deadline:
    """A time budget for one piece of network work (an HTTP hop, an SMTP conversation, a TLS endpoint).
    When it runs out, the sockets it watches are shut down, which ends whatever read is waiting: a server
    trickling its answer a byte at a time never lets a read time-out fire."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._passed = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def passed(self) -> bool:
        return self._passed or time.monotonic() >= self._at

    def remaining(self) -> float:
        return max(0.0, self._at - time.monotonic())

    def watch(self, sock: socket.socket) -> socket.socket:
        """End `sock`'s connection when the budget runs out. A duplicate is kept, not the socket itself:
        TLS takes the original over (detaching it), and the duplicate still reaches the connection."""
        dup = sock.dup()
        with self._lock:
            self._watched.append(dup)
            expired = self._passed
        if expired:
            _shut(dup)
        return dup

    def release(self, dup: socket.socket) -> None:
        """Stop watching a connection that is over (`dup` is what watch returned) and close the duplicate,
        so that the connection really ends when its owner closes it."""
        with self._lock:
            if dup in self._watched:
                self._watched.remove(dup)
        dup.close()

    def _expire(self) -> None:
        with self._lock:
            self._passed = True
            watched = list(self._watched)
        for dup in watched:
            _shut(dup)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            watched, self._watched = self._watched, []
        for dup in watched:
            dup.close()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return  # already closed by the other end or by the request itself: nothing left to end
