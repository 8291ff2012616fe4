"""The certificates a scan trusts: the public roots requests uses (certifi) plus the config's own CA file."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import certifi


class TrustBundle:
    """One PEM file of trusted roots for the scan, written on first use (a scan of ports or backups only
    never needs one) and removed by close()."""

    def __init__(self, ca_file: Path | None) -> None:
        self._ca_file = ca_file
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._path: Path | None = None
        self._lock = threading.Lock()  # probes ask from their worker threads

    @property
    def path(self) -> Path:
        """The PEM file, written the first time it is asked for."""
        with self._lock:
            if self._path is None:
                text = Path(certifi.where()).read_text(encoding="ascii")
                if self._ca_file is not None:
                    text += "\n" + self._ca_file.read_text(encoding="ascii")
                self._dir = tempfile.TemporaryDirectory(prefix="secbase-ca-")
                self._path = Path(self._dir.name) / "ca.pem"
                self._path.write_text(text, encoding="ascii")
            return self._path

    def close(self) -> None:
        """Remove the file, if it was written."""
        with self._lock:
            if self._dir is not None:
                self._dir.cleanup()
            self._dir = self._path = None
