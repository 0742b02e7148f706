"""One base for the bot's own errors, and precise kinds under it.

Messages say what went wrong in words a person can act on; they never name a CLI
flag (the CLI adds that). The CLI maps each kind to an exit code in one place.
"""


class SikmError(Exception):
    """Anything the bot itself reports as a failure."""


class InstallError(SikmError):
    """The installation is broken: a file the package ships is missing."""
