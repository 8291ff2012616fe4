"""Content-Security-Policy headers (W3C CSP Level 3): directives, source lists, and what they allow for scripts."""

import re
from dataclasses import dataclass
from functools import lru_cache

from secbase.parse import ParseError


class CspParseError(ParseError):
    """A Content-Security-Policy value that holds no policy secbase can read."""


# Work limits for values sent by hostile servers; large real policies are a few KiB.
MAX_LENGTH = 64 * 1024
MAX_DIRECTIVES = 1000

# CSP3 2.2.1 and Infra: "ASCII whitespace" is TAB, LF, FF, CR and SPACE (not Python's wider set).
_ASCII_WHITESPACE = "\t\n\f\r "
_SPLIT = re.compile(r"[\t\n\f\r ]+")
# CSP3 2.3.1: nonce-source = "'nonce-" base64-value "'"; hash-source = "'" hash-algorithm "-"
# base64-value "'", hash-algorithm = "sha256" / "sha384" / "sha512"; ABNF strings are case-insensitive.
_NONCE_OR_HASH = re.compile(r"'(?:nonce|sha256|sha384|sha512)-[A-Za-z0-9+/\-_]+={0,2}'", re.IGNORECASE)
# CSP3 2.3.1: host-source with host-part "*" (any host), with an optional scheme, port and path.
_ANY_HOST = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*://)?\*(?::(?:[0-9]+|\*))?(?:/.*)?", re.DOTALL)
# Scheme-only sources that let a page load script from anywhere (or inline it as a data: URL).
_WIDE_SCHEMES = frozenset({"http:", "https:", "data:"})


@dataclass(frozen=True)
class CspPolicy:
    """One parsed policy: directive names lower-cased, each with its source expressions as written."""

    directives: tuple[tuple[str, tuple[str, ...]], ...]

    def get(self, name: str) -> tuple[str, ...] | None:
        """The value of the directive ``name`` (any case), or None when the policy lacks it."""
        wanted = name.lower()
        for directive, sources in self.directives:
            if directive == wanted:
                return sources
        return None

    def script_sources(self) -> tuple[str, ...] | None:
        """The source list that governs scripts: script-src, else default-src, else None (no restriction).

        CSP3 "get the fallback list" for script-src: script-src, then default-src.  The narrower
        script-src-elem and script-src-attr directives are not consulted; read them with ``get``.
        """
        sources = self.get("script-src")
        return sources if sources is not None else self.get("default-src")

    def allows_unsafe_inline_scripts(self) -> bool:
        """True when inline scripts run: CSP3 6.7.3.3 "does a source list allow all inline behavior".

        'unsafe-inline' is disabled by any nonce or hash source and by 'strict-dynamic'.  A policy with
        no script source list at all does not restrict scripts, so inline scripts run and this is True.
        """
        sources = self.script_sources()
        if sources is None:
            return True
        allow = False
        for source in sources:
            if _NONCE_OR_HASH.fullmatch(source) or source.lower() == "'strict-dynamic'":
                return False
            if source.lower() == "'unsafe-inline'":
                allow = True
        return allow

    def allows_unsafe_eval(self) -> bool:
        """True when eval() and friends run: CSP3 4.4 (EnsureCSPDoesNotBlockStringCompilation).

        That needs 'unsafe-eval' in the script source list, or no script source list at all.
        """
        sources = self.script_sources()
        return sources is None or any(source.lower() == "'unsafe-eval'" for source in sources)

    def has_wildcard_script_source(self) -> bool:
        """True when the script sources admit any host: ``*``, ``https://*``, or a bare http:/https:/data:.

        CSP3 8.2: with 'strict-dynamic' present, host and scheme sources are ignored, so they do not
        count (the "strict CSP" pattern lists https: only as a fallback for old browsers).  A policy with
        no script source list is False here: check ``script_sources() is None`` for that case.
        """
        sources = self.script_sources()
        if sources is None or any(source.lower() == "'strict-dynamic'" for source in sources):
            return False
        return any(
            source.lower() in _WIDE_SCHEMES or _ANY_HOST.fullmatch(source) is not None for source in sources
        )

    def frame_ancestors(self) -> tuple[str, ...] | None:
        """The frame-ancestors sources, or None; it never falls back to default-src (CSP3 6.4.2)."""
        return self.get("frame-ancestors")


@lru_cache(maxsize=4096)  # pure, and a scan reads the same headers many times
def parse_csp(value: str) -> CspPolicy:
    """Parse one serialized policy (CSP3 2.2.1); raises CspParseError.

    A header value may hold several policies separated by ","; those give an error here, so read them
    with ``parse_csp_headers``, which enforces each separately as the browser does.
    """
    if not value.strip(_ASCII_WHITESPACE):
        raise CspParseError("empty header")
    _check_length(value)
    if "," in value:
        raise CspParseError(
            'the value holds more than one policy, separated by ",", and each must be read on its own'
        )
    directives = _directives(value)
    if not directives:
        raise CspParseError("the policy has no directives, only semicolons, spaces or non-ASCII text")
    return CspPolicy(tuple(directives))


def parse_csp_headers(values: list[str]) -> list[CspPolicy]:
    """Every policy in the Content-Security-Policy headers of one response, in order.

    CSP3 2.2.2 (parse a response's Content Security Policies): each header value is split on "," and
    every part is a separate policy that the browser enforces on its own, so a resource must pass all
    of them.  A part with no directives is skipped, as the browser skips it; an over-long value raises
    CspParseError.
    """
    policies: list[CspPolicy] = []
    for value in values:
        _check_length(value)
        for part in value.split(","):
            directives = _directives(part)
            if directives:
                policies.append(CspPolicy(tuple(directives)))
    return policies


def _check_length(value: str) -> None:
    if len(value) > MAX_LENGTH:
        raise CspParseError(
            "the header is longer than 64 KiB, far more than any real one, so it was not read"
        )


def _directives(serialized: str) -> list[tuple[str, tuple[str, ...]]]:
    """CSP3 2.2.1 "parse a serialized CSP": the directives of one policy, first occurrence kept."""
    directives: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    # CSP3 2.2.1 step 2: strictly split on ";".
    for raw in serialized.split(";"):
        token = raw.strip(_ASCII_WHITESPACE)
        # Step 2.2: an empty token, or one that is not ASCII, is skipped.
        if not token or not token.isascii():
            continue
        # Steps 2.3-2.4: the name runs to the first ASCII whitespace and is ASCII-lower-cased.
        name, *sources = _SPLIT.split(token)
        name = name.lower()
        # Step 2.5: a directive already in the set makes the later one ignored.
        if name in seen:
            continue
        seen.add(name)
        directives.append((name, tuple(sources)))
        if len(directives) > MAX_DIRECTIVES:
            raise CspParseError(f"the policy has more than {MAX_DIRECTIVES} directives, so it was not read")
    return directives
