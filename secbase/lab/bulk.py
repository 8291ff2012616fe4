"""Many lab towns at once, for the benchmark and load tests: realistic record mixes, deterministic from a seed.

`build_bulk(500, now=...)` makes 500 towns (`town0001.test` ...), each its own zone, hosted by ten shared
DNS providers and mailed through shared providers as real municipalities are: an M365-like one (MX per
town, DKIM by CNAME), a Google-like one (five MX hosts), a regional ISP with a deep SPF include chain,
and self-hosted servers. SPF, DMARC, DKIM, TLS-RPT, CAA and DNSSEC are dealt out in fixed proportions
(`_deal`), so even 20 towns carry a mix of passes, failures and unreachable names; which town gets
what depends only on `seed`. Key material is not deterministic: a small pool of RSA keys is made fresh
(and shared between towns), and signed zones get fresh DNSSEC keys.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from secbase.lab.dnssec import sign_zone
from secbase.lab.towns import TTL, _dkim_key, _txt, _zone

__all__ = ["BulkLab", "BulkTown", "build_bulk"]

MAX_TOWNS = 9999  # town0001 ... town9999
SIGNED_SHARE = 0.20  # signing costs ~10 ms a zone: 100 zones for 500 towns add about 1 s to the build

# Shared DNS providers: (name, weight). Providers 3 and 7 keep both name servers in one /24; the second
# name server of provider 9 is dead (its address is not served).
DNS_PROVIDERS = (
    ("dnshost", 25),
    ("webhotel", 18),
    ("countyit", 14),
    ("isp-one", 10),
    ("nameserve", 9),
    ("regiondns", 8),
    ("cloudzone", 6),
    ("isp-two", 5),
    ("dns-north", 3),
    ("smalldns", 2),
)
SAME_24 = frozenset({3, 7})
DEAD_NS2 = frozenset({9})

# Third-party senders a town may include in its SPF: (include target, weight in percent).
SPF_EXTRAS = (
    ("_spf.newsletter.test", 25),  # 2 lookups
    ("spf.helpdesk.test", 20),  # 3 lookups
    ("spf.payroll.test", 20),  # 1 lookup
)
DMARC_VENDOR = "reports.dmarcvendor.test"


@dataclass(frozen=True)
class BulkTown:
    """One generated town: its config entry and what was planted, in words."""

    id: str
    name: str
    domain: str  # what the config declares: the apex, or mail.<apex> for a few
    apex: str  # the town's zone
    dkim_selectors: tuple[str, ...]
    planted: tuple[str, ...]


@dataclass
class BulkLab:
    """Everything a LabDnsServer needs to serve the towns, and the config that scans them."""

    zone_text: str
    addresses: list[str]
    drop: list[str]
    servfail: list[str]
    domains: list[str]
    towns: list[BulkTown]
    net: int
    signed: int = 0  # zones signed with DNSSEC
    meta: dict[str, int] = field(default_factory=dict)  # how many towns carry each planted trait

    @property
    def resolver(self) -> str:
        return f"127.{self.net}.0.1"

    def config(self, timeout_s: float = 2.0, concurrency: int = 64, per_server: int = 64) -> dict[str, Any]:
        """A secbase config dict (for Config.model_validate) scanning every town through the lab resolver."""
        return {
            "version": 1,
            "scan": {
                "resolvers": [self.resolver],
                "timeout": timeout_s,
                "concurrency": concurrency,
                "per_server": per_server,
            },
            "organisations": [
                {
                    "id": t.id,
                    "name": t.name,
                    "contacts": [f"it@{t.apex}"],
                    "domains": [t.domain],
                    **({"dkim_selectors": list(t.dkim_selectors)} if t.dkim_selectors else {}),
                }
                for t in self.towns
            ],
        }


def _deal(rng: random.Random, n: int, shares: dict[str, float]) -> list[str]:
    """n labels in the given proportions (largest remainder, so small n still get the big ones), shuffled."""
    total = sum(shares.values())
    exact = {k: n * v / total for k, v in shares.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    out = [k for k, c in counts.items() for _ in range(c)]
    rng.shuffle(out)
    return out


def _pick(rng: random.Random, n: int, count: int, among: list[int] | None = None) -> set[int]:
    pool = list(range(n)) if among is None else among
    return set(rng.sample(pool, min(count, len(pool))))


class _Infra:
    """The shared providers' zones, grown as towns are added (M365-like MX hosts and DKIM targets)."""

    def __init__(self, net: int) -> None:
        self.net = net
        self.providers: list[list[tuple[str, str]]] = []
        self.served: set[str] = {f"127.{net}.0.1"}
        for k, (name, _) in enumerate(DNS_PROVIDERS):
            octet = 10 + 2 * k
            ns1 = f"127.{net}.{octet}.1"
            ns2 = f"127.{net}.{octet}.2" if k in SAME_24 else f"127.{net}.{octet + 1}.1"
            self.providers.append([(f"ns1.{name}.test", ns1), (f"ns2.{name}.test", ns2)])
            self.served.add(ns1)
            if k not in DEAD_NS2:
                self.served.add(ns2)
        self.exch_hosts: list[str] = []
        self.onexch: list[str] = []
        self.vendor_ok: list[str] = []

    def host_ip(self, i: int, block: int) -> str:
        """An address for a mail or web host: on loopback, never served, never contacted by these checks."""
        return f"127.{self.net}.{200 + block}.{1 + i % 250}"

    def zones(self) -> str:
        ns = self.providers[0]
        out = []
        for k, (name, _) in enumerate(DNS_PROVIDERS):
            pns = self.providers[k]
            out.append(_zone(f"{name}.test", pns, [f"{name}.test. {TTL} IN A {self.host_ip(k, 9)}"]))
        txt = "IN TXT"
        out.append(
            _zone(
                "exch.test",
                ns,
                [
                    f"spf.protection.exch.test. {TTL} {txt} "
                    + _txt("v=spf1 include:spfa.protection.exch.test include:spfb.protection.exch.test -all"),
                    f"spfa.protection.exch.test. {TTL} {txt} "
                    + _txt("v=spf1 ip4:203.0.113.0/25 ip6:2001:db8:10::/48 -all"),
                    f"spfb.protection.exch.test. {TTL} {txt} "
                    + _txt("v=spf1 ip4:203.0.113.128/25 ip6:2001:db8:11::/48 -all"),
                    *self.exch_hosts,
                ],
            )
        )
        out.append(_zone("onexch.test", ns, self.onexch or [f"onexch.test. {TTL} IN A {self.host_ip(1, 9)}"]))
        google = [
            ("aspmx.l", 1),
            ("alt1.aspmx.l", 5),
            ("alt2.aspmx.l", 5),
            ("alt3.aspmx.l", 10),
            ("alt4.aspmx.l", 10),
        ]
        out.append(
            _zone(
                "gsuite.test",
                ns,
                [
                    *(f"{h}.gsuite.test. {TTL} IN A {self.host_ip(j, 8)}" for j, (h, _) in enumerate(google)),
                    f"_spf.gsuite.test. {TTL} {txt} "
                    + _txt(
                        "v=spf1 include:_netblocks.gsuite.test include:_netblocks2.gsuite.test "
                        "include:_netblocks3.gsuite.test ~all"
                    ),
                    *(
                        f"_netblocks{s}.gsuite.test. {TTL} {txt} "
                        + _txt(
                            f"v=spf1 ip4:198.18.{j}.0/24 ip4:198.19.{j}.0/24 ip6:2001:db8:{20 + j}::/48 ~all"
                        )
                        for j, s in enumerate(("", "2", "3"))
                    ),
                ],
            )
        )
        out.append(
            _zone(
                "regionmail.test",
                ns,
                [
                    f"regionmail.test. {TTL} IN MX 10 mx1.regionmail.test.",
                    f"regionmail.test. {TTL} IN MX 20 mx2.regionmail.test.",
                    *(
                        f"{h}.regionmail.test. {TTL} IN A {self.host_ip(j, 7)}"
                        for j, h in enumerate(("mx1", "mx2", "smtp", "relay"))
                    ),
                    # Three levels deep and six lookups: a+mx+include, include, a.
                    f"spf.regionmail.test. {TTL} {txt} "
                    + _txt(
                        "v=spf1 a:smtp.regionmail.test mx:regionmail.test include:spf2.regionmail.test ~all"
                    ),
                    f"spf2.regionmail.test. {TTL} {txt} "
                    + _txt("v=spf1 ip4:192.0.2.128/26 include:spf3.regionmail.test ~all"),
                    f"spf3.regionmail.test. {TTL} {txt} "
                    + _txt("v=spf1 a:relay.regionmail.test ip4:192.0.2.192/26 ~all"),
                ],
            )
        )
        out.append(
            _zone(
                "newsletter.test",
                ns,
                [
                    f"_spf.newsletter.test. {TTL} {txt} "
                    + _txt("v=spf1 include:servers.newsletter.test ~all"),
                    f"servers.newsletter.test. {TTL} {txt} "
                    + _txt("v=spf1 ip4:198.51.100.0/26 ip4:198.51.100.64/26 ~all"),
                ],
            )
        )
        out.append(
            _zone(
                "helpdesk.test",
                ns,
                [
                    f"spf.helpdesk.test. {TTL} {txt} "
                    + _txt("v=spf1 a:mail1.helpdesk.test a:mail2.helpdesk.test ~all"),
                    f"mail1.helpdesk.test. {TTL} IN A {self.host_ip(1, 6)}",
                    f"mail2.helpdesk.test. {TTL} IN A {self.host_ip(2, 6)}",
                ],
            )
        )
        out.append(
            _zone(
                "payroll.test",
                ns,
                [f"spf.payroll.test. {TTL} {txt} " + _txt("v=spf1 ip4:198.51.100.200/29 -all")],
            )
        )
        out.append(
            _zone(
                "dmarcvendor.test",
                ns,
                [f"{DMARC_VENDOR}. {TTL} IN A {self.host_ip(3, 6)}", *self.vendor_ok],
            )
        )
        return "".join(out)


