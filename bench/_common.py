"""What the benchmark scripts share: the loopback guard, CPU pinning, the lab's child process and its line
protocol, running a child, and the particulars of a run (revision, load, machine, date).

Standard library only at import: email_dns.py's checkdmarc worker imports it from checkdmarc's own venv.
The scripts put the repository first on sys.path and import it as bench._common, so that their child
processes (which run the script again) find it too, and so do type checkers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Self

NO_PIN = "SECBASE_BENCH_NO_PIN"  # set by --no-pin, inherited by the child processes


# -- every process --------------------------------------------------------------------------------------


def loopback_only(connections: Counter[tuple[str, int]] | None = None) -> None:
    """Make this process refuse to connect or send anywhere outside 127.0.0.0/8 and ::1; given a Counter,
    also count there the TCP connections the process makes, by (address, port)."""
    lock = threading.Lock()

    def check(address: Any) -> None:
        if isinstance(address, tuple) and address:
            host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
            try:
                ok = ipaddress.ip_address(host.split("%")[0]).is_loopback
            except ValueError:
                ok = host == "localhost"
            if not ok:
                raise PermissionError(f"the benchmark only talks to loopback, not {address!r}")

    cls = socket.socket
    for name, where in (("connect", 0), ("connect_ex", 0), ("sendto", -1)):
        original = getattr(cls, name)

        def guarded(
            self: socket.socket,
            *args: Any,
            _o: Callable[..., Any] = original,
            _w: int = where,
            _count: bool = connections is not None and name != "sendto",
        ) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                address = args[_w]
                check(address)
                if _count and self.type == socket.SOCK_STREAM and isinstance(address, tuple):
                    assert connections is not None
                    with lock:
                        connections[(str(address[0]), int(address[1]))] += 1
            return _o(self, *args)

        setattr(cls, name, guarded)


def pin(cpu: int) -> None:
    """Pin this process (and what it starts, nmap say) to one CPU when there are two or more: the lab on
    one, the tool measured on the other."""
    if os.environ.get(NO_PIN):
        return
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})


def no_pin() -> None:
    """--no-pin: neither this process nor its children pin themselves."""
    os.environ[NO_PIN] = "1"


# -- the lab's child process ----------------------------------------------------------------------------


def answer_commands(ready: dict[str, Any], commands: Mapping[str, Callable[[], object]]) -> None:
    """In the lab process: print `ready {json}`, then answer lines on stdin until `quit` (or the end of
    stdin): `cpu` (its CPU seconds so far) and the given commands, one line each."""
    print("ready " + json.dumps(ready), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "cpu":
            print(f"{time.process_time():.3f}", flush=True)
        elif cmd in commands:
            print(commands[cmd](), flush=True)
        elif cmd == "quit":
            break


class LabProcess:
    """The driver's side of a lab process: `python SCRIPT ROLE SPEC`, which answers with answer_commands.
    Used as a context manager, it asks the process to quit on the way out."""

    def __init__(self, script: str, spec_path: Path, role: str = "--serve") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, script, role, str(spec_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self._read()
        if not first.startswith("ready "):
            raise RuntimeError(f"the lab did not start: {first!r}")
        self.ready: dict[str, Any] = json.loads(first.removeprefix("ready "))

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the lab process ended (is another lab on this network?)")
        return line.strip()

    def send(self, cmd: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._read()

    def cpu_s(self) -> float:
        """CPU seconds the lab process has used so far."""
        return float(self.send("cpu"))

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the measuring process ------------------------------------------------------------------------------


def capture_probes() -> dict[str, Any]:
    """Make secbase.scan keep, in the dict returned, the probes of the latest run_scan (to read what they
    counted: handshakes, nmap runs)."""
    import secbase.scan as scan_module
    from secbase.config import Config

    captured: dict[str, Any] = {}
    default_probes = scan_module.default_probes

    def capturing(config: Config, *args: Any, **kw: Any) -> dict[str, Any]:
        probes = default_probes(config, *args, **kw)
        captured.clear()
        captured.update(probes)
        return probes

    scan_module.default_probes = capturing  # type: ignore[assignment]
    return captured


# -- the driver -----------------------------------------------------------------------------------------


def run_child(cmd: list[str], what: str) -> None:
    """Run a child process; stop the benchmark with a message if it fails."""
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit {done.returncode})")


def python_prints(python: str, code: str) -> str | None:
    """What `python -c CODE` prints (a tool's version, say), or None when it fails (not importable)."""
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def revision() -> str:
    """The commit of the secbase being measured, and whether its code has uncommitted changes."""
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "secbase", "checks"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (f" + {len(dirty)} changed or new files in secbase/ and checks/" if dirty else "")


def load() -> str:
    """The 1, 5 and 15 minute load averages: anything near or above the CPU count means a busy machine."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.system()}"


def date() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_counts(counts: Mapping[str, int]) -> str:
    """`a 1, b 2` in the order of the keys, or `none`."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
