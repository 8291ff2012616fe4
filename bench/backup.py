"""Benchmark: the backup probe over 50 restic repositories of 100 snapshots each.

    .venv/bin/python bench/backup.py [--repos 50] [--snapshots 100] [--check auto|never] [--cache DIR]

Builds one restic repository with N snapshots (planted an hour apart with `--time`), once, into a cache
folder, and copies it R times (creation time reported apart). Then probes all R through BackupProbe.fetch
in asyncio: first one after the other (wall time per repository, and the share of it spent inside the
restic processes, each timed by the probe), then all together at the probe's default bound (total wall).
A benchmark reports; it never asserts (exit code 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from secbase.config import BackupSource
from secbase.facts import BackupAnswer, backup_key
from secbase.probes import Limiter
from secbase.probes.backup import MAX_RUNS, BackupProbe

PASSWORD = "bench-password"


def build(cache: Path, repos: int, snapshots: int) -> tuple[list[Path], Path, float]:
    """R copies of one repository of N snapshots; the seconds it took (0 when the cache had them)."""
    pw = cache / "pw"
    first = cache / "repo-000"
    wanted = [cache / f"repo-{i:03d}" for i in range(repos)]
    started = time.perf_counter()
    marker = cache / f"done-{snapshots}"
    if not marker.exists():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        pw.write_text(PASSWORD + "\n")
        data = cache / "data"
        data.mkdir()
        (data / "minutes.txt").write_text("council minutes\n" * 100)
        env = {**os.environ, "RESTIC_REPOSITORY": str(first), "RESTIC_PASSWORD_FILE": str(pw), "TZ": "UTC"}
        env["RESTIC_CACHE_DIR"] = str(cache / "restic-cache")
        subprocess.run(["restic", "init"], env=env, check=True, capture_output=True)
        start = datetime.now(UTC) - timedelta(hours=snapshots)
        for i in range(snapshots):
            when = (start + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S")
            (data / "minutes.txt").write_text(f"council minutes {i}\n" * 100)
            subprocess.run(
                ["restic", "backup", "--time", when, "--host", "townhall", str(data)],
                env=env,
                check=True,
                capture_output=True,
            )
        marker.write_text("")
    for repo in wanted[1:]:
        if not repo.exists():
            shutil.copytree(first, repo)
    return wanted, pw, time.perf_counter() - started


async def probe_all(repos: list[Path], pw: Path, check: str, together: bool) -> dict[str, Any]:
    sources = [BackupSource(name=r.name, kind="restic", location=str(r), password_file=pw) for r in repos]
    limit = MAX_RUNS if together else 1
    probe = BackupProbe(limiter=Limiter(total=64, per_server=16), sources=sources, max_runs=limit)
    walls: list[float] = []
    answers: list[BackupAnswer] = []

    async def one(repo: Path) -> None:
        started = time.perf_counter()
        answer = await probe.fetch(backup_key("restic", str(repo), check))
        walls.append(time.perf_counter() - started)
        assert isinstance(answer, BackupAnswer)
        answers.append(answer)

    started = time.perf_counter()
    try:
        if together:
            await asyncio.gather(*(one(r) for r in repos))
        else:
            for repo in repos:
                await one(repo)
    finally:
        probe.close()
    total = time.perf_counter() - started
    in_restic = sum(run.seconds for run in probe.runs)
    return {
        "total_s": total,
        "walls": walls,
        "in_restic_s": in_restic,
        "processes": len(probe.runs),
        "errors": [a.error for a in answers if a.error],
        "snapshots": sorted({len(a.snapshots) for a in answers}),
        "checked": sum(a.check_ran for a in answers),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--check", choices=["auto", "never"], default="auto")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "secbase-bench-backup")
    args = parser.parse_args()
    if shutil.which("restic") is None:
        print("restic is not installed: apt-get install restic", file=sys.stderr)
        return 2
    repos, pw, built_s = build(args.cache, args.repos, args.snapshots)
    print(f"repositories: {args.repos} x {args.snapshots} snapshots in {args.cache}; made in {built_s:.1f} s")
    print(f"restic {subprocess.run(['restic', 'version'], capture_output=True, text=True).stdout.strip()}")
    print(f"check={args.check} (auto: restic check runs on these local repositories)")
    one = asyncio.run(probe_all(repos, pw, args.check, together=False))
    walls = one["walls"]
    assert isinstance(walls, list)
    share = float(one["in_restic_s"]) / float(one["total_s"])
    print(
        f"one after the other: {one['total_s']:.2f} s; per repository median {statistics.median(walls):.3f} s, "
        f"max {max(walls):.3f} s; {one['processes']} restic processes, {one['in_restic_s']:.2f} s in them "
        f"= {share:.1%} of the wall time"
    )
    together = asyncio.run(probe_all(repos, pw, args.check, together=True))
    print(
        f"together ({MAX_RUNS} processes at a time): {together['total_s']:.2f} s for {args.repos} "
        f"= {float(together['total_s']) / args.repos:.3f} s per repository"
    )
    print(
        f"snapshots seen per repository: {one['snapshots']}; checked: {one['checked']}; errors: {one['errors'][:3]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
