"""The YAML config: its schema, validation, and errors that name the file, the key and the fix."""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import os
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from secbase.errors import ConfigError
from secbase.parse import port_range

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _domain(value: str) -> str:
    name = value.strip().rstrip(".").lower()
    try:
        ascii_name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        ascii_name = ""
    labels = ascii_name.split(".")
    if len(labels) < 2 or len(ascii_name) > 253 or not all(_LABEL.match(lb) for lb in labels):
        raise PydanticCustomError(
            "domain", '"{value}" is not a domain name; write it like "alder.on.ca"', {"value": value}
        )
    return ascii_name


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return _host_name(value)  # not an address: it must then be a name


def _host_name(value: str) -> str:
    try:
        return _domain(value)
    except PydanticCustomError:
        raise PydanticCustomError(
            "host",
            '"{value}" is neither an IP address nor a host name; write it like "192.0.2.10" or "www.alder.on.ca"',
            {"value": value},
        ) from None


def _selector(value: str) -> str:
    sel = value.strip().lower()
    if not sel or not all(_LABEL.match(lb) for lb in sel.split(".")):
        raise PydanticCustomError(
            "selector",
            '"{value}" is not a DKIM selector; write it like "s1" or "selector1"',
            {"value": value},
        )
    return sel


def _server(value: str) -> str:
    """Accept "host", "host:port", "[v6]:port" and a bare IPv6 address."""
    text = value.strip()
    host, port = text, 53
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d+))?", text)
    if m:
        host, port = m.group(1), int(m.group(2) or 53)
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p) if p.isdigit() else -1
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise PydanticCustomError(
            "resolver",
            '"{value}" is not a DNS server address; write an IP address like "127.0.53.1" or "9.9.9.9:53"',
            {"value": value},
        ) from None
    if not 0 < port < 65536:
        raise PydanticCustomError("resolver", '"{value}" has a bad port; use 1 to 65535', {"value": value})
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def _port_spec(value: Any) -> int | str:
    """A port (443) or an inclusive range of ports ("8000-8100"), for scan.ports."""
    try:
        if not isinstance(value, int | str):
            raise ValueError(f"{value!r} is not a port")
        first, last = port_range(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "port_spec",
            '"{value}" is not a port or a range of ports; write 1 to 65535, like 8081 or "8000-8100"',
            {"value": str(value)},
        ) from exc
    return f"{first}-{last}" if "-" in str(value) else first


