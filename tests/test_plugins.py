"""Plugins: checks load with their words, and a third-party package's checks are listed and run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from secbase.config import LoadedConfig
from secbase.errors import CheckLoadError
from secbase.plugins import CheckRegistry, _checks_of, check

PLUGIN_CODE = '''
"""A town's own check, shipped as a plugin."""
from secbase import Facts, Result, Target, check


@check(id="mytown.www", severity="low", target="domain")
def www(target: Target, facts: Facts, limits) -> list[Result]:
    answer = facts.dns(f"www.{target.name}", "A")
    if answer.error:
        return [Result.error(www, target, answer.error)]
    if answer.is_empty:
        return [Result.fail(www, target, "No www address.")]
    return [Result.passed(www, target, "www resolves.", evidence=", ".join(answer.records))]


@check(id="email.mx", severity="low", target="domain")
def impostor(target: Target, facts: Facts, limits) -> list[Result]:
    return [Result.passed(impostor, target, "a plugin must not take over a built-in id")]
'''

PLUGIN_WORDS = """
mytown.www:
  title: The website name resolves
  area: web
  risk: Residents typing www.town cannot reach the site.
  fix: Add an A record for www at your DNS host.
  effort: 10 minutes
  who: whoever manages your DNS
  references: [RFC 1034]
email.mx:
  title: Impostor
  area: email
  risk: A plugin that reuses a built-in id.
  fix: Pick an id of your own for your check.
  effort: none
  who: the plugin's author
  references: [secbase docs]
"""

PLUGIN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "mytown-checks"
version = "1.0"
dependencies = []

[project.entry-points."secbase.checks"]
mytown = "mytown_checks"

[tool.setuptools]
packages = ["mytown_checks"]

[tool.setuptools.package-data]
mytown_checks = ["*.yml"]
"""


def install(src: Path, site: Path) -> None:
    """Build and install a package into a folder of its own: a temporary environment, offline."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build and install a tiny third-party check package into a temporary environment of its own."""
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    pkg = src / "mytown_checks"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""mytown checks."""\n')
    (pkg / "www.py").write_text(PLUGIN_CODE)
    (pkg / "www.yml").write_text(PLUGIN_WORDS)
    site = tmp_path_factory.mktemp("plugin-site")
    install(src, site)
    return site


def secbase(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "secbase", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.slow
def test_an_installed_plugin_is_listed_with_its_package(plugin_site: Path) -> None:
    proc = secbase(plugin_site, "checks", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert rows["mytown.www"]["source"] == "mytown-checks"
    assert rows["mytown.www"]["title"] == "The website name resolves"
    # The built-in keeps its id, loudly.
    assert rows["email.mx"]["source"] == "secbase"
    assert "check email.mx from mytown-checks ignored" in proc.stderr


@pytest.mark.slow
def test_a_scan_runs_the_plugin(plugin_site: Path, lab_config: LoadedConfig) -> None:
    proc = secbase(
        plugin_site,
        "scan",
        str(lab_config.path),
        "--org",
        "alder",
        "--checks",
        "mytown.*",
        "--no-store",
        "--json",
        "-",
    )
    assert proc.returncode == 1, proc.stderr  # old-alder.test has no www: a fail
    results = {(r["target"], r["status"]) for r in json.loads(proc.stdout)["results"]}
    assert results == {("alder.test", "pass"), ("old-alder.test", "fail")}


def test_builtin_checks_all_load_with_words(registry: CheckRegistry) -> None:
    assert registry.warnings == []
    assert all(c.words is not None and c.source == "secbase" for c in registry.checks.values())


def test_a_check_without_words_stops_the_load(tmp_path: Path) -> None:
    import types

    mod = types.ModuleType("lonely")
    mod.__file__ = str(tmp_path / "lonely.py")
    (tmp_path / "lonely.yml").write_text("{}\n")

    @check(id="lonely.one", severity="low", target="domain")
    def one(target, facts, limits):  # type: ignore[no-untyped-def]
        return []

    object.__setattr__(one, "module", "lonely")
    mod.one = one  # type: ignore[attr-defined]
    with pytest.raises(CheckLoadError, match=r"no words for lonely\.one"):
        _checks_of(mod)
    (tmp_path / "lonely.yml").write_text("lonely.one:\n  title: Lonely\n")
    with pytest.raises(CheckLoadError, match=r"lonely\.one: area: Field required"):
        _checks_of(mod)


@pytest.mark.parametrize("bad", ["Email.MX", "email", "email..mx", "email.mx-record"])
def test_check_ids_are_lower_case_dotted_words(bad: str) -> None:
    with pytest.raises(CheckLoadError):
        check(id=bad, severity="low", target="domain")(lambda t, f, lim: [])


def test_selecting_by_family_and_pattern(registry: CheckRegistry) -> None:
    assert {c.id for c in registry.select(["email.spf"])} == {
        "email.spf.present",
        "email.spf.policy",
        "email.spf.syntax",
        "email.spf.lookups",
    }
    assert {c.id for c in registry.select(["dns.*"])} == {"dns.caa", "dns.dnssec", "dns.nameservers"}
    with pytest.raises(CheckLoadError, match="no check matches"):
        registry.select(["nothing.here"])


def test_the_public_api_is_what_all_says() -> None:
    import secbase

    for name in secbase.__all__:
        assert hasattr(secbase, name), name
    public = {
        n
        for n in vars(secbase)
        if not n.startswith("_")
        and n
        not in {
            "errors",
            "facts",
            "model",
            "plugins",
            "config",
            "parse",
            "probes",
            "scan",
            "store",
            "report",
            "lab",
            "cli",
        }
    }
    assert public == set(secbase.__all__) - {"__version__"}


@pytest.mark.slow
def test_a_broken_plugin_is_skipped_with_a_warning_and_the_rest_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    src = tmp_path_factory.mktemp("broken-src")
    (src / "pyproject.toml").write_text(
        PLUGIN_PYPROJECT.replace("mytown", "broken").replace("mytown_checks", "broken_checks")
    )
    pkg = src / "broken_checks"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""broken checks."""\n')
    (pkg / "bad.py").write_text("raise RuntimeError('a bug in the plugin')\n")
    site = tmp_path_factory.mktemp("broken-site")
    install(src, site)
    proc = secbase(site, "checks", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "checks from broken-checks were not loaded" in proc.stderr
    assert "RuntimeError: a bug in the plugin" in proc.stderr
    assert "email.mx" in {r["id"] for r in json.loads(proc.stdout)}
