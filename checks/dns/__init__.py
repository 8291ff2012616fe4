"""DNS checks: DNSSEC, CAA and name servers."""
