"""SPF records (RFC 7208): syntax, terms, and expansion of the macros that need only the checked domain."""

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import quote

from secbase.parse import ParseError, clip


class SpfParseError(ParseError):
    """An SPF record, or a macro in one, that does not follow RFC 7208."""


_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
# RFC 7208 4.6.4: the terms that cause DNS queries and count towards the limit of 10.
_LOOKUP_NAMES = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})

# RFC 7208 12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), followed by "=" for a modifier.
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9\-_.]*)=(.*)", re.DOTALL)
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9]*)(.*)", re.DOTALL)
# RFC 7208 12: a/mx take [":" domain-spec] [dual-cidr-length]; the CIDR suffix is split off the end.
_A_MX_REST = re.compile(r"(?::(?P<domain>.*?))?(?:/(?P<c4>[0-9]+))?(?://(?P<c6>[0-9]+))?", re.DOTALL)
# RFC 7208 12: toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ).
_TOPLABEL = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9]")
_CIDR_DIGITS = re.compile(r"0|[1-9][0-9]{0,2}")
_IP6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")
# A second term glued onto this one, as when a TXT record split into strings at a space is joined back.
_GLUED = re.compile(r"(?<=[0-9A-Za-z.\]])(?:[+\-~?]all\Z|[+\-~?]?(?:include:|ip4:|ip6:|exists:|redirect=))")

_MACRO_LETTERS = "slodiphcrtv"
_MACRO_BODY = re.compile(r"([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)")
# Stands in for a macro when checking label structure; cannot occur in a macro-literal.
_MARK = "\x00"
# RFC 7208 7.1: c, r and t are allowed only in explanation text, never in a domain-spec.
_EXP_ONLY_LETTERS = "crt"


@dataclass(frozen=True)
class SpfTerm:
    """One mechanism or modifier of an SPF record."""

    text: str
    kind: Literal["mechanism", "modifier"]
    name: str
    qualifier: str
    domain_spec: str | None
    address: str | None
    cidr4: int | None
    cidr6: int | None

    @property
    def is_lookup(self) -> bool:
        """True for the terms that query DNS (RFC 7208 4.6.4): include a mx ptr exists redirect."""
        if self.kind == "modifier":
            return self.name == "redirect"
        return self.name in _LOOKUP_NAMES

    @property
    def value(self) -> str | None:
        """For a modifier, the text after "="; None for a mechanism."""
        return self.text.split("=", 1)[1] if self.kind == "modifier" else None


@dataclass(frozen=True)
class SpfRecord:
    """A syntactically valid SPF record, its terms in the order written."""

    terms: tuple[SpfTerm, ...]

    @property
    def mechanisms(self) -> tuple[SpfTerm, ...]:
        return tuple(t for t in self.terms if t.kind == "mechanism")

    @property
    def redirect(self) -> str | None:
        return self._modifier("redirect")

    @property
    def exp(self) -> str | None:
        return self._modifier("exp")

    @property
    def all_qualifier(self) -> str | None:
        return next((t.qualifier for t in self.mechanisms if t.name == "all"), None)

    @property
    def lookup_terms(self) -> tuple[SpfTerm, ...]:
        """The DNS-querying terms in evaluation order: mechanisms as written, then redirect.

        RFC 7208 6.1: redirect is ignored when the record has an "all" mechanism, so it is left out then.
        """
        lookups = [t for t in self.mechanisms if t.is_lookup]
        if self.all_qualifier is None:
            lookups.extend(t for t in self.terms if t.kind == "modifier" and t.name == "redirect")
        return tuple(lookups)

    def _modifier(self, name: str) -> str | None:
        return next((t.domain_spec for t in self.terms if t.kind == "modifier" and t.name == name), None)


def is_spf(text: str) -> bool:
    """RFC 7208 4.5: the record begins with "v=spf1" (any case) followed by a space or the end."""
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


@lru_cache(maxsize=4096)  # pure, and a scan reads the same records many times
def parse_spf(text: str) -> SpfRecord:
    """Parse one SPF record (the TXT strings already joined); raises SpfParseError."""
    if not is_spf(text):
        raise SpfParseError('the record must start with "v=spf1" followed by a space')
    # RFC 7208 12: a record is SP and visible ASCII only; a tab or line break is not a term separator.
    bad = next((c for c in text if not " " <= c <= "~"), None)
    if bad is not None:
        raise SpfParseError(f"the record contains the character {bad!r}, which SPF does not allow")
    # RFC 7208 12: terms are separated by one or more SP; other whitespace is not a separator.
    terms = tuple(_parse_term(word) for word in text[6:].split(" ") if word)
    for name in ("redirect", "exp"):
        # RFC 7208 6: redirect and exp each MUST NOT appear more than once.
        if sum(1 for t in terms if t.kind == "modifier" and t.name == name) > 1:
            raise SpfParseError(f'the "{name}" modifier appears more than once')
    return SpfRecord(terms=terms)


