"""The lab's backups: restic and borg repositories, a folder of dumps and a borgmatic file, planted at lab start.

Everything lives under the lab's workdir (`backups/`), and restic and borg are only ever pointed there
(their caches and base folder too). Snapshot times are set relative to the lab's `now` with restic's
`--time` and borg's `--timestamp`; dumps get their modification times with `os.utime`.

Speed: restic derives its key with scrypt on every command, and `restic init` calibrates it to take about
half a second per command. The lab writes its restic repositories itself instead (an encrypted `config`
and a key file with cheap scrypt parameters, in restic's own format), so each `restic backup` costs a
tenth of that; the backups then run a few at a time, beside borg's.

What is planted, per town:
- alder: a restic repository, password in a file, 8 snapshots over 35 days, the newest 2 hours old,
  declared off-site, checked (local): every backup check passes.
- birch: a borg repository without encryption, 2 archives, the newest 3 days old (stale: RPO 26 h), and
  its borgmatic file: only the local repository, keep_daily 3, no off-site source at all.
- cedar: a folder of database dumps, the newest 10 hours old but far smaller than the one before.
- dogwood: a restic repository with a damaged data pack (`restic check` fails), the newest snapshot 22
  hours old (over 80% of its 26 h RPO: a warning).
- elm: a restic repository and its resticprofile file that do not exist: nothing can be checked.

Restore tests (`restore_tests`, recorded in the store by the demo, handed to the scan by the tests):
alder's worked 20 days ago; birch's worked 200 days ago (too long ago); cedar has none; dogwood's did not
work 10 days ago; elm's worked 30 days ago, but its repository cannot be read today.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

from secbase.errors import LabError
from secbase.facts import RestoreTest

BACKUPS_DIR = "backups"
RESTIC_PASSWORD = "lab-restic-password-not-secret"
HOST = "fileserver"
# A chunker polynomial restic itself picked (it must be irreducible); every lab repository uses it.
CHUNKER_POLYNOMIAL = "24cbe1615661e7"
KDF_N, KDF_R, KDF_P = 1024, 8, 1  # cheap on purpose: a lab password protects nothing
TOOL_TIMEOUT_S = 60.0
MAX_RUNS = 4

# Snapshot ages (newest first).
ALDER_AGES = (
    timedelta(hours=2),
    timedelta(hours=26),
    timedelta(hours=50),
    timedelta(hours=74),
    timedelta(hours=98),
    timedelta(hours=122),
    timedelta(hours=146),
    timedelta(days=7),
    timedelta(days=14),
    timedelta(days=21),
    timedelta(days=28),
    timedelta(days=35),
)
BIRCH_AGES = (timedelta(days=3), timedelta(days=4))
DOGWOOD_AGES = (timedelta(hours=22), timedelta(hours=46), timedelta(hours=70))
# Cedar's dumps: (age, size in bytes); the newest is far smaller than the one before.
CEDAR_DUMPS = (
    (timedelta(hours=10), 2_000),
    (timedelta(hours=34), 48_000),
    (timedelta(hours=58), 47_000),
    (timedelta(hours=82), 46_500),
    (timedelta(hours=106), 46_000),
)


@dataclass(frozen=True)
class LabBackups:
    """Where the lab's backups are (absolute paths under the lab's workdir)."""

    root: Path

    @property
    def password_file(self) -> Path:
        return self.root / "restic-password"

    @property
    def alder_repo(self) -> Path:
        return self.root / "alder" / "restic"

    @property
    def birch_repo(self) -> Path:
        return self.root / "birch" / "borg"

    @property
    def birch_borgmatic(self) -> Path:
        return self.root / "birch" / "borgmatic.yaml"

    @property
    def cedar_dumps(self) -> Path:
        return self.root / "cedar" / "dumps"

    @property
    def dogwood_repo(self) -> Path:
        return self.root / "dogwood" / "restic"

    @property
    def elm_repo(self) -> Path:
        return self.root / "elm" / "restic"  # never created

    @property
    def elm_profile(self) -> Path:
        return self.root / "elm" / "profiles.yaml"  # never created

    @property
    def data(self) -> Path:
        return self.root / "data"

    def tool_env(self) -> dict[str, str]:
        """The environment restic and borg run with here: caches inside the lab, no caller's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "BORG_"))}
        env.update(
            {
                "TZ": "UTC",
                "LC_ALL": "C.UTF-8",
                "RESTIC_CACHE_DIR": str(self.root / "restic-cache"),
                "RESTIC_PASSWORD_FILE": str(self.password_file),
                "BORG_BASE_DIR": str(self.root / "borg-base"),
                "BORG_PASSPHRASE": "",
                "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
                "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
            }
        )
        return env

    def sources(self) -> dict[str, list[dict[str, object]]]:
        """Each town's `backups:` entries for the lab's config."""
        return {
            "alder": [
                {
                    "name": "fileserver",
                    "kind": "restic",
                    "location": str(self.alder_repo),
                    "password_file": str(self.password_file),
                    "offsite": True,  # the lab pretends it is replicated away from the building
                    "retention_days": 30,
                },
            ],
            "birch": [
                {
                    "name": "town-hall",
                    "kind": "borg",
                    "location": str(self.birch_repo),
                    "config_file": str(self.birch_borgmatic),
                    "check": "always",  # borg check writes (its config file): only when asked to
                },
            ],
            "cedar": [{"name": "database-dumps", "kind": "folder", "location": str(self.cedar_dumps)}],
            "dogwood": [
                {
                    "name": "records",
                    "kind": "restic",
                    "location": str(self.dogwood_repo),
                    "password_file": str(self.password_file),
                },
            ],
            "elm": [
                {
                    "name": "nas",
                    "kind": "restic",
                    "location": str(self.elm_repo),
                    "password_file": str(self.password_file),
                    "config_file": str(self.elm_profile),
                },
            ],
        }


