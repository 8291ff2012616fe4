"""secbase: a cybersecurity baseline for small governments. The names here are the public API.

Third-party checks import only from this module, so that everything else can move.
"""

from secbase._version import __version__
from secbase.config import Config, LoadedConfig, load_config
from secbase.errors import CheckLoadError, ConfigError, LabError, SecbaseError, StoreError
from secbase.facts import (
    DnsAnswer,
    DnsOutcome,
    FactKey,
    Facts,
    HttpAnswer,
    HttpHop,
    HttpOutcome,
    NeedFacts,
    SmtpAnswer,
    SmtpOutcome,
    TlsAnswer,
    TlsCertificate,
    TlsOutcome,
    TlsProtocol,
    TlsSuite,
    dns_at_key,
    dns_key,
    http_key,
    normalise_name,
    smtp_key,
    tls_key,
)
from secbase.model import Finding, Result, Severity, Status, Target, TargetKind, fingerprint
from secbase.plugins import Check, CheckRegistry, CheckWords, check, load_checks
from secbase.scan import ScanOutcome, run_scan

__all__ = [
    "Check",
    "CheckLoadError",
    "CheckRegistry",
    "CheckWords",
    "Config",
    "ConfigError",
    "DnsAnswer",
    "DnsOutcome",
    "FactKey",
    "Facts",
    "Finding",
    "HttpAnswer",
    "HttpHop",
    "HttpOutcome",
    "LabError",
    "LoadedConfig",
    "NeedFacts",
    "Result",
    "ScanOutcome",
    "SecbaseError",
    "Severity",
    "SmtpAnswer",
    "SmtpOutcome",
    "Status",
    "StoreError",
    "Target",
    "TargetKind",
    "TlsAnswer",
    "TlsCertificate",
    "TlsOutcome",
    "TlsProtocol",
    "TlsSuite",
    "__version__",
    "check",
    "dns_at_key",
    "dns_key",
    "fingerprint",
    "http_key",
    "load_checks",
    "load_config",
    "normalise_name",
    "run_scan",
    "smtp_key",
    "tls_key",
]
