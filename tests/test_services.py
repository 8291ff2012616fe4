"""Risky services as data: the built-in file matches the catalogue, bad files are one line, third parties add."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from secbase._services import (
    COMMON_PORTS,
    SERVICES_GROUP,
    expand_ports,
    load_services,
    read_services,
    risky_services,
)
from secbase.config import ScanSettings
from secbase.errors import ConfigError
from secbase.model import Severity

# CHECKS.md, net.service.risky: critical and high ports.
CRITICAL_TCP = {
    3389,
    445,
    139,
    23,
    5900,
    5901,
    1433,
    1521,
    3306,
    5432,
    6379,
    9200,
    27017,
    11211,
    502,
    102,
    20000,
}
HIGH_TCP = {21, 22, 8080, 8443, 10000}
UDP = {69, 161, 1434, 47808, 137, 138}  # BASELINES.md 6: a connect scan cannot see them

ENTRY = """
  - port: {port}
    protocol: tcp
    service: {service}
    name: A water-plant console
    severity: critical
    why: It runs the pumps and has no login at all.
    fix: Take it off the internet; vendor access through a VPN only.
    flagged_by: [mytown]
"""


def test_the_built_in_file_lists_the_catalogue_s_services() -> None:
    services = risky_services()
    assert services.warnings == ()
    tcp = {s.port: s for s in services.tcp()}
    assert {p for p, s in tcp.items() if s.severity is Severity.CRITICAL} == CRITICAL_TCP
    assert {p for p, s in tcp.items() if s.severity is Severity.HIGH} >= HIGH_TCP
    assert {s.port for s in services.udp()} == UDP
    assert {s.port for s in services.udp() if s.severity is Severity.CRITICAL} >= {47808}
    assert [s.port for s in services.services if s.silenced_by_expected_ports] == [22]
    assert tcp[3389].subject == "3389/rdp"


def test_the_default_ports_are_the_risky_tcp_ports_and_the_common_ones() -> None:
    services = risky_services()
    default = set(services.default_ports())
    assert default == {s.port for s in services.tcp()} | set(COMMON_PORTS)
    assert {80, 443, 25, 587, 465, 993, 995, 8080, 8443} <= default
    assert not UDP & default - {s.port for s in services.tcp()}


def test_the_config_s_scan_ports_widen_the_default() -> None:
    settings = ScanSettings(ports=[8081, "9000-9002"])
    assert settings.ports is not None
    assert expand_ports(settings.ports) == (8081, 9000, 9001, 9002)
    wide = risky_services().scan_ports(settings.ports)
    assert set(wide) == set(risky_services().default_ports()) | {8081, 9000, 9001, 9002}


@pytest.mark.parametrize("bad", ["0", "1-70000", "9-3", "x", True])
def test_expand_ports_refuses_what_is_not_a_port(bad: object) -> None:
    with pytest.raises(ValueError):
        expand_ports([bad])  # type: ignore[list-item]


GOOD = ENTRY.format(port=1911, service="scada")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "services:" + GOOD.replace("critical", "medium"),
            'services[0] (port 1911).severity: must be "critical"',
        ),
        ("services:" + GOOD.replace("protocol: tcp", "protocol: sctp"), "services[0] (port 1911).protocol"),
        ("services:" + GOOD.replace("    fix:", "    fixx:"), 'fixx: unknown key; did you mean "fix"?'),
        ("services:" + GOOD.replace("port: 1911", "port: 70000"), "services[0] (port 70000).port"),
        ("services:" + GOOD.replace("service: scada", "service: SCADA box"), "lower-case name"),
        ("services:" + GOOD + "    silenced_by_expected_ports: true\n", "cannot be silenced"),
        ("services:" + GOOD + GOOD, "1911/tcp is listed twice"),
        (
            "services:" + GOOD.replace("    why: It runs the pumps and has no login at all.\n", ""),
            "why: required",
        ),
        ("services: []", "services: List should have at least 1 item"),
        ("- port: 1", 'expected "services:"'),
        ("services:\n  - port: [", "not valid YAML"),
        ("services: [3]", "services[0]: must be a mapping"),
    ],
)
def test_a_bad_services_file_is_one_line_naming_the_file_and_the_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        read_services(text, "mytown.yml")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("mytown.yml: ")
    assert where in message


def test_an_extra_file_adds_a_service_and_cannot_take_over_a_built_in_port(tmp_path: Path) -> None:
    extra = tmp_path / "water.yml"
    extra.write_text(
        "services:" + ENTRY.format(port=1911, service="scada") + ENTRY.format(port=3389, service="x")
    )
    services = load_services([extra])
    added = next(s for s in services.tcp() if s.port == 1911)
    assert added.subject == "1911/scada" and added.severity is Severity.CRITICAL
    assert 1911 in services.default_ports()
    assert next(s for s in services.tcp() if s.port == 3389).service == "rdp"  # the built-in wins, loudly
    assert any("3389/tcp (x) ignored" in w for w in services.warnings)


def test_a_bad_extra_file_stops_the_load_with_its_name(tmp_path: Path) -> None:
    extra = tmp_path / "water.yml"
    extra.write_text("services:" + ENTRY.format(port=1911, service="scada").replace("critical", "low"))
    with pytest.raises(ConfigError, match=r"water\.yml: services\[0\] \(port 1911\)\.severity"):
        load_services([extra])


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed package that ships a services file through the secbase.services entry point."""
    pkg = tmp_path / "mytown_services"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Mytown\'s risky services."""\n')
    (pkg / "water.yml").write_text("services:" + ENTRY.format(port=1911, service="scada"))
    info = tmp_path / "mytown_services-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mytown-services\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{SERVICES_GROUP}]\nmytown = mytown_services\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    sys.modules.pop("mytown_services", None)


def test_a_third_party_package_adds_a_service(third_party: Path) -> None:
    services = load_services()
    added = next(s for s in services.tcp() if s.port == 1911)
    assert added.service == "scada"
    assert services.warnings == ()


def test_a_third_party_package_with_a_bad_file_is_one_line_naming_it(third_party: Path) -> None:
    (third_party / "broken.yml").write_text(
        "services:" + ENTRY.format(port=1912, service="x").replace("tcp", "ip")
    )
    with pytest.raises(ConfigError) as err:
        load_services()
    message = str(err.value)
    assert "\n" not in message
    assert "mytown-services:mytown_services/broken.yml: services[0] (port 1912).protocol" in message
