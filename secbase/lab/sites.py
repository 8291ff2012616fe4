"""The lab towns' websites and mail servers: certificates from the lab CA, each with planted problems.

TLS plants (LAB.md 5: what Python's ssl with OpenSSL 3.0 can serve). Websites: www.alder.test is the
model (TLS 1.2 and 1.3, ECDHE with AEAD, a good certificate); www.birch.test also speaks TLS 1.0 and 1.1
with CBC suites and its certificate expires in 10 days; www.cedar.test speaks only TLS 1.2 and accepts a
NULL suite; Dogwood's sites each carry one certificate or protocol flaw. Mail: mail.alder.test is the
model; Cedar's second and third MX and birch-library.test's own MX carry the same kinds of flaws over
STARTTLS. RC4, 3DES, SSL 2.0/3.0 and EXPORT suites are not planted: Python's ssl (OpenSSL 3.0)
cannot serve them.
"""

from __future__ import annotations

import ssl
from datetime import datetime, timedelta

from secbase.lab.mail import LabMailServer
from secbase.lab.pki import MODERN_CIPHERS, CertKind, KeyType, LabPki
from secbase.lab.web import LabSite

GOOD_HEADERS = {
    "Strict-Transport-Security": ["max-age=31536000; includeSubDomains"],
    "X-Content-Type-Options": ["nosniff"],
    "X-Frame-Options": ["DENY"],
    "Content-Security-Policy": ["default-src 'self'; frame-ancestors 'none'"],
    "Referrer-Policy": ["strict-origin-when-cross-origin"],
}

TLS1 = ssl.TLSVersion.TLSv1
TLS1_1 = ssl.TLSVersion.TLSv1_1
TLS1_2 = ssl.TLSVersion.TLSv1_2
# ECDHE with AEAD first, then ECDHE with AES-CBC: the only kind TLS 1.0 and 1.1 can use (any key type).
# No CCM: Python's clients leave it out too, and CCM8's short tag would muddle the AEAD/CBC split.
CBC_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES:!AESCCM:!aNULL:!eNULL"
# NULL-SHA256: RSA key exchange, no encryption at all. Both need an RSA certificate (key_type="rsa").
NULL_CIPHERS = "ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA256"
# Beyond one ECDHE+AEAD suite, RSA key exchange (no forward secrecy), one of them CBC as well.
NO_FS_CIPHERS = "ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA"
# Dogwood's websites beside www, each with one TLS flaw (see _dogwood_tls_sites): name -> web address n.
DOGWOOD_TLS_SITES = {
    "permits": 10,
    "pay": 11,
    "library": 12,
    "maps": 13,
    "parks": 14,
    "forms": 15,
    "archive": 16,
}


def mail_address(net: int, n: int) -> str:
    """The loopback address of the lab's n-th mail server."""
    return f"127.{net}.40.{n}"


def build_mail_servers(pki: LabPki, *, net: int) -> list[LabMailServer]:
    """Alder's MX passes every STARTTLS and TLS check; Birch's offers no STARTTLS; Cedar's first hangs up.

    Cedar's second MX accepts TLS 1.0 and 1.1 (CBC suites) with an expired certificate; its third speaks
    only TLS 1.2, accepts a NULL suite and has an RSA-1024 key. birch-library.test's own MX hosts show a
    certificate for another name, and one without its intermediate.
    """
    return [
        LabMailServer(
            "mail.alder.test",
            mail_address(net, 1),
            starttls=True,
            cert=pki.issue("mail.alder.test", sans=["mail.alder.test"]),
            tls_min_version=TLS1_2,
            ciphers=MODERN_CIPHERS,
        ),
        LabMailServer("mail.birch.test", mail_address(net, 2), starttls=False, cert=None),
        LabMailServer(
            "mail.cedar.test", mail_address(net, 3), starttls=True, cert=None, behaviour="drop_after_ehlo"
        ),
        LabMailServer(
            "mail2.cedar.test",
            mail_address(net, 4),
            starttls=True,
            cert=pki.issue("mail2.cedar.test", sans=["mail2.cedar.test"], kind="expired"),
            tls_min_version=TLS1,
            ciphers=CBC_CIPHERS,
        ),
        LabMailServer(
            "mail3.cedar.test",
            mail_address(net, 5),
            starttls=True,
            cert=pki.issue("mail3.cedar.test", sans=["mail3.cedar.test"], kind="weak_key"),
            tls_max_version=TLS1_2,
            ciphers=NULL_CIPHERS,
        ),
        LabMailServer(
            "mx2.birch-library.test",
            mail_address(net, 6),
            starttls=True,
            cert=pki.issue("mx2.birch-library.test", sans=["mx2.birch-library.test"], kind="wrong_name"),
        ),
        LabMailServer(
            "mx3.birch-library.test",
            mail_address(net, 7),
            starttls=True,
            cert=pki.issue(
                "mx3.birch-library.test", sans=["mx3.birch-library.test"], kind="missing_intermediate"
            ),
        ),
    ]


def web_address(net: int, n: int) -> str:
    """The loopback address of the lab's n-th web site (DNS in towns.py points the names here)."""
    return f"127.{net}.30.{n}"


def _security_txt(contact: str, expires: datetime) -> str:
    return f"Contact: {contact}\nExpires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\nPreferred-Languages: en, fr\n"


