"""The scan's trust bundle: certifi's roots plus the config's CA file, written only when a probe needs it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import certifi
import pytest

from secbase.probes._trust import TrustBundle


def test_the_bundle_is_written_on_first_use_and_removed_on_close(tmp_path: Path) -> None:
    ca = tmp_path / "town-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nTOWN\n-----END CERTIFICATE-----\n", encoding="ascii")
    bundle = TrustBundle(ca)
    ca.write_text(ca.read_text(encoding="ascii").replace("TOWN", "TOWN2"), encoding="ascii")  # read late
    path = bundle.path
    text = path.read_text(encoding="ascii")
    assert text.startswith(Path(certifi.where()).read_text(encoding="ascii")) and "TOWN2" in text
    assert bundle.path == path  # written once
    bundle.close()
    assert not path.exists() and not path.parent.exists()
    bundle.close()  # twice is fine


def test_a_bundle_never_used_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bundle = TrustBundle(None)
    bundle.close()
    assert list(tmp_path.iterdir()) == []
    assert bundle.path.parent.parent == tmp_path  # where a used one goes
    bundle.close()
