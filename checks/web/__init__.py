"""Website checks: HTTPS and its redirect, HSTS, security headers, cookies, security.txt and disclosed software."""
