"""One base for the bot's own errors, and precise kinds under it.

Messages say what went wrong in words a person can act on; they never name a CLI
flag (the CLI adds that). The CLI maps each kind to an exit code in one place:
``UsageError`` → 2, every other ``SikmError`` → 1.
"""


class SikmError(Exception):
    """Anything the bot itself reports as a failure."""


class UsageError(SikmError):
    """The request or the configuration is wrong: fix it and ask again."""


class RefusedError(SikmError):
    """A valid request that cannot be done in the current state (wrong status, busy)."""


class BusyError(RefusedError):
    """Another process holds the lease for this job right now."""


class ExtractionError(SikmError):
    """A mail or a file could not be read."""


class SourceError(SikmError):
    """The mail source (IMAP server or Maildir) failed; the operation may be retried."""


class DeliveryError(SikmError):
    """A reply could not be handed to the mail server."""


class PermitError(SikmError):
    """A permit could not be issued, signed or verified as asked."""


class InstallError(SikmError):
    """The installation is broken: a file the package ships is missing."""


class InvalidRequest(UsageError):
    """A request with a missing or wrong value; ``field`` names it in the bot's words.

    The CLI turns ``field`` into its flag (``note`` → ``--note``) when it prints the
    message, so the library never has to know how a value was given.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StorageError(SikmError):
    """The disk refused: ``path`` cannot be written (or opened) because of ``cause``,
    e.g. ``var/sikm.db: read-only file system``. Nothing was half-written."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"{path}: {cause}")
        self.path = path
        self.cause = cause

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.path, self.cause))
