"""dns.caa: the domain, or the closest parent with CAA records, names who may issue certificates (RFC 8659)."""

from __future__ import annotations

import pytest
from secbase_checks.dns.caa import caa

from secbase import DnsOutcome, Status
from tests.checks.factories import Pair, answer, domain, failed, nodata, nx, run_one

D = "alder.test"
WWW = f"www.{D}"
ISSUE = '0 issue "letsencrypt.org"'


def test_a_caa_record_on_the_name_passes() -> None:
    result = run_one(caa, domain(D), answer(D, "CAA", ISSUE, '0 iodef "mailto:security@alder.test"'))
    assert result.status is Status.PASS
    assert "inherited" not in result.summary
    assert ISSUE in result.evidence.splitlines()


@pytest.mark.parametrize("own", [nodata(WWW, "CAA"), nx(WWW, "CAA")], ids=["nodata", "nxdomain"])
def test_a_caa_record_is_inherited_from_a_parent(own: Pair) -> None:
    result = run_one(caa, domain(WWW), own, answer(D, "CAA", ISSUE))
    assert result.status is Status.PASS
    assert f"inherited from {D}" in result.summary


def test_the_closest_parent_with_caa_wins() -> None:
    name = f"a.b.{D}"
    result = run_one(caa, domain(name), nodata(name, "CAA"), answer(f"b.{D}", "CAA", ISSUE))
    assert f"inherited from b.{D}" in result.summary


def test_no_caa_on_the_name_nor_its_parents_warns() -> None:
    # The climb stops below the top-level domain: no fact for "test" is given, and none is asked for.
    result = run_one(caa, domain(WWW), nodata(WWW, "CAA"), nodata(D, "CAA"))
    assert result.status is Status.WARN
    assert "No CAA record" in result.summary


@pytest.mark.parametrize("outcome", [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL])
def test_dns_timeout_is_error_not_warn(outcome: DnsOutcome) -> None:
    result = run_one(caa, domain(D), failed(D, "CAA", outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


def test_a_parent_lookup_that_times_out_is_error_not_warn() -> None:
    result = run_one(caa, domain(WWW), nodata(WWW, "CAA"), failed(D, "CAA"))
    assert result.status is Status.ERROR
