"""Pure parsers for what servers send us (SPF, DMARC, DKIM, TLS-RPT, HSTS, CSP, cookies, security.txt, MTA-STS)."""


class ParseError(ValueError):
    """A record that does not follow its format; the message is one plain-English sentence saying why."""


def clip(text: str, limit: int = 60) -> str:
    """Shorten a quoted piece of a record for an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["ParseError", "clip"]