def build_sites(pki: LabPki, *, net: int, now: datetime) -> list[LabSite]:
    """Every town's website. Alder passes every web and TLS check; the others each plant something."""
    alder = LabSite(  # TLS 1.2 and 1.3, ECDHE with AEAD only, a good certificate
        "www.alder.test",
        web_address(net, 1),
        pki.issue("www.alder.test", sans=["www.alder.test"]),
        tls_min_version=TLS1_2,
        ciphers=MODERN_CIPHERS,
        headers=GOOD_HEADERS,
        cookies=["sid=lab; Path=/; Secure; HttpOnly; SameSite=Lax"],
        security_txt=_security_txt("mailto:security@alder.test", now + timedelta(days=300)),
    )
    birch = LabSite(  # no redirect to HTTPS, short HSTS, missing headers, an insecure cookie, versions shown;
        # TLS 1.0 and 1.1 with CBC suites, and a certificate that expires in 10 days
        "www.birch.test",
        web_address(net, 2),
        pki.issue("www.birch.test", sans=["www.birch.test"], kind="expiring"),
        tls_min_version=TLS1,
        ciphers=CBC_CIPHERS,
        http_behaviour="no_redirect",
        headers={"Strict-Transport-Security": ["max-age=86400"], "Server": ["Apache/2.4.41 (Ubuntu)"]},
        cookies=["PHPSESSID=lab; path=/"],
        body=(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="generator" content="WordPress 6.1.1"><title>Town of Birch</title></head>'
            "<body><h1>Town of Birch</h1></body></html>\n"
        ),
    )
    cedar_www = LabSite(  # inline scripts allowed, PHP version shown, security.txt expired;
        # TLS 1.2 only, and a NULL suite (no encryption) beside the good one. The certificate stays good:
        # an RSA-1024 key would stop the web checks' own client, so that flaw lives at Dogwood.
        "www.cedar.test",
        web_address(net, 3),
        pki.issue("www.cedar.test", sans=["www.cedar.test"], key_type="rsa"),
        tls_max_version=TLS1_2,
        ciphers=NULL_CIPHERS,
        headers={
            **GOOD_HEADERS,
            "Content-Security-Policy": ["script-src 'self' 'unsafe-inline'; frame-ancestors 'self'"],
            "X-Powered-By": ["PHP/7.4.3"],
        },
        cookies=["session=lab; Path=/; Secure; HttpOnly"],
        security_txt=_security_txt("mailto:it@cedar.test", now - timedelta(days=20)),
    )
    cedar_apex = LabSite(  # no HTTPS at all; plain HTTP goes to another host before HTTPS
        "cedar.test",
        web_address(net, 6),
        None,
        http_behaviour="redirect_other_host",
        redirect_to="http://www.cedar.test/",
    )
    dogwood = LabSite(  # a certificate no browser accepts
        "www.dogwood.county.test",
        web_address(net, 4),
        pki.issue("www.dogwood.county.test", sans=["www.dogwood.county.test"], kind="self_signed"),
        headers=GOOD_HEADERS,
    )
    mta_sts = [  # the MTA-STS policy hosts (RFC 8461 3.3): Alder enforces, Birch misses its MX, Cedar tests
        LabSite(
            f"mta-sts.{domain}",
            web_address(net, n),
            pki.issue(f"mta-sts.{domain}", sans=[f"mta-sts.{domain}"]),
            http_behaviour="none",
            mta_sts_policy=f"version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 604800\r\n",
        )
        for n, domain, mode, mx in (
            (7, "alder.test", "enforce", "mail.alder.test"),
            (8, "birch.test", "enforce", "*.mail.elsewhere.test"),
            (9, "cedar.test", "testing", "mail.cedar.test"),
        )
    ]
    return [
        alder,
        birch,
        cedar_www,
        cedar_apex,
        dogwood,
        *mta_sts,
        *_dogwood_tls_sites(pki, net=net, now=now),
    ]


def _dogwood_tls_sites(pki: LabPki, *, net: int, now: datetime) -> list[LabSite]:
    """Dogwood's other sites: one TLS flaw each, and otherwise the good headers and a security.txt.

    Four certificates no client accepts (wrong name, expired, missing intermediate, SHA-1), one that
    clients at Python's default security level refuse (RSA-1024), and two protocol plants with good
    certificates: RSA key exchange suites with TLS 1.2 at most, and nothing newer than TLS 1.1.
    """
    security_txt = _security_txt("mailto:it@dogwood.county.test", now + timedelta(days=300))

    def site(
        name: str,
        kind: CertKind = "good",
        *,
        key_type: KeyType = "ec",
        min_version: ssl.TLSVersion | None = None,
        max_version: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
    ) -> LabSite:
        host = f"{name}.dogwood.county.test"
        return LabSite(
            host,
            web_address(net, DOGWOOD_TLS_SITES[name]),
            pki.issue(host, sans=[host], kind=kind, key_type=key_type),
            headers=GOOD_HEADERS,
            security_txt=security_txt,
            tls_min_version=min_version,
            tls_max_version=max_version,
            ciphers=ciphers,
        )

    return [
        site("permits", "wrong_name"),
        site("pay", "expired"),
        site("library", "missing_intermediate"),
        site("maps", "sha1"),
        site("parks", "weak_key"),
        site("forms", key_type="rsa", max_version=TLS1_2, ciphers=NO_FS_CIPHERS),
        site("archive", min_version=TLS1, max_version=TLS1_1, ciphers=CBC_CIPHERS),
    ]
