"""Pure parsers for the DNS text records secbase checks (SPF, DMARC, DKIM, TLS-RPT), and their error base."""


class ParseError(ValueError):
    """A record that does not follow its format; the message is one plain-English sentence saying why."""


__all__ = ["ParseError"]
