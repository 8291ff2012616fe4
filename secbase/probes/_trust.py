"""The certificates a scan trusts: the public roots requests uses (certifi) plus the config's own CA file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import certifi


class TrustBundle:
    """One PEM file of trusted roots for the scan, removed by close()."""

    def __init__(self, ca_file: Path | None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="secbase-ca-")
        text = Path(certifi.where()).read_text(encoding="ascii")
        if ca_file is not None:
            text += "\n" + ca_file.read_text(encoding="ascii")
        self.path = Path(self._dir.name) / "ca.pem"
        self.path.write_text(text, encoding="ascii")

    def close(self) -> None:
        """Remove the file."""
        self._dir.cleanup()
