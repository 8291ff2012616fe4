"""Test set-up: only loopback traffic, and the lab of fake towns started once per run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from secbase.config import LoadedConfig, load_config
from secbase.lab import Lab
from secbase.plugins import CheckRegistry, load_checks
from tests.netguard import socket_allow_loopback_only


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    with socket_allow_loopback_only():
        yield


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The lab's DNS server with every fake town, and the config that scans them."""
    with Lab(tmp_path_factory.mktemp("lab"), now=datetime.now(UTC), timeout_s=2.0) as running:
        yield running


@pytest.fixture(scope="session")
def lab_config(lab: Lab) -> LoadedConfig:
    return load_config(lab.config_path)


@pytest.fixture(scope="session")
def registry() -> CheckRegistry:
    return load_checks()


@pytest.fixture
def examples() -> Path:
    return Path(__file__).resolve().parents[1] / "examples"
