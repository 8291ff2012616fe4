"""The lab's exposed services: listeners on 127.57.50.0/24, and the towns' hosts scanned by nmap in the lab."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from secbase.cli import cli
from secbase.config import LoadedConfig, load_config
from secbase.errors import LabError
from secbase.lab import Lab
from secbase.lab.ports import BANNERS, LabPortListeners
from secbase.lab.towns import TOWNS, config_yaml, port_endpoints

HOST = "127.57.50.1"
OTHER = "127.57.50.2"
OPEN = (22, 3389, 8443)


def _connect(address: str, port: int) -> bytes:
    """Connect, read what the service says first (until it closes), and return it."""
    with socket.create_connection((address, port), timeout=5) as sock:
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture(scope="module")
def listeners() -> Iterator[LabPortListeners]:
    with LabPortListeners([(HOST, p) for p in OPEN]) as running:
        yield running


@pytest.mark.parametrize("port", OPEN)
def test_a_listener_accepts_and_closes_at_once(listeners: LabPortListeners, port: int) -> None:
    before = listeners.accepted[(HOST, port)]
    said = _connect(HOST, port)
    assert said == BANNERS.get(port, b"")
    assert listeners.accepted[(HOST, port)] == before + 1


def test_ssh_says_its_banner_like_a_real_server(listeners: LabPortListeners) -> None:
    assert _connect(HOST, 22).startswith(b"SSH-2.0-OpenSSH_")


@pytest.mark.parametrize(("address", "port"), [(HOST, 23), (HOST, 445), (OTHER, 22)])
def test_a_port_nobody_listens_on_is_refused(listeners: LabPortListeners, address: str, port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        _connect(address, port)


def test_a_busy_endpoint_is_a_lab_error_naming_it_and_nothing_is_left_bound(
    listeners: LabPortListeners,
) -> None:
    clash = LabPortListeners([(OTHER, 443), (HOST, 3389)])
    with pytest.raises(LabError, match=r"127\.57\.50\.1:3389"):
        clash.start()
    # The listener bound before the clash was closed again: the address can be bound at once.
    with LabPortListeners([(OTHER, 443)]):
        assert _connect(OTHER, 443) == b""
    clash.stop()  # safe after a failed start


def test_stop_closes_every_listener_and_is_safe_twice() -> None:
    ports = LabPortListeners([(OTHER, 3306), (OTHER, 5432)])
    ports.stop()  # before start: nothing to do
    ports.start()
    assert _connect(OTHER, 5432) == b""
    ports.stop()
    ports.stop()
    with pytest.raises(ConnectionRefusedError):
        _connect(OTHER, 5432)


def test_the_lab_config_declares_each_towns_hosts_and_expected_ports(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "lab-root-ca.pem").write_text("")
    (tmp_path / "lab.yml").write_text(config_yaml(net=57), encoding="utf-8")
    orgs = {o.id: o for o in load_config(tmp_path / "lab.yml").config.organisations}
    assert orgs["alder"].hosts == ["gw.alder.test", "127.57.50.2"]
    assert orgs["alder"].expected_ports == {"gw.alder.test": [443], "127.57.50.2": [22]}
    assert orgs["dogwood"].hosts == ["townhall.dogwood.county.test", "127.57.50.11"]
    assert orgs["dogwood"].expected_ports == {
        "townhall.dogwood.county.test": [443, 3389],
        "127.57.50.11": [8443],
    }
    assert orgs["elm"].hosts == ["gw.elm.test"]
    assert orgs["birch"].hosts == orgs["cedar"].hosts == []


def test_the_lab_listens_on_every_open_port_of_every_town_host() -> None:
    endpoints = port_endpoints(net=57)
    assert len(endpoints) == len(set(endpoints))
    assert all(address.startswith("127.57.50.") for address, _ in endpoints)
    for town in TOWNS:
        for host in town.hosts:
            assert {(host.address(57), p) for p in host.open_ports} <= set(endpoints)


# -- the towns' hosts, scanned by nmap through the CLI -----------------------------------------------------

needs_nmap = pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap is not installed")
Key = tuple[str, str, str, str]  # organisation, target, check, subject


@pytest.fixture(scope="module")
def net_scan(lab: Lab, lab_config: LoadedConfig) -> tuple[int, dict[Key, dict[str, str]], dict[str, int]]:
    """`secbase scan lab.yml --checks 'net.*'`: exit code, results by key, and connections per listener."""
    assert lab.ports is not None
    before = lab.ports.accepted
    result = CliRunner().invoke(
        cli,
        ["scan", str(lab_config.path), "--checks", "net.*", "--no-store", "--json", "-"],
        catch_exceptions=False,
        prog_name="secbase",
    )
    after = lab.ports.accepted
    results = {
        (r["organisation"], r["target"], r["check"], r["subject"]): r
        for r in json.loads(result.stdout)["results"]
    }
    connected = {f"{a}:{p}": after[(a, p)] - before[(a, p)] for a, p in port_endpoints(net=lab.net)}
    return result.exit_code, results, connected


def _statuses(results: dict[Key, dict[str, str]], org: str, target: str, check: str) -> dict[str, str]:
    return {k[3]: r["status"] for k, r in results.items() if k[:3] == (org, target, check)}


def _not_passed(results: dict[Key, dict[str, str]], org: str, target: str, check: str) -> dict[str, str]:
    return {s: st for s, st in _statuses(results, org, target, check).items() if st != "pass"}


@pytest.mark.slow
@needs_nmap
def test_the_net_scan_of_the_lab_finds_what_was_planted(
    net_scan: tuple[int, dict[Key, dict[str, str]], dict[str, int]], lab: Lab
) -> None:
    code, results, _ = net_scan
    assert code == 1  # something failed
    admin = f"127.{lab.net}.50.11"
    ssh_host = f"127.{lab.net}.50.2"
    # Alder: 443 and SSH answer where declared, nothing else; only UDP stays untested.
    for host in ("gw.alder.test", ssh_host):
        assert _not_passed(results, "alder", host, "net.service.risky") == {"udp": "error"}
        assert _not_passed(results, "alder", host, "net.service.unexpected") == {}
    assert _statuses(results, "alder", ssh_host, "net.service.risky")["22/ssh"] == "pass"
    assert _statuses(results, "alder", "gw.alder.test", "net.service.unexpected")["443/tcp"] == "pass"
    # Dogwood's town hall: four critical services, RDP among them although it is listed as expected.
    townhall = "townhall.dogwood.county.test"
    assert _not_passed(results, "dogwood", townhall, "net.service.risky") == {
        "23/telnet": "fail",
        "445/smb": "fail",
        "3389/rdp": "fail",
        "5432/postgresql": "fail",
        "udp": "error",
    }
    for subject in ("23/telnet", "445/smb", "3389/rdp", "5432/postgresql"):
        assert results[("dogwood", townhall, "net.service.risky", subject)]["severity"] == "critical"
    assert "expected_ports" in results[("dogwood", townhall, "net.service.risky", "3389/rdp")]["summary"]
    # The risky ones are net.service.risky's alone (one problem, one finding); 993 is not risky, not listed.
    assert _not_passed(results, "dogwood", townhall, "net.service.unexpected") == {"993/tcp": "warn"}
    # Dogwood's admin host, declared by its address: SSH not listed, an admin panel listed but still risky.
    assert _not_passed(results, "dogwood", admin, "net.service.risky") == {
        "22/ssh": "fail",
        "8443/web-admin": "fail",
        "udp": "error",
    }
    for subject in ("22/ssh", "8443/web-admin"):
        assert results[("dogwood", admin, "net.service.risky", subject)]["severity"] == "high"
    assert _not_passed(results, "dogwood", admin, "net.service.unexpected") == {}  # both are risky ones
    # Elm's host does not resolve: could not check, nothing else.
    elm = {k: r for k, r in results.items() if k[0] == "elm"}
    assert {k[1:] for k in elm} == {
        ("gw.elm.test", "net.service.risky", ""),
        ("gw.elm.test", "net.service.unexpected", ""),
    }
    for r in elm.values():
        assert r["status"] == "error" and r["summary"].startswith("Could not check: ")
        assert "SERVFAIL" in r["summary"]
    # Birch and Cedar declare no hosts.
    assert not {k for k in results if k[0] in ("birch", "cedar")}


@pytest.mark.slow
@needs_nmap
def test_the_net_scan_reaches_declared_hosts_only(
    net_scan: tuple[int, dict[Key, dict[str, str]], dict[str, int]], lab: Lab
) -> None:
    _, _, connected = net_scan
    elm = f"127.{lab.net}.50.30"
    # Every open port of a host that could be scanned was connected to; Elm's, whose name does not
    # resolve, never were, although they answer.
    assert {e: n for e, n in connected.items() if e.startswith(elm + ":")} == {
        f"{elm}:443": 0,
        f"{elm}:3389": 0,
    }
    assert all(n >= 1 for e, n in connected.items() if not e.startswith(elm + ":"))