Domain = Annotated[str, AfterValidator(_domain)]
Host = Annotated[str, AfterValidator(_host)]
Selector = Annotated[str, AfterValidator(_selector)]
Server = Annotated[str, AfterValidator(_server)]
Port = Annotated[int, Field(ge=1, le=65535)]
PortSpec = Annotated[int | str, BeforeValidator(_port_spec)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ScanSettings(_Strict):
    """How the scan talks to the world."""

    resolvers: list[Server] = Field(default_factory=list)  # empty: the system's resolvers
    timeout: float = Field(default=3.0, gt=0, le=60)  # seconds per network operation
    ca_file: Path | None = None  # extra CA certificates trusted for TLS checks
    concurrency: int = Field(default=64, ge=1, le=1024)  # network operations in flight, whole scan
    per_server: int = Field(default=16, ge=1, le=256)  # in flight towards one remote server
    nameserver_port: Port = 53  # where name servers are asked directly (dns.nameservers)
    deep_tls: bool = False  # try every cipher suite on its own (hundreds of handshakes per endpoint)
    # Ports the host scan tries besides its default list (the risky services' and the common web and mail
    # ports): 8081 or "8000-8100". None: the default list alone.
    ports: list[PortSpec] | None = None


_REMOTE_SCHEME = re.compile(r"^(sftp|s3|rest|b2|azure|gs|swift|rclone|ssh|https?):", re.IGNORECASE)
_SCP_STYLE = re.compile(r"^(?:[^@/:\s]+@)?[^@/:\s]+:")  # borg's "[user@]host:path"


def is_remote_location(kind: str, location: str) -> bool:
    """True when a backup location is reached over the network (a URL, or borg's "user@host:path")."""
    text = location.strip()
    if text.lower().startswith(("local:", "file://")):
        return False
    if _REMOTE_SCHEME.match(text):
        return True
    return kind == "borg" and _SCP_STYLE.match(text) is not None


class BackupSource(_Strict):
    """One backup the organisation declares: a restic or borg repository, or a folder of dumps.

    The password is never written here: `password_file` names a file holding it, `password_env` an
    environment variable; the probe hands it to restic or borg through their environment only. A local
    location and the files named here may start with ~ and may be relative to the config file's folder.
    """

    name: str = Field(min_length=1, max_length=100)  # the target's name in reports: unique per organisation
    kind: Literal["restic", "borg", "folder"]
    location: str = Field(
        min_length=1
    )  # a path, or a repository URL (sftp:, s3:, rest:, ssh://, user@host:path)
    password_file: Path | None = None
    # borg's keyfile mode (`borg init --encryption keyfile`): the repository's key file, handed to borg as
    # BORG_KEY_FILE; without it borg looks in a folder of the scan's own and finds no key. Never printed.
    key_file: Path | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    offsite: bool = False  # a copy away from the building (3-2-1)
    immutable: bool = False  # cannot be changed or deleted from here (object lock, append-only)
    rpo_hours: float = Field(default=26, gt=0, le=24 * 366)  # newest snapshot may be this old at most
    retention_days: int = Field(default=30, ge=1, le=36600)  # how far back the snapshots should reach
    # Run the repository's own check: "auto" only on a local restic repository (a remote one would be
    # downloaded from cloud storage, which costs time and money), "always", or "never". borg's check runs
    # only under "always": borg check rewrites the repository's config file (same content), a write.
    check: Literal["auto", "always", "never"] = "auto"
    config_file: Path | None = None  # the borgmatic YAML (borg) or resticprofile file (restic) that drives it

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_config(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("password", "passphrase"):
                if key in data:
                    raise PydanticCustomError(
                        "password_in_config",
                        '"password" does not belong in the config file; put the password in a file readable only '
                        "by the scan and name it with password_file, or name an environment variable "
                        "with password_env",
                    )
        return data

    @model_validator(mode="after")
    def _fits_its_kind(self) -> BackupSource:
        if self.password_file is not None and self.password_env is not None:
            raise PydanticCustomError(
                "two_passwords", "give password_file or password_env, not both", {"value": self.name}
            )
        if self.key_file is not None and self.kind != "borg":
            raise PydanticCustomError(
                "key_file_kind",
                "key_file is for borg repositories made with --encryption keyfile; remove it here",
            )
        if self.kind == "folder":
            if self.password_file is not None or self.password_env is not None:
                raise PydanticCustomError(
                    "folder_password", "a folder of dumps has no password; remove password_file/password_env"
                )
            if is_remote_location("folder", self.location):
                raise PydanticCustomError(
                    "folder_remote",
                    '"{value}" is not a local folder; a folder of dumps must be a path on this computer',
                    {"value": self.location},
                )
            if self.config_file is not None:
                raise PydanticCustomError(
                    "folder_config", "config_file is for borgmatic (borg) or resticprofile (restic) files"
                )
        return self

    @property
    def is_remote(self) -> bool:
        """True when the repository is reached over the network."""
        return is_remote_location(self.kind, self.location)


class Organisation(_Strict):
    """One municipality or member body and what it declares."""

    id: str
    name: str = Field(min_length=1)
    contacts: list[str] = Field(default_factory=list)
    domains: list[Domain] = Field(default_factory=list)
    non_mail_domains: list[Domain] = Field(default_factory=list)
    websites: list[Host] = Field(default_factory=list)
    hosts: list[Host] = Field(default_factory=list)
    expected_ports: dict[Host, list[Port]] = Field(default_factory=dict)
    # A list applies to every domain; a mapping gives each domain its own (a town's library may use
    # another mail provider): {alder.on.ca: [selector1], library.alder.on.ca: [google]}.
    dkim_selectors: list[Selector] | dict[Domain, list[Selector]] = Field(default_factory=list)
    backups: list[BackupSource] = Field(default_factory=list)  # repositories and folders of dumps

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise PydanticCustomError(
                "org_id",
                '"{value}" is not a usable id; use lower-case letters, digits and "-", like "alder"',
                {"value": value},
            )
        return value

    @model_validator(mode="after")
    def _each_domain_once(self) -> Organisation:
        seen: set[str] = set()
        for name in [*self.domains, *self.non_mail_domains]:
            if name in seen:
                raise PydanticCustomError(
                    "duplicate_domain",
                    '"{value}" is listed twice; a domain goes once, under domains or under non_mail_domains',
                    {"value": name},
                )
            seen.add(name)
        if isinstance(self.dkim_selectors, dict):
            for name in self.dkim_selectors:
                if name not in self.domains:
                    raise PydanticCustomError(
                        "selector_domain",
                        'dkim_selectors names "{value}", which is not one of this organisation\'s domains',
                        {"value": name},
                    )
        return self

    @field_validator("backups")
    @classmethod
    def _each_backup_name_once(cls, value: list[BackupSource]) -> list[BackupSource]:
        seen: set[str] = set()
        for source in value:
            if source.name in seen:
                raise PydanticCustomError(
                    "duplicate_backup",
                    'two backups are named "{value}"; give each its own name',
                    {"value": source.name},
                )
            seen.add(source.name)
        return value

    def selectors_for(self, domain: str) -> tuple[str, ...]:
        """The DKIM selectors declared for one of the organisation's domains."""
        if isinstance(self.dkim_selectors, dict):
            return tuple(self.dkim_selectors.get(domain, ()))
        return tuple(self.dkim_selectors)

    @field_validator("contacts")
    @classmethod
    def _contacts(cls, value: list[str]) -> list[str]:
        for addr in value:
            local, _, dom = addr.rpartition("@")
            if not local or not dom or "." not in dom or " " in addr:
                raise PydanticCustomError(
                    "contact",
                    '"{value}" is not an email address; write it like "it@alder.on.ca"',
                    {"value": addr},
                )
        return value


class Config(_Strict):
    """A whole config file: version, scan settings and the organisations."""

    version: Literal[1]
    scan: ScanSettings = Field(default_factory=ScanSettings)
    organisations: list[Organisation] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Config:
        seen: set[str] = set()
        for org in self.organisations:
            if org.id in seen:
                raise PydanticCustomError(
                    "duplicate_id",
                    'two organisations have the id "{value}"; give each its own',
                    {"value": org.id},
                )
            seen.add(org.id)
        return self

    def organisation(self, org_id: str) -> Organisation:
        for org in self.organisations:
            if org.id == org_id:
                return org
        known = ", ".join(o.id for o in self.organisations)
        raise ConfigError(f"no organisation with the id {org_id!r}; the config has: {known}")


class LoadedConfig(BaseModel):
    """A validated config and where it came from."""

    model_config = ConfigDict(frozen=True)

    path: Path
    config: Config
    digest: str  # sha256 of the file's bytes, stored with each scan


def read_yaml(text: str, label: str) -> Any:
    """Parse YAML, or raise ConfigError with one line naming `label` and where the syntax breaks."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError(
            f"{label}: {where}: not valid YAML: {exc.problem}; check indentation and quotes"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: not valid YAML: {exc}") from exc


def load_config(path: str | Path) -> LoadedConfig:
    """Read and validate a config file; raise ConfigError with one line naming the file, key and fix."""
    p = Path(path)
    name = p.name
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text; save the file as UTF-8") from exc
    raw = read_yaml(text, name)
    if not isinstance(raw, dict):
        raise ConfigError(f'{name}: expected keys like "version: 1" and "organisations:" at the top')
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{name}: {describe_error(exc, raw)}") from exc
    ca = cfg.scan.ca_file
    if ca is not None:
        # Relative to the config file, whatever folder the scan runs from; kept absolute from here on.
        ca_path = (ca if ca.is_absolute() else p.parent / ca).resolve()
        if not ca_path.is_file():
            raise ConfigError(f"{name}: scan.ca_file: {ca_path} does not exist; give the path of a PEM file")
        try:  # read now: the probes read it only when a first HTTPS or TLS fact needs it
            ca_path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "it is not a text (PEM) file"
            raise ConfigError(
                f"{name}: scan.ca_file: {ca_path} cannot be read ({why}); give a PEM file"
            ) from exc
        cfg = cfg.model_copy(update={"scan": cfg.scan.model_copy(update={"ca_file": ca_path})})
    cfg = _backups_beside(cfg, p.parent.absolute())
    return LoadedConfig(path=p, config=cfg, digest=hashlib.sha256(data).hexdigest())


def _backups_beside(cfg: Config, folder: Path) -> Config:
    """Every backup source's local paths made absolute: ~ expanded, relative ones from the config's folder.

    restic and borg run in a folder of the scan's own and neither expands ~, so "exp/restic" or
    "~/exp/borg" must be whole paths before they get there. Repository URLs stay as written.
    """
    orgs = []
    for org in cfg.organisations:
        sources = []
        for src in org.backups:
            update: dict[str, Any] = {"location": _local_location(src.kind, src.location, folder)}
            for field in ("password_file", "key_file", "config_file"):
                value = getattr(src, field)
                if value is not None:
                    update[field] = _beside(folder, value)
            sources.append(src.model_copy(update=update))
        orgs.append(org.model_copy(update={"backups": sources}))
    return cfg.model_copy(update={"organisations": orgs})


def _beside(folder: Path, path: Path) -> Path:
    """`path` with ~ expanded, and from `folder` when relative (symbolic links kept, as written)."""
    path = path.expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(folder / path))


def _local_location(kind: str, location: str, folder: Path) -> str:
    """A local repository or folder of dumps as a whole path; a URL or borg's host:path as it is."""
    text = location.strip()
    if is_remote_location(kind, text) or text.lower().startswith("file://"):
        return text  # borg's file:// takes an absolute path already
    prefix = text[:6] if kind == "restic" and text.lower().startswith("local:") else ""
    return prefix + str(_beside(folder, Path(text[len(prefix) :])))


def describe_error(exc: ValidationError, raw: Any) -> str:
    """Turn pydantic's first error into "key.path: what is wrong; how to fix it"."""
    err = exc.errors()[0]
    # pydantic adds validator and union-member tags ("function-after[...]", "list[...]") to locations.
    loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function")))]
    path = _format_loc(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f'; did you mean "{close[0]}"?' if close else f"; known keys: {', '.join(allowed)}"
        return f"{path}: unknown key{hint}"
    if kind == "missing":
        return f"{path}: required; add it"
    if kind == "literal_error" and loc == ["version"]:
        return f'version: this secbase reads version 1 configs; write "version: 1" (found {err["input"]!r})'
    if kind in ("list_type", "dict_type", "model_type"):
        want = {
            "list_type": "a list, like [a, b]",
            "dict_type": "a mapping of key: value",
            "model_type": "a mapping of key: value",
        }
        return f"{path}: must be {want[kind]}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{path}: {msg}" if path else msg


def _format_loc(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like list[Organisation], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(loc: list[Any]) -> list[str]:
    """The keys allowed at a location, for "did you mean" hints."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        inner = _model_in(field.annotation) if field else None
        if inner is None:
            break
        model = inner
    return sorted(model.model_fields)