def _parse_term(word: str) -> SpfTerm:
    modifier = _MODIFIER.fullmatch(word)
    if modifier:
        return _parse_modifier(word, modifier.group(1).lower(), modifier.group(2))
    mechanism = _MECHANISM.fullmatch(word)
    if not mechanism:
        raise SpfParseError(f'"{clip(word)}" is not a valid mechanism or modifier{_glued_hint(word)}')
    qualifier, raw_name, rest = mechanism.groups()
    name = raw_name.lower()
    if rest.startswith("="):
        raise SpfParseError(f'"{clip(word)}" is a modifier and a modifier cannot have a qualifier')
    if name not in _MECHANISMS:
        raise SpfParseError(f'unknown mechanism "{clip(word)}"')
    term = _Builder(word, name, qualifier or "+")
    if name == "all":
        if rest:
            raise SpfParseError(f'unexpected text after "all" in "{clip(word)}"{_glued_hint(word)}')
    elif name in ("include", "exists"):
        if not rest.startswith(":") or len(rest) == 1:
            raise SpfParseError(f'"{name}" needs a domain after ":" (found "{clip(word)}")')
        term.domain_spec = _check_domain_spec(rest[1:], word)
    elif name == "ptr":
        if rest and not rest.startswith(":"):
            raise SpfParseError(f'malformed term "{clip(word)}"{_glued_hint(word)}')
        if rest:
            term.domain_spec = _check_domain_spec(rest[1:], word)
    elif name in ("a", "mx"):
        _parse_a_mx(term, rest)
    else:
        _parse_ip(term, rest)
    return term.build()


def _parse_modifier(word: str, name: str, value: str) -> SpfTerm:
    if name in ("redirect", "exp"):
        if not value:
            raise SpfParseError(f'"{name}=" needs a domain')
        domain: str | None = _check_domain_spec(value, word)
    else:
        # RFC 7208 6: unknown modifiers are ignored, but their value must still be a valid macro-string.
        _tokenize(value, word)
        domain = None
    return SpfTerm(word, "modifier", name, "", domain, None, None, None)


class _Builder:
    def __init__(self, word: str, name: str, qualifier: str) -> None:
        self.word, self.name, self.qualifier = word, name, qualifier
        self.domain_spec: str | None = None
        self.address: str | None = None
        self.cidr4: int | None = None
        self.cidr6: int | None = None

    def build(self) -> SpfTerm:
        return SpfTerm(
            self.word,
            "mechanism",
            self.name,
            self.qualifier,
            self.domain_spec,
            self.address,
            self.cidr4,
            self.cidr6,
        )


def _parse_a_mx(term: _Builder, rest: str) -> None:
    match = _A_MX_REST.fullmatch(rest)
    if not match:
        raise SpfParseError(f'malformed term "{clip(term.word)}"{_glued_hint(term.word)}')
    domain = match.group("domain")
    if domain is not None:
        if not domain:
            raise SpfParseError(f'"{term.name}:" is followed by nothing (in "{clip(term.word)}")')
        term.domain_spec = _check_domain_spec(domain, term.word)
    if match.group("c4") is not None:
        term.cidr4 = _cidr(match.group("c4"), 32, term.word)
    if match.group("c6") is not None:
        term.cidr6 = _cidr(match.group("c6"), 128, term.word)


def _parse_ip(term: _Builder, rest: str) -> None:
    if not rest.startswith(":"):
        raise SpfParseError(f'"{term.name}" needs an address after ":" (found "{clip(term.word)}")')
    address, slash, cidr = rest[1:].partition("/")
    version = 4 if term.name == "ip4" else 6
    try:
        # ipaddress accepts an IPv6 zone ("fe80::1%eth0"), which SPF's ip6-network does not.
        if version == 6 and not _IP6_CHARS.fullmatch(address):
            raise ValueError(address)
        if version == 4:
            ipaddress.IPv4Address(address)
        else:
            ipaddress.IPv6Address(address)
    except ValueError:
        raise SpfParseError(
            f'{term.name} address "{clip(address)}" is not a valid IPv{version} address'
            f"{_glued_hint(term.word)}"
        ) from None
    term.address = address
    if slash:
        limit = 32 if version == 4 else 128
        value = _cidr(cidr, limit, term.word)
        if version == 4:
            term.cidr4 = value
        else:
            term.cidr6 = value


def _cidr(digits: str, limit: int, word: str) -> int:
    # RFC 7208 12: ip4-cidr-length / ip6-cidr-length have no leading zeros and a range of 0-32 / 0-128.
    if not _CIDR_DIGITS.fullmatch(digits) or int(digits) > limit:
        raise SpfParseError(
            f'"/{clip(digits, 10)}" is not a valid prefix length (0-{limit}) in "{clip(word)}"'
        )
    return int(digits)


