"""Small factories for web check tests: HTTP facts as the probe writes them, and a website target.

Run the checks with `run` and `run_one` from tests/checks/factories.py: they accept these pairs too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeAlias

from secbase import FactKey, Target, TargetKind
from secbase.facts import HttpAnswer, HttpHop, HttpOutcome, http_key

HttpPair: TypeAlias = tuple[FactKey, HttpAnswer]
Headers: TypeAlias = Mapping[str, str | list[str]] | Iterable[tuple[str, str]]

SITE = "alder.test"
ADDRESS = "192.0.2.80"
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def website(name: str = SITE, *, org: str = "alder") -> Target:
    """A website target of organisation `org`."""
    return Target(org, TargetKind.WEBSITE, name)


def https_url(name: str = SITE, path: str = "/") -> str:
    return f"https://{name}{path}"


def http_url(name: str = SITE, path: str = "/") -> str:
    return f"http://{name}{path}"


def hop(url: str, status: int = 200, headers: Headers = (), *, location: str | None = None) -> HttpHop:
    """One answer of a chain. Header names are lower-cased and repeated headers kept apart, as the probe
    does; a mapping value that is a list gives the header once per item."""
    pairs: list[tuple[str, str]] = []
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        values = [value] if isinstance(value, str) else list(value)
        pairs += [(name.lower(), v) for v in values]
    if location is not None:
        pairs.append(("location", location))
    return HttpHop(url, ADDRESS, status, tuple(pairs), location)


def redirect(url: str, to: str, status: int = 301, headers: Headers = ()) -> HttpHop:
    """A hop that sends the browser on to `to`."""
    assert status in REDIRECTS
    return hop(url, status, headers, location=to)


def fetched(url: str, *hops: HttpHop, body: str = "") -> HttpPair:
    """A fetch that ended on an answer (of any status): the last hop is the page."""
    assert hops and hops[0].url == url and hops[-1].status not in REDIRECTS
    return http_key(url), HttpAnswer(url, HttpOutcome.OK, tuple(hops), body=body)


def page(url: str, headers: Headers = (), *, status: int = 200, body: str = "") -> HttpPair:
    """A fetch answered at once, without redirects."""
    return fetched(url, hop(url, status, headers), body=body)


def https_page(headers: Headers = (), *, name: str = SITE, body: str = "") -> HttpPair:
    """https://NAME/ answered at once with these headers: the page the header checks judge."""
    return page(https_url(name), headers, body=body)


def ended(url: str, outcome: HttpOutcome, *hops: HttpHop, reason: str = "") -> HttpPair:
    """A fetch that ended without a page: refused, no address, a certificate refused, a loop...

    The hops are the answers before it broke; the reason is what the probe would say.
    """
    assert outcome is not HttpOutcome.OK
    where = hops[-1].location if hops and hops[-1].location else url
    reason = (
        reason
        or {
            HttpOutcome.TLS_ERROR: f"the certificate of {where} was not accepted: certificate verify failed: "
            "self-signed certificate",
            HttpOutcome.REFUSED: f"nothing answers at {where} (connection refused)",
            HttpOutcome.NO_ADDRESS: f"{where} has no address in DNS",
            HttpOutcome.TOO_MANY_REDIRECTS: "more than 10 redirects",
            HttpOutcome.REDIRECT_LOOP: f"{where} redirects back to itself",
            HttpOutcome.TIMEOUT: f"{where} did not answer within 3 s",
            HttpOutcome.DNS_ERROR: "the DNS server 192.0.2.1:53 did not answer within 5 s",
            HttpOutcome.ERROR: f"{where}: RemoteDisconnected",
        }[outcome]
    )
    return http_key(url), HttpAnswer(url, outcome, tuple(hops), reason=reason)