def backup_root(workdir: Path) -> Path:
    return (workdir / BACKUPS_DIR).absolute()


# (organisation, source, days ago, worked, note) of each planted restore test.
RESTORE_TESTS = (
    ("alder", "fileserver", 20, True, "Restored the finance folder to a spare disk; every file opened."),
    ("birch", "town-hall", 200, True, "Restored the permits database to a test server; it started."),
    ("dogwood", "records", 10, False, "Restore stopped at 40%: a data file is damaged."),
    ("elm", "nas", 30, True, "Restored a folder of scans; they opened."),
)


def restore_tests(now: datetime) -> tuple[RestoreTest, ...]:
    """The lab's planted restore tests, dated back from `now` (a local calendar day, as a clerk gives it)."""
    return tuple(
        RestoreTest(
            organisation=org,
            source=source,
            tested_on=(now - timedelta(days=days)).astimezone().date(),  # a local day, as a clerk gives it
            worked=worked,
            note=note,
            by="lab",
            recorded_at=now - timedelta(days=days),
        )
        for org, source, days, worked, note in RESTORE_TESTS
    )


def build_backups(workdir: Path, now: datetime) -> LabBackups:
    """Create every lab backup under workdir/backups (anything there before is replaced)."""
    lab = LabBackups(backup_root(workdir))
    _fresh_dir(lab.root)
    lab.password_file.write_text(RESTIC_PASSWORD + "\n", encoding="utf-8")
    lab.password_file.chmod(0o600)
    lab.data.mkdir()
    (lab.data / "minutes-2026.txt").write_text("Council minutes, lab copy.\n" * 20, encoding="utf-8")
    (lab.data / "budget.csv").write_text("line,amount\nroads,120000\nlibrary,45000\n", encoding="utf-8")
    # Incompressible: the data pack is far bigger than the tree packs, so the damage hits file data only.
    (lab.data / "scan-0001.pdf").write_bytes(secrets.token_bytes(20_000))
    _write_dumps(lab.cedar_dumps, now)
    _write_borgmatic(lab)
    for repo in (lab.alder_repo, lab.dogwood_repo):
        init_restic_repository(repo, RESTIC_PASSWORD)
    env = lab.tool_env()
    restic = [
        (repo, now - age)
        for repo, ages in ((lab.alder_repo, ALDER_AGES), (lab.dogwood_repo, DOGWOOD_AGES))
        for age in ages
    ]
    with ThreadPoolExecutor(MAX_RUNS) as pool:
        borg = pool.submit(_borg_repository, lab, env, now)
        runs = [
            pool.submit(
                _run,
                ["restic", "backup", "-q", "--host", HOST, "--tag", "nightly", "--time", _local(when), "."],
                {**env, "RESTIC_REPOSITORY": str(repo)},
                lab.data,
            )
            for repo, when in restic
        ]
        for run in runs:
            run.result()
        borg.result()
    _damage_a_pack(lab.dogwood_repo)
    return lab


