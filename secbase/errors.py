"""The one exception tree for our mistakes and the user's; the world misbehaving is a fact instead.

SecbaseError                 anything secbase raises on purpose; the CLI prints it as one line
├── ConfigError              a config file that cannot be read or does not validate (exit 2)
├── CheckLoadError           a check module or its words (YAML) that do not load
├── StoreError               the store cannot be opened, migrated or written
└── LabError                 the lab cannot start (a port taken, not allowed to bind port 53)
"""


class SecbaseError(Exception):
    """Base of every error secbase raises on purpose."""


class ConfigError(SecbaseError):
    """A config file that cannot be read or does not validate."""


class CheckLoadError(SecbaseError):
    """A check module, or the words beside it, that cannot be loaded."""


class StoreError(SecbaseError):
    """The store cannot be opened, migrated or written."""


class LabError(SecbaseError):
    """The lab cannot start."""
