"""The lab: fake municipalities on real loopback servers, for `secbase demo`, `secbase lab up` and the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from secbase.errors import LabError
from secbase.facts import RestoreTest
from secbase.lab._running import Running
from secbase.lab.backups import LabBackups, build_backups, restore_tests
from secbase.lab.dns import LabDnsServer
from secbase.lab.mail import LabMailServer
from secbase.lab.pki import LabPki
from secbase.lab.ports import LabPortListeners
from secbase.lab.sites import build_mail_servers, build_sites
from secbase.lab.towns import LAB_NET, TOWNS, Town, build_dns, config_yaml, port_endpoints
from secbase.lab.web import LabWebServer

__all__ = ["TOWNS", "Lab", "Town"]


class Lab(Running):
    """Start every lab server, write the config that scans them, and stop them all again.

    Example:
        with Lab(Path("/tmp/lab")) as lab:
            run_scan(load_config(lab.config_path).config, load_checks().select())
    """

    def __init__(
        self, workdir: Path, *, now: datetime | None = None, timeout_s: float = 2.0, net: int = LAB_NET
    ) -> None:
        if not 1 <= net <= 254:
            raise LabError(f"the lab network 127.{net}.x.x is not usable; pick a number from 1 to 254")
        self.net = net
        self.workdir = workdir
        self.now = now or datetime.now(UTC)
        self.timeout_s = timeout_s
        self.dns: LabDnsServer | None = None
        self.web: LabWebServer | None = None
        self.mail: list[LabMailServer] = []
        self.ports: LabPortListeners | None = None
        self.backups: LabBackups | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "lab.yml"

    @property
    def restore_tests(self) -> tuple[RestoreTest, ...]:
        """The restore tests the lab's towns recorded, for the store or for run_scan (backup.restore_tested)."""
        return restore_tests(self.now)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = build_dns(self.now, net=self.net)
        self.dns = LabDnsServer(
            data.zone_text, addresses=data.addresses, drop=data.drop, servfail=data.servfail
        )
        try:
            self.dns.start()
        except PermissionError as exc:
            self.dns = None
            raise LabError(
                f"the lab's DNS servers listen on port 53 of 127.{self.net}.x.x addresses, as real ones do: run as root, "
                "or allow Python to bind low ports (setcap cap_net_bind_service=+ep on the interpreter)"
            ) from exc
        except OSError as exc:
            self.dns = None
            raise LabError(
                f"the lab's DNS server cannot start on 127.{self.net}.x.x: {exc}; is another lab running? "
                f"Use another network, e.g. --lab-net {self.net + 1}"
            ) from exc
        try:
            pki = LabPki(self.workdir / "pki", now=self.now)
            self.web = LabWebServer(build_sites(pki, net=self.net, now=self.now))
            self.web.start()
            for server in build_mail_servers(pki, net=self.net):
                server.start()
                self.mail.append(server)
            self.ports = LabPortListeners(port_endpoints(net=self.net))
            self.ports.start()
        except (OSError, LabError) as exc:
            self.stop()
            raise LabError(
                f"the lab's web, mail or port listeners cannot start on 127.{self.net}.x.x: {exc}"
            ) from exc
        try:
            self.backups = build_backups(self.workdir, self.now)
        except (OSError, LabError) as exc:
            self.stop()
            raise LabError(f"the lab's backups cannot be created under {self.workdir}: {exc}") from exc
        self.config_path.write_text(
            config_yaml(timeout_s=self.timeout_s, net=self.net, backups=self.backups), encoding="utf-8"
        )

    def stop(self) -> None:
        """Stop every lab server; safe to call twice."""
        if self.ports is not None:
            self.ports.stop()
            self.ports = None
        for server in self.mail:
            server.stop()
        self.mail = []
        if self.web is not None:
            self.web.stop()
            self.web = None
        if self.dns is not None:
            self.dns.stop()
            self.dns = None
