"""The version, in a module of its own so that any part of secbase can import it early."""

__version__ = "0.1.0"
