"""Email checks: MX, SPF, DMARC, DKIM, TLS-RPT and domains that send no mail."""
