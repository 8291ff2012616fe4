"""DKIM key records (RFC 6376 section 3.6.1, RFC 8463), the TXT at selector._domainkey.domain."""

import base64
import binascii
import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from secbase.parse import ParseError, clip
from secbase.parse._taglist import parse_tag_list


class DkimParseError(ParseError):
    """A DKIM key record, or the key in it, that cannot be used."""


@dataclass(frozen=True)
class DkimKey:
    """A DKIM key record. ``hash_algorithms`` is empty when h= is absent (RFC 6376: any is allowed)."""

    version: str | None
    key_type: str
    public_key: str
    flags: tuple[str, ...]
    hash_algorithms: tuple[str, ...]
    services: tuple[str, ...]

    @property
    def is_revoked(self) -> bool:
        """RFC 6376 3.6.1: an empty p= means the key has been revoked."""
        return self.public_key == ""

    @property
    def is_testing(self) -> bool:
        """RFC 6376 3.6.1: t=y means the domain is testing DKIM and verifiers treat failures leniently."""
        return "y" in self.flags


_WHITESPACE = re.compile(r"[ \t\r\n]+")
# RFC 6376 3.6.1 / RFC 2045 6.8: base64 in groups of four with "=" padding only at the very end
# (binascii on Python 3.11 lets stray padding through even with validate=True).
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_CRYPTO_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm)


@lru_cache(maxsize=4096)  # pure, and a scan reads the same records many times
def parse_dkim_key(text: str) -> DkimKey:
    """Parse a DKIM key TXT record (the strings already joined); raises DkimParseError."""
    try:
        tags = parse_tag_list(text)
    except ParseError as error:
        raise DkimParseError(str(error)) from None
    # RFC 6376 3.2: tag names are case-sensitive, so "P=" is not "p=".
    values = dict(tags)
    version = values.get("v")
    if version is not None:
        # RFC 6376 3.6.1: if v= is present it MUST be first and MUST be "DKIM1".
        if tags[0][0] != "v":
            raise DkimParseError('the "v=" tag must be the first tag')
        if version != "DKIM1":
            raise DkimParseError(f'v="{clip(version)}" is not a DKIM key record version (expected "DKIM1")')
    if "p" not in values:
        hint = ' (tag names are case-sensitive: "P=" is not "p=")' if "P" in values else ""
        raise DkimParseError(f'the record has no "p=" tag (the public key){hint}')
    public_key = _WHITESPACE.sub("", values["p"])
    if public_key:
        _decode(public_key)
    key_type = values.get("k", "rsa").lower()
    if not key_type:
        raise DkimParseError('the "k=" tag is empty (expected a key type such as rsa or ed25519)')
    return DkimKey(
        version=version,
        key_type=key_type,
        public_key=public_key,
        flags=_colon_list(values.get("t")),
        hash_algorithms=_colon_list(values.get("h")),
        # RFC 6376 3.6.1: s= defaults to "*", all service types.
        services=_colon_list(values["s"]) if "s" in values else ("*",),
    )


def key_bits(key: DkimKey) -> int | None:
    """The key's strength in bits (RSA modulus size; 256 for ed25519), or None if revoked."""
    if key.is_revoked:
        return None
    data = _decode(key.public_key)
    if key.key_type == "rsa":
        return _load_rsa(data).key_size
    if key.key_type == "ed25519":
        _load_ed25519(data)
        return 256
    raise DkimParseError(f'the key type k="{clip(key.key_type)}" is not one secbase can measure')


def _decode(public_key: str) -> bytes:
    compact = _WHITESPACE.sub("", public_key)
    if not _BASE64.fullmatch(compact):
        raise DkimParseError("the p= value is not valid base64")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise DkimParseError("the p= value is not valid base64") from None


def _load_rsa(data: bytes) -> rsa.RSAPublicKey:
    # RFC 6376 3.6.1 says p= is a SubjectPublicKeyInfo, but some providers publish a bare PKCS#1
    # RSAPublicKey; cryptography reads that form only from PEM "RSA PUBLIC KEY".
    try:
        loaded = serialization.load_der_public_key(data)
    except _CRYPTO_ERRORS:
        pem = "\n".join(textwrap.wrap(base64.b64encode(data).decode("ascii"), 64))
        try:
            loaded = serialization.load_pem_public_key(
                f"-----BEGIN RSA PUBLIC KEY-----\n{pem}\n-----END RSA PUBLIC KEY-----\n".encode("ascii")
            )
        except _CRYPTO_ERRORS:
            raise DkimParseError("the p= value is not an RSA public key") from None
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise DkimParseError(f"k=rsa but the p= value holds a {_kind(loaded)} key")
    return loaded


def _load_ed25519(data: bytes) -> None:
    # RFC 8463 4.2: p= is the raw 32-byte public key; a SubjectPublicKeyInfo is tolerated as well.
    try:
        if len(data) == 32:
            ed25519.Ed25519PublicKey.from_public_bytes(data)
            return
        loaded = serialization.load_der_public_key(data)
    except _CRYPTO_ERRORS:
        raise DkimParseError("the p= value is not an ed25519 public key (expected 32 bytes)") from None
    if not isinstance(loaded, ed25519.Ed25519PublicKey):
        raise DkimParseError(f"k=ed25519 but the p= value holds a {_kind(loaded)} key")


def _kind(key: object) -> str:
    return type(key).__name__.removesuffix("PublicKey").removeprefix("_") or "different"


def _colon_list(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    # RFC 6376 3.6.1: colon-separated lists, with FWS allowed around each ":".
    return tuple(item for item in (part.strip(" \t\r\n") for part in value.split(":")) if item)
