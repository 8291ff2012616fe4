"""TLS checks: protocol versions, cipher suites and certificates of websites and mail servers."""