def _check_domain_spec(spec: str, word: str) -> str:
    if not spec:
        raise SpfParseError(f'"{clip(word)}" has an empty domain')
    tokens = _tokenize(spec, word)
    for kind, body in tokens:
        if kind == "macro" and body[0].lower() in _EXP_ONLY_LETTERS:
            raise SpfParseError(
                f'bad macro "%{{{body}}}" in "{clip(word)}": c, r and t are allowed only in explanation text'
            )
    # Every macro-expand stands in as one marker character: enough to check the label structure (an
    # empty label, an over-long literal label) without knowing what the macros expand to.
    skeleton = "".join(_MARK if kind != "literal" else text for kind, text in tokens)
    labels = (skeleton[:-1] if skeleton.endswith(".") else skeleton).split(".")
    problem = None
    if any(not label for label in labels):
        problem = "has an empty label"
    elif any(len(label) > 63 for label in labels):
        problem = "has a label longer than 63 characters"
    elif _MARK not in skeleton and len(".".join(labels)) > 253:
        problem = "is longer than 253 characters"
    elif _MARK not in labels[-1]:
        # RFC 7208 12: domain-end = ( "." toplabel [ "." ] ) / macro-expand; a last label holding a
        # macro is accepted as the macro-expand case.
        if len(labels) < 2:
            problem = "is not a fully qualified domain name"
        elif not _TOPLABEL.fullmatch(labels[-1]):
            problem = f'ends in "{clip(labels[-1], 20)}", which is not a valid top-level label'
    if problem:
        raise SpfParseError(f'the domain "{clip(spec)}" {problem}{_glued_hint(word)}')
    return spec


_Token = tuple[str, str]


def _tokenize(spec: str, word: str) -> list[_Token]:
    """Split a macro-string (RFC 7208 7.1) into ("literal", text), ("escape", char) and ("macro", body)."""
    tokens: list[_Token] = []
    i = 0
    while i < len(spec):
        char = spec[i]
        if char == "%":
            nxt = spec[i + 1 : i + 2]
            if nxt in ("%", "_", "-"):
                tokens.append(("escape", nxt))
                i += 2
                continue
            end = spec.find("}", i + 2) if nxt == "{" else -1
            body = spec[i + 2 : end] if end != -1 else ""
            if end == -1 or not _valid_macro_body(body):
                shown = spec[i : end + 1] if end != -1 else spec[i : i + 2]
                raise SpfParseError(f'bad macro "{clip(shown, 20)}" in "{clip(word)}"')
            tokens.append(("macro", body))
            i = end + 1
            continue
        # RFC 7208 12: macro-literal = %x21-24 / %x26-7E (visible ASCII except "%").
        if not "\x21" <= char <= "\x7e":
            raise SpfParseError(f'"{clip(word)}" contains the character {char!r}, which SPF does not allow')
        if tokens and tokens[-1][0] == "literal":
            tokens[-1] = ("literal", tokens[-1][1] + char)
        else:
            tokens.append(("literal", char))
        i += 1
    return tokens


def _valid_macro_body(body: str) -> bool:
    # RFC 7208 7.1: macro-letter transformers *delimiter, transformers = *DIGIT [ "r" ].
    match = _MACRO_BODY.fullmatch(body)
    if not match or match.group(1).lower() not in _MACRO_LETTERS:
        return False
    # RFC 7208 7.3: if a DIGIT transformer is given it MUST be nonzero.
    return not match.group(2) or match.group(2).strip("0") != ""


@lru_cache(maxsize=4096)  # pure; the SPF walk expands the same terms for every check
def expand_domain_spec(spec: str, domain: str) -> str | None:
    """Expand the macros in ``spec`` that need only the checked domain (d, o, h); None if others occur."""
    tokens = _tokenize(spec, spec)
    out: list[str] = []
    for kind, text in tokens:
        if kind == "literal":
            out.append(text)
        elif kind == "escape":
            # RFC 7208 7.1: "%%" is "%", "%_" is a space, "%-" is a URL-encoded space.
            out.append({"%": "%", "_": " ", "-": "%20"}[text])
        else:
            letter = text[0]
            if letter.lower() not in "odh":
                return None
            out.append(_expand_macro(text, domain))
    return _truncate("".join(out))


def _expand_macro(body: str, value: str) -> str:
    match = _MACRO_BODY.fullmatch(body)
    assert match is not None  # _tokenize only yields valid bodies
    letter, digits, reverse, delimiters = match.groups()
    # RFC 7208 7.3: split on the delimiters (default "."), optionally reverse, keep the rightmost N parts,
    # and join with ".".
    parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
    if reverse:
        parts.reverse()
    significant = digits.lstrip("0")
    if significant:
        # A count beyond the parts available means all of them; huge digit runs never reach int().
        parts = parts[-int(significant) :] if len(significant) < 5 else parts
    expanded = ".".join(parts)
    # RFC 7208 7.3: an upper-case macro letter means the value is URL-escaped.
    return quote(expanded, safe="") if letter.isupper() else expanded


def _truncate(name: str) -> str:
    # RFC 7208 7.3: beyond 253 characters, whole labels are removed from the left until it fits.
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name


def _glued_hint(word: str) -> str:
    match = _GLUED.search(word, 1)
    if not match:
        return ""
    return (
        f' ("{match.group(0)}" looks like the start of another term: a space is missing, often because'
        " the TXT record was split into strings at a space)"
    )