def build_bulk(n: int, *, now: datetime, net: int = 55, seed: int = 1) -> BulkLab:
    """Make `n` towns on 127.`net`.x.y: the resolver at .0.1 answers for all of them, as in the lab."""
    if not 1 <= n <= MAX_TOWNS:
        raise ValueError(f"n must be from 1 to {MAX_TOWNS}, got {n}")
    if not 1 <= net <= 254:
        raise ValueError(f"the lab network 127.{net}.x.x is not usable; pick a number from 1 to 254")
    rng = random.Random(seed)
    infra = _Infra(net)
    keys = {"2048": [_dkim_key(2048) for _ in range(4)], "1024": [_dkim_key(1024) for _ in range(2)]}

    mail = _deal(rng, n, {"exch": 0.40, "gsuite": 0.15, "region": 0.20, "self": 0.20, "none": 0.05})
    spf = _deal(
        rng, n, {"-all": 0.55, "~all": 0.28, "?all": 0.05, "missing": 0.08, "two": 0.02, "badsplit": 0.02}
    )
    dmarc = _deal(rng, n, {"reject": 0.30, "quarantine": 0.25, "none": 0.30, "missing": 0.12, "syntax": 0.03})
    rua = _deal(rng, n, {"own": 0.40, "vendor_ok": 0.30, "vendor_unauth": 0.10, "none": 0.20})
    dkim_q = _deal(rng, n, {"2048": 0.77, "1024": 0.12, "missing": 0.08, "revoked": 0.03})
    tlsrpt = _deal(rng, n, {"good": 0.27, "norua": 0.03, "none": 0.70})
    caa = _deal(rng, n, {"yes": 0.40, "no": 0.60})
    weights = [w for _, w in DNS_PROVIDERS]
    provider = [rng.choices(range(len(DNS_PROVIDERS)), weights)[0] for _ in range(n)]
    fail_count = max(1, round(n * 0.01))
    failing = _pick(rng, n, 2 * fail_count)
    dropped = set(sorted(failing)[::2])
    servfailed = failing - dropped
    healthy = [i for i in range(n) if i not in failing]
    subdomain = _pick(rng, n, max(1, round(n * 0.05)) if n >= 10 else 0, healthy)
    signed = _pick(rng, n, round(n * SIGNED_SHARE), healthy)
    broken_kinds = ["expired", "ds_mismatch"][: 1 if n < 50 else 2]
    broken = dict(zip(sorted(signed)[: len(broken_kinds)], broken_kinds, strict=True)) if signed else {}

    towns: list[BulkTown] = []
    texts: list[str] = []
    ds_lines: list[str] = []
    drop: list[str] = []
    servfail: list[str] = []
    meta: dict[str, int] = {}
    for i in range(n):
        tid = f"town{i + 1:04d}"
        apex = f"{tid}.test"
        domain = f"mail.{apex}" if i in subdomain else apex
        dashed = domain.replace(".", "-")
        planted: list[str] = [f"mail: {mail[i]}", f"dns: {DNS_PROVIDERS[provider[i]][0]}"]
        body = [
            f"{apex}. {TTL} IN A {infra.host_ip(i, 10)}",
            f"www.{apex}. {TTL} IN CNAME {apex}.",
        ]
        if i in subdomain:
            planted.append("declared as mail.<town>: DMARC only at the organisational domain")
            body.append(f"{domain}. {TTL} IN A {infra.host_ip(i, 11)}")

        # MX and DKIM, by mail provider.
        selectors: tuple[str, ...] = ()
        kind = mail[i]
        spf_terms: list[str] = []
        if kind == "exch":
            host = f"{dashed}.mail.protection.exch.test"
            body.append(f"{domain}. {TTL} IN MX 0 {host}.")
            infra.exch_hosts.append(f"{host}. {TTL} IN A {infra.host_ip(i, 20)}")
            body.append(f"{apex}. {TTL} IN TXT " + _txt(f"MS=ms{rng.randrange(10**7, 10**8)}"))
            spf_terms.append("include:spf.protection.exch.test")
            selectors = ("selector1", "selector2")
        elif kind == "gsuite":
            for pref, h in ((1, "aspmx.l"), (5, "alt1.aspmx.l"), (5, "alt2.aspmx.l")):
                body.append(f"{domain}. {TTL} IN MX {pref} {h}.gsuite.test.")
            for pref, h in ((10, "alt3.aspmx.l"), (10, "alt4.aspmx.l")):
                body.append(f"{domain}. {TTL} IN MX {pref} {h}.gsuite.test.")
            body.append(
                f"{apex}. {TTL} IN TXT " + _txt(f"google-site-verification={rng.getrandbits(64):016x}")
            )
            spf_terms.append("include:_spf.gsuite.test")
            selectors = ("google",)
        elif kind == "region":
            body.append(f"{domain}. {TTL} IN MX 10 mx1.regionmail.test.")
            body.append(f"{domain}. {TTL} IN MX 20 mx2.regionmail.test.")
            if rng.random() < 0.4:
                spf_terms.append("a mx")  # left over from the old self-hosted server
            spf_terms.append("include:spf.regionmail.test")
            selectors = ("rm2024",) if rng.random() < 0.6 else ("rm2023", "rm2024")
        elif kind == "self":
            body.append(f"{domain}. {TTL} IN MX 10 mx.{apex}.")
            body.append(f"mx.{apex}. {TTL} IN A {infra.host_ip(i, 30)}")
            if rng.random() < 0.15:
                body.append(f"{domain}. {TTL} IN MX 20 mx2.{apex}.")  # the backup MX host has no address
                planted.append("an MX host without an address")
            spf_terms.append("mx")
            if rng.random() < 0.1:
                spf_terms.append(f"a:oldmail.{apex}")  # a void lookup
                planted.append("SPF void lookup")
            if rng.random() < 0.85:
                selectors = ("s1",) if rng.random() < 0.7 else ("s1", "s2")
        else:
            if rng.random() < 0.5:
                body.append(f"{domain}. {TTL} IN MX 0 .")  # null MX on a domain declared as sending mail
            spf_terms.append(f"ip4:192.0.2.{i % 250}")
        if kind in ("exch", "region") and rng.random() < 0.1:
            spf_terms.append("include:_spf.gsuite.test")  # migrating, or a second system nobody removed
        if rng.random() < 0.4:
            spf_terms.append(f"ip4:198.51.100.{i % 250}")
        for target, pct in SPF_EXTRAS:
            if rng.randrange(100) < pct and kind != "none":
                spf_terms.append(f"include:{target}")

        quality = dkim_q[i]
        for j, sel in enumerate(selectors):
            q = quality if j == len(selectors) - 1 else "2048"
            if q == "missing":
                record = None
            elif q == "revoked":
                record = "v=DKIM1; k=rsa; p="
            else:
                record = f"v=DKIM1; k=rsa; p={rng.choice(keys[q])}"
            if kind == "exch":
                target = f"{sel}-{dashed}._domainkey.{tid}.onexch.test"
                body.append(f"{sel}._domainkey.{domain}. {TTL} IN CNAME {target}.")
                if record is not None:
                    infra.onexch.append(f"{target}. {TTL} IN TXT " + _txt(record))
            elif record is not None:
                body.append(f"{sel}._domainkey.{domain}. {TTL} IN TXT " + _txt(record))
        if selectors:
            planted.append(f"DKIM {quality}")

        # SPF.
        qual = spf[i]
        planted.append(f"SPF {qual}")
        all_term = qual if qual.endswith("all") else "-all"
        spf_text = " ".join(["v=spf1", *spf_terms, all_term])
        if qual == "two":
            body.append(f"{domain}. {TTL} IN TXT " + _txt(spf_text))
            body.append(f"{domain}. {TTL} IN TXT " + _txt("v=spf1 mx -all"))
        elif qual == "badsplit":
            # Split at a space that the provider's form then dropped: joined, the last two terms run together.
            head, _, tail = spf_text.rpartition(" ")
            body.append(f'{domain}. {TTL} IN TXT "{head}" "{tail}"')
        elif qual != "missing":
            if len(spf_terms) >= 3 and rng.random() < 0.3:
                head, _, tail = spf_text.partition(" include:")  # a good split, keeping the space
                body.append(f'{domain}. {TTL} IN TXT "{head} " "include:{tail}"')
                planted.append("SPF in two strings")
            else:
                body.append(f"{domain}. {TTL} IN TXT " + _txt(spf_text))

        # DMARC, at the organisational domain for the towns declared as mail.<town>.
        policy = dmarc[i]
        planted.append(f"DMARC {policy}")
        tags = ["v=DMARC1", f"p={policy}"]
        if policy in ("reject", "quarantine") and rng.random() < 0.2:
            tags.append(f"pct={rng.choice((25, 50))}")
        if i in subdomain and rng.random() < 0.5:
            tags.append("sp=quarantine")
        reporting = rua[i]
        if reporting == "own":
            tags.append(f"rua=mailto:dmarc@{apex}")
        elif reporting.startswith("vendor"):
            tags.append(f"rua=mailto:{tid}@{DMARC_VENDOR}")
            if reporting == "vendor_ok":
                infra.vendor_ok.append(
                    f"{apex}._report._dmarc.{DMARC_VENDOR}. {TTL} IN TXT " + _txt("v=DMARC1")
                )
        # The syntax error: no semicolons, so "p" reads as one unknown tag.
        dmarc_text = f"v=DMARC1 p=reject rua=mailto:dmarc@{apex}" if policy == "syntax" else "; ".join(tags)
        if policy != "missing":
            body.append(f"_dmarc.{apex}. {TTL} IN TXT " + _txt(dmarc_text))

        # TLS-RPT and CAA.
        if tlsrpt[i] != "none":
            value = f"v=TLSRPTv1; rua=mailto:tlsrpt@{apex}" if tlsrpt[i] == "good" else "v=TLSRPTv1;"
            body.append(f"_smtp._tls.{domain}. {TTL} IN TXT " + _txt(value))
            planted.append(f"TLS-RPT {tlsrpt[i]}")
        if caa[i] == "yes":
            body.append(f'{apex}. {TTL} IN CAA 0 issue "letsencrypt.org"')
            if rng.random() < 0.3:
                body.append(f'{apex}. {TTL} IN CAA 0 issue "sectigo.test"')
            if rng.random() < 0.3:
                body.append(f'{apex}. {TTL} IN CAA 0 iodef "mailto:security@{apex}"')
            planted.append("CAA")

        ns = infra.providers[provider[i]]
        text = _zone(apex, ns, body)
        if i in signed:
            zone = sign_zone(apex, text, now=now, broken=broken.get(i))
            text = zone.text
            ds_lines.append(zone.ds)
            planted.append(f"DNSSEC {broken.get(i, 'signed')}")
        texts.append(text)

        if i in dropped:
            whole = len(drop) % 2 == 1
            drop.append(domain if whole else f"_dmarc.{apex}")
            planted.append("DNS times out on the domain itself" if whole else "DNS times out on _dmarc")
        if i in servfailed:
            servfail += [domain, f"_smtp._tls.{domain}"]
            planted.append("DNS answers SERVFAIL")
        for p in planted:
            meta[p] = meta.get(p, 0) + 1
        towns.append(BulkTown(tid, f"Town {i + 1:04d}", domain, apex, selectors, tuple(planted)))

    parent = _zone("test", [("ns.test", f"127.{net}.0.1")], ds_lines)
    zone_text = parent + infra.zones() + "".join(texts)
    return BulkLab(
        zone_text=zone_text,
        addresses=sorted(infra.served, key=lambda a: tuple(int(x) for x in a.split("."))),
        drop=drop,
        servfail=servfail,
        domains=[t.domain for t in towns],
        towns=towns,
        net=net,
        signed=len(signed),
        meta=meta,
    )