def _fresh_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _local(when: datetime) -> str:
    """restic's --time: local time, which is UTC for the tool (it runs with TZ=UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _run(args: Sequence[str], env: dict[str, str], cwd: Path) -> None:
    try:
        done = subprocess.run(
            list(args), env=env, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise LabError(
            f"the lab's backups need {args[0]}: install it (apt-get install restic borgbackup)"
        ) from None
    except subprocess.TimeoutExpired:
        raise LabError(f"the lab's `{args[0]} {args[1]}` did not finish in {TOOL_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LabError(f"the lab's `{args[0]} {args[1]}` failed (exit {done.returncode}): {said[0]}")


def _borg_repository(lab: LabBackups, env: dict[str, str], now: datetime) -> None:
    repo = str(lab.birch_repo)
    lab.birch_repo.parent.mkdir(parents=True, exist_ok=True)
    _run(["borg", "init", "--encryption=none", repo], env, lab.data)
    for age in sorted(BIRCH_AGES, reverse=True):
        when = (now - age).astimezone(UTC)
        name = f"town-hall-{when:%Y-%m-%dT%H%M}"
        _run(
            ["borg", "create", "--timestamp", f"{when:%Y-%m-%dT%H:%M:%S}", f"{repo}::{name}", "."],
            env,
            lab.data,
        )


def _write_borgmatic(lab: LabBackups) -> None:
    lab.birch_borgmatic.parent.mkdir(parents=True, exist_ok=True)
    lab.birch_borgmatic.write_text(
        "# borgmatic for the Town of Birch (lab): one local repository, three days kept.\n"
        "source_directories:\n"
        "  - /srv/townhall\n"
        "repositories:\n"
        f"  - path: {json.dumps(str(lab.birch_repo))}\n"
        "    label: local\n"
        "keep_daily: 3\n",
        encoding="utf-8",
    )


def _write_dumps(folder: Path, now: datetime) -> None:
    folder.mkdir(parents=True)
    for age, size in CEDAR_DUMPS:
        when = now - age
        path = folder / f"cedar-db-{when.astimezone(UTC):%Y-%m-%d-%H%M}.sql.gz"
        path.write_bytes(b"\x1f\x8b" + b"\0" * (size - 2))
        stamp = when.timestamp()
        os.utime(path, (stamp, stamp))


def _damage_a_pack(repo: Path) -> None:
    """Cut the data pack (the biggest) short: `restic check` (without --read-data) reports its size.

    A tree pack is never damaged: check would read it and retry the read for a minute before failing.
    """
    packs = sorted(p for p in (repo / "data").glob("*/*") if p.is_file())
    if not packs:
        raise LabError(f"the lab's restic repository {repo} has no data pack to damage")
    pack = max(packs, key=lambda p: p.stat().st_size)
    with pack.open("r+b") as f:
        f.truncate(pack.stat().st_size // 2)


# -- restic's repository format, just enough to write a repository without `restic init` ------------


def init_restic_repository(repo: Path, password: str) -> None:
    """What `restic init` writes (repository version 2), with a key file using cheap scrypt parameters."""
    for sub in ("index", "keys", "locks", "snapshots"):
        (repo / sub).mkdir(parents=True)
    for n in range(256):
        (repo / "data" / f"{n:02x}").mkdir(parents=True)
    enc_key, mac_k, mac_r = secrets.token_bytes(32), secrets.token_bytes(16), secrets.token_bytes(16)
    config = {"version": 2, "id": secrets.token_hex(32), "chunker_polynomial": CHUNKER_POLYNOMIAL}
    (repo / "config").write_bytes(_seal(enc_key, mac_k, mac_r, json.dumps(config).encode()))
    master = {
        "mac": {"k": _b64(mac_k), "r": _b64(mac_r)},
        "encrypt": _b64(enc_key),
    }
    salt = secrets.token_bytes(64)
    derived = hashlib.scrypt(password.encode(), salt=salt, n=KDF_N, r=KDF_R, p=KDF_P, dklen=64)
    data = _seal(derived[:32], derived[32:48], derived[48:64], json.dumps(master).encode())
    key = {
        "created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "username": "lab",
        "hostname": HOST,
        "kdf": "scrypt",
        "N": KDF_N,
        "r": KDF_R,
        "p": KDF_P,
        "salt": _b64(salt),
        "data": _b64(data),
    }
    text = json.dumps(key).encode()
    (repo / "keys" / hashlib.sha256(text).hexdigest()).write_bytes(text)


def _seal(enc_key: bytes, mac_k: bytes, mac_r: bytes, plaintext: bytes) -> bytes:
    """restic's encryption: IV || AES-256-CTR(plaintext) || Poly1305-AES(ciphertext)."""
    iv = secrets.token_bytes(16)
    encryptor = Cipher(algorithms.AES(enc_key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    aes = Cipher(algorithms.AES(mac_k), modes.ECB()).encryptor()  # one block: Poly1305-AES's s
    s = aes.update(iv) + aes.finalize()
    tag = Poly1305.generate_tag(mac_r + s, ciphertext)  # Poly1305 clamps r as restic masks it
    return iv + ciphertext + tag


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
