"""secbase: a cybersecurity baseline for small governments. The names here are the public API.

Third-party checks import only from this module, so that everything else can move.
"""

from secbase.errors import CheckLoadError, ConfigError, LabError, SecbaseError, StoreError
from secbase.facts import (
    DnsAnswer,
    DnsOutcome,
    FactKey,
    Facts,
    NeedFacts,
    dns_at_key,
    dns_key,
    normalise_name,
)
from secbase.model import Finding, Result, Severity, Status, Target, TargetKind, fingerprint
from secbase.plugins import Check, CheckRegistry, CheckWords, check, load_checks

__version__ = "0.1.0"

__all__ = [
    "Check",
    "CheckLoadError",
    "CheckRegistry",
    "CheckWords",
    "ConfigError",
    "DnsAnswer",
    "DnsOutcome",
    "FactKey",
    "Facts",
    "Finding",
    "LabError",
    "NeedFacts",
    "Result",
    "SecbaseError",
    "Severity",
    "Status",
    "StoreError",
    "Target",
    "TargetKind",
    "__version__",
    "check",
    "dns_at_key",
    "dns_key",
    "fingerprint",
    "load_checks",
    "normalise_name",
]
