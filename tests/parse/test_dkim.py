"""DKIM key record parsing and key strength (RFC 6376 3.6.1, RFC 8463)."""

import base64
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from secbase.parse import ParseError
from secbase.parse.dkim import DkimKey, DkimParseError, key_bits, parse_dkim_key

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@cache
def rsa_spki(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return base64.b64encode(key.public_bytes(*SPKI)).decode()


@cache
def rsa_pkcs1(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return base64.b64encode(der).decode()


@cache
def ed25519_raw() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@cache
def ec_spki() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return base64.b64encode(key.public_bytes(*SPKI)).decode()


def test_the_dkim_error_is_a_parse_error() -> None:
    assert issubclass(DkimParseError, ParseError)


# --- real-world records -----------------------------------------------------------------------------


def test_a_2048_bit_rsa_key_measures_2048_bits() -> None:
    key = parse_dkim_key(f"v=DKIM1; k=rsa; p={rsa_spki(2048)}")
    assert (key.version, key.key_type, key.is_revoked, key.is_testing) == ("DKIM1", "rsa", False, False)
    assert key_bits(key) == 2048


def test_a_1024_bit_rsa_key_measures_1024_bits() -> None:
    assert key_bits(parse_dkim_key(f"v=DKIM1; p={rsa_spki(1024)}")) == 1024


def test_a_bare_pkcs1_rsa_key_is_measured_too() -> None:
    assert key_bits(parse_dkim_key(f"v=DKIM1; k=rsa; p={rsa_pkcs1(1024)}")) == 1024


def test_an_ed25519_key_measures_256_bits() -> None:
    key = parse_dkim_key(f"v=DKIM1; k=ed25519; p={ed25519_raw()}")
    assert key.key_type == "ed25519"
    assert key_bits(key) == 256


def test_an_ed25519_key_published_as_spki_is_tolerated() -> None:
    spki = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(*SPKI)
    assert key_bits(parse_dkim_key(f"k=ed25519; p={base64.b64encode(spki).decode()}")) == 256


def test_an_empty_p_means_the_key_is_revoked() -> None:
    key = parse_dkim_key("v=DKIM1; p=")
    assert key.is_revoked and key.public_key == ""
    assert key_bits(key) is None


def test_a_key_split_across_txt_strings_has_its_whitespace_removed() -> None:
    b64 = rsa_spki(2048)
    folded = b64[:100] + " " + b64[100:200] + "\r\n\t" + b64[200:]
    key = parse_dkim_key(f"v=DKIM1; k=rsa; p={folded}")
    assert key.public_key == b64
    assert key_bits(key) == 2048


def test_defaults_apply_when_optional_tags_are_absent() -> None:
    key = parse_dkim_key(f"p={rsa_spki(1024)}")
    assert (key.version, key.key_type, key.flags, key.hash_algorithms, key.services) == (
        None,
        "rsa",
        (),
        (),
        ("*",),
    )


def test_flags_hashes_and_services_are_split_on_colons() -> None:
    key = parse_dkim_key(f"v=DKIM1; h=sha1 : sha256; k=RSA; s=email; t=y:s; n=a note; p={rsa_spki(1024)}")
    assert key.hash_algorithms == ("sha1", "sha256")
    assert key.services == ("email",)
    assert key.flags == ("y", "s")
    assert key.key_type == "rsa"
    assert key.is_testing


# --- errors -----------------------------------------------------------------------------------------


def test_a_record_without_p_is_an_error() -> None:
    with pytest.raises(DkimParseError, match='no "p=" tag'):
        parse_dkim_key("v=DKIM1; k=rsa")


def test_an_upper_case_p_is_not_p_and_the_error_says_so() -> None:
    with pytest.raises(DkimParseError, match="case-sensitive"):
        parse_dkim_key(f"v=DKIM1; P={rsa_spki(1024)}")


@pytest.mark.parametrize("p", ["not base64!", "QUJD=", "A", "QUJDRA=x", "=", "QUJ\u00e9RA=="])
def test_bad_base64_in_p_is_an_error(p: str) -> None:
    with pytest.raises(DkimParseError):
        parse_dkim_key(f"v=DKIM1; p={p}")


@pytest.mark.parametrize("version", ["DKIM2", "dkim1", "", "DKIM1 x"])
def test_a_version_other_than_dkim1_is_an_error(version: str) -> None:
    with pytest.raises(DkimParseError, match="DKIM1"):
        parse_dkim_key(f"v={version}; p=")


def test_the_version_must_be_the_first_tag() -> None:
    with pytest.raises(DkimParseError, match="first tag"):
        parse_dkim_key("p=; v=DKIM1")


def test_a_duplicate_tag_is_an_error() -> None:
    with pytest.raises(DkimParseError, match="more than once"):
        parse_dkim_key("v=DKIM1; p=; p=")


def test_an_empty_key_type_is_an_error() -> None:
    with pytest.raises(DkimParseError, match="k="):
        parse_dkim_key("v=DKIM1; k=; p=")


def test_a_p_that_is_not_a_key_cannot_be_measured() -> None:
    key = parse_dkim_key("v=DKIM1; p=" + base64.b64encode(b"hello world").decode())
    with pytest.raises(DkimParseError, match="not an RSA public key"):
        key_bits(key)


def test_an_ec_key_under_k_rsa_cannot_be_measured() -> None:
    with pytest.raises(DkimParseError, match="k=rsa but"):
        key_bits(parse_dkim_key(f"v=DKIM1; p={ec_spki()}"))


def test_an_rsa_key_under_k_ed25519_cannot_be_measured() -> None:
    with pytest.raises(DkimParseError, match="k=ed25519 but"):
        key_bits(parse_dkim_key(f"k=ed25519; p={rsa_spki(1024)}"))


def test_an_unknown_key_type_parses_but_cannot_be_measured() -> None:
    key = parse_dkim_key(f"k=dsa; p={rsa_spki(1024)}")
    assert key.key_type == "dsa"
    with pytest.raises(DkimParseError, match='k="dsa"'):
        key_bits(key)


def test_a_hand_built_key_with_bad_base64_cannot_be_measured() -> None:
    with pytest.raises(DkimParseError, match="base64"):
        key_bits(DkimKey(None, "rsa", "%%%", (), (), ("*",)))


# --- properties -------------------------------------------------------------------------------------


def _serialise(key: DkimKey) -> str:
    tags = [("v", key.version)] if key.version is not None else []
    tags += [("k", key.key_type), ("s", ":".join(key.services))]
    tags += [("h", ":".join(key.hash_algorithms))] if key.hash_algorithms else []
    tags += [("t", ":".join(key.flags))] if key.flags else []
    return "; ".join(f"{n}={v}" for n, v in [*tags, ("p", key.public_key)])


def _check(text: str) -> DkimKey | None:
    try:
        key = parse_dkim_key(text)
    except DkimParseError as error:
        assert str(error)
        return None
    assert key.version in (None, "DKIM1")
    assert key.key_type == key.key_type.lower() and key.key_type
    assert not any(c.isspace() for c in key.public_key)
    try:
        bits = key_bits(key)
    except DkimParseError:
        pass
    else:
        assert (bits is None) == key.is_revoked
    assert parse_dkim_key(_serialise(key)) == key
    return key


@given(st.text())
def test_any_text_gives_a_key_or_a_dkim_parse_error(text: str) -> None:
    _check(text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


p_values = st.one_of(
    st.sampled_from(["", "not base64!", "QUJD", "QUJD=", "QU JD", "=="]),
    st.binary(max_size=80).map(_b64),
    st.sampled_from([1024, 2048]).map(rsa_spki),
    st.just(1024).map(rsa_pkcs1),
    st.builds(ed25519_raw),
    st.builds(ec_spki),
    # A real key with a byte flipped or cut short reaches the deeper DER decoding paths.
    st.tuples(st.sampled_from([1024, 2048]).map(rsa_spki), st.integers(0, 200), st.integers(1, 255)).map(
        lambda t: _b64(_flip(base64.b64decode(t[0]), t[1], t[2]))
    ),
    st.tuples(st.just(1024).map(rsa_spki), st.integers(0, 160)).map(
        lambda t: _b64(base64.b64decode(t[0])[: t[1]])
    ),
)


def _flip(data: bytes, index: int, mask: int) -> bytes:
    index %= len(data)
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


tag_choices = st.one_of(
    st.tuples(st.just("p"), p_values),
    st.tuples(st.just("k"), st.sampled_from(["rsa", "ed25519", "RSA", "", "ecdsa"])),
    st.tuples(st.just("v"), st.sampled_from(["DKIM1", "DKIM2", "dkim1"])),
    st.tuples(st.just("t"), st.sampled_from(["y", "s", "y:s", ":", ""])),
    st.tuples(st.sampled_from(["h", "s"]), st.sampled_from(["sha256", "sha1:sha256", "*", "email", ""])),
    st.tuples(st.sampled_from(["n", "P", "x"]), st.sampled_from(["note", ""])),
)
near_valid = st.tuples(
    st.booleans(),
    st.lists(tag_choices, max_size=6),
    st.sampled_from(["; ", ";", " ;\r\n "]),
).map(lambda t: t[2].join(([("v=DKIM1")] if t[0] else []) + [f"{n}={v}" for n, v in t[1]]))


@settings(deadline=None)
@given(near_valid)
def test_near_valid_records_give_a_key_or_a_dkim_parse_error(text: str) -> None:
    _check(text)


@settings(deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["rsa", "ed25519", "other"]))
def test_any_key_bytes_measure_as_bits_or_a_dkim_parse_error(data: bytes, key_type: str) -> None:
    key = DkimKey("DKIM1", key_type, _b64(data), (), (), ("*",))
    try:
        bits = key_bits(key)
    except DkimParseError:
        return
    assert bits is None if not data else isinstance(bits, int) and bits > 0
