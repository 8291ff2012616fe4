"""The lab towns' websites: HTTPS sites with certificates from the lab CA, each with planted problems."""

from __future__ import annotations

from datetime import datetime, timedelta

from secbase.lab.mail import LabMailServer
from secbase.lab.pki import LabPki
from secbase.lab.web import LabSite

GOOD_HEADERS = {
    "Strict-Transport-Security": ["max-age=31536000; includeSubDomains"],
    "X-Content-Type-Options": ["nosniff"],
    "X-Frame-Options": ["DENY"],
    "Content-Security-Policy": ["default-src 'self'; frame-ancestors 'none'"],
    "Referrer-Policy": ["strict-origin-when-cross-origin"],
}


def mail_address(net: int, n: int) -> str:
    """The loopback address of the lab's n-th mail server."""
    return f"127.{net}.40.{n}"


def build_mail_servers(pki: LabPki, *, net: int) -> list[LabMailServer]:
    """Alder's MX offers STARTTLS with a trusted certificate; Birch's offers none; Cedar's hangs up."""
    return [
        LabMailServer(
            "mail.alder.test",
            mail_address(net, 1),
            starttls=True,
            cert=pki.issue("mail.alder.test", sans=["mail.alder.test"]),
        ),
        LabMailServer("mail.birch.test", mail_address(net, 2), starttls=False, cert=None),
        LabMailServer(
            "mail.cedar.test", mail_address(net, 3), starttls=True, cert=None, behaviour="drop_after_ehlo"
        ),
    ]


def web_address(net: int, n: int) -> str:
    """The loopback address of the lab's n-th web site (DNS in towns.py points the names here)."""
    return f"127.{net}.30.{n}"


def _security_txt(contact: str, expires: datetime) -> str:
    return f"Contact: {contact}\nExpires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\nPreferred-Languages: en, fr\n"


def build_sites(pki: LabPki, *, net: int, now: datetime) -> list[LabSite]:
    """Every town's website. Alder passes every web check; the others each plant something."""
    alder = LabSite(
        "www.alder.test",
        web_address(net, 1),
        pki.issue("www.alder.test", sans=["www.alder.test"]),
        headers=GOOD_HEADERS,
        cookies=["sid=lab; Path=/; Secure; HttpOnly; SameSite=Lax"],
        security_txt=_security_txt("mailto:security@alder.test", now + timedelta(days=300)),
    )
    birch = LabSite(  # no redirect to HTTPS, short HSTS, missing headers, an insecure cookie, versions shown
        "www.birch.test",
        web_address(net, 2),
        pki.issue("www.birch.test", sans=["www.birch.test"]),
        http_behaviour="no_redirect",
        headers={"Strict-Transport-Security": ["max-age=86400"], "Server": ["Apache/2.4.41 (Ubuntu)"]},
        cookies=["PHPSESSID=lab; path=/"],
        body=(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="generator" content="WordPress 6.1.1"><title>Town of Birch</title></head>'
            "<body><h1>Town of Birch</h1></body></html>\n"
        ),
    )
    cedar_www = LabSite(  # inline scripts allowed, PHP version shown, security.txt expired
        "www.cedar.test",
        web_address(net, 3),
        pki.issue("www.cedar.test", sans=["www.cedar.test"]),
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
    return [alder, birch, cedar_www, cedar_apex, dogwood, *mta_sts]
