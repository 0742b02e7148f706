"""Configuration: a TOML file validated into typed settings, with clear errors.

No file at all gives the built-in default: a Maildir inbox under ``./var/mail/inbox``,
SQLite at ``./var/sikm.db``, files under ``./var/files`` and replies written as
``.eml`` files into ``./var/outbox``. Relative paths in a config file are taken
relative to the file's own folder, so the daemon behaves the same from any cwd.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sikm_mailbot.errors import UsageError

DEFAULT_CONFIG_NAME = "config.toml"


class ConfigError(UsageError):
    """The configuration cannot be used; the message names the key and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class OfficeSettings(_Section):
    """Who the bot speaks for."""

    name: str = "Dinas Penanaman Modal dan PTSP Provinsi DKI Jakarta"
    address: str = "sikm@sikm.example.org"  # From: of every reply
    message_id_domain: str = "sikm.example.org"  # right side of our Message-IDs
    tracking_prefix: Annotated[str, Field(pattern=r"^[A-Z]{2,8}$")] = "SIKM"


class InboxSettings(_Section):
    """Where incoming mail is read from."""

    kind: Literal["maildir", "imap"] = "maildir"
    path: Path = Path("var/mail/inbox")  # maildir only
    host: str = ""
    port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0 = 993 (ssl) or 143
    security: Literal["ssl", "starttls", "none"] = "ssl"
    verify_tls: bool = True
    ca_file: Path | None = None
    username: str = ""
    password: str = ""
    password_file: Path | None = None
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    batch_size: PositiveInt = 20
    timeout: PositiveFloat = 30.0
    idle: bool = True
    max_message_bytes: PositiveInt = 25 * 1024 * 1024
    # The office MTA's authserv-id (RFC 8601): only its Authentication-Results count.
    # Empty = sender authentication is unknown; only replies to our mail bind.
    trusted_authserv_id: str = ""

    @model_validator(mode="after")
    def _imap_needs_host(self) -> InboxSettings:
        if self.kind == "imap" and not self.host:
            raise ValueError("inbox.host is required when inbox.kind = 'imap'")
        return self


class IntakeSettings(_Section):
    """How often and how carefully mail is read."""

    poll_interval: PositiveFloat = 60.0
    max_attachments: PositiveInt = 20
    max_attachment_bytes: PositiveInt = 10 * 1024 * 1024
    max_pdf_pages: PositiveInt = 20
    parse_timeout: PositiveFloat = 20.0
    parse_cpu_seconds: PositiveInt = 15
    parse_memory_mb: PositiveInt = 768


class OutboxSettings(_Section):
    """How replies leave: .eml files (default) or SMTP."""

    kind: Literal["files", "smtp"] = "files"
    path: Path = Path("var/outbox")
    host: str = ""
    port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0 = 465 (ssl) or 587 (starttls) or 25
    security: Literal["ssl", "starttls", "none"] = "starttls"
    verify_tls: bool = True
    ca_file: Path | None = None
    username: str = ""
    password: str = ""
    password_file: Path | None = None
    timeout: PositiveFloat = 30.0
    send_interval: PositiveFloat = 30.0
    max_attempts: PositiveInt = 8
    retry_base_seconds: PositiveFloat = 60.0
    replies_per_hour: PositiveInt = 5  # per recipient, loop safety
    guarantor_mails_per_day: PositiveInt = 5  # requests + reminders to one guarantor in 24 h
    sent_folder: str = ""  # IMAP folder to keep a copy in; empty = no copy

    @model_validator(mode="after")
    def _smtp_needs_host(self) -> OutboxSettings:
        if self.kind == "smtp" and not self.host:
            raise ValueError("outbox.host is required when outbox.kind = 'smtp'")
        return self


class StoreSettings(_Section):
    """The database and the protected file store."""

    database_url: str = ""  # empty = sqlite:///<data_dir>/sikm.db
    files_dir: Path = Path("var/files")


class PermitSettings(_Section):
    """Signing keys and how permits are sealed."""

    keys_dir: Path = Path("var/keys")
    issuer: str = "DPMPTSP DKI Jakarta"
    # True: the QR token is signed, then encrypted for checkpoint devices (only they
    # can read it). False: signed only, readable and verifiable by anyone.
    encrypt_qr: bool = True
    # "none", or "birthdate": the PDF is AES-256 encrypted with the holder's birth
    # date as DDMMYYYY (told in the permit mail, never the date itself).
    pdf_password: Literal["none", "birthdate"] = "none"
    # Environment variable holding the passphrase of the private key files (optional).
    passphrase_env: str = "SIKM_KEY_PASSPHRASE"
    clock_skew_seconds: Annotated[int, Field(ge=0, le=3600)] = 300


class DeskSettings(_Section):
    """The officers' desk: guarantor check and service targets."""

    guarantor_timeout_hours: PositiveFloat = 72.0
    guarantor_reminder_hours: PositiveFloat = 48.0
    overdue_report_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "07:00"


class LoggingSettings(_Section):
    """Operator logs (never personal data)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: Path | None = None


class Settings(_Section):
    """All settings; every key is documented in config.example.toml."""

    data_dir: Path = Path("var")
    office: OfficeSettings = OfficeSettings()
    inbox: InboxSettings = InboxSettings()
    intake: IntakeSettings = IntakeSettings()
    outbox: OutboxSettings = OutboxSettings()
    store: StoreSettings = StoreSettings()
    permits: PermitSettings = PermitSettings()
    desk: DeskSettings = DeskSettings()
    logging: LoggingSettings = LoggingSettings()

    # Filled by load_settings(): where relative paths are anchored, and the file
    # the settings came from (None = the built-in default).
    base_dir: Path = Field(default=Path("."), exclude=True)
    config_file: Path | None = Field(default=None, exclude=True)

    def path(self, p: Path) -> Path:
        """An absolute path for a configured path (relative ones hang off base_dir)."""
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the store."""
        if self.store.database_url:
            return self.store.database_url
        return f"sqlite:///{self.path(self.data_dir) / 'sikm.db'}"


def _read_secret(section: str, key_env: str, password: str, password_file: Path | None) -> str:
    """A secret from the environment first, then a file, then the config value."""
    env = os.environ.get(key_env)
    if env:
        return env
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{section}.password_file: cannot read {password_file}: {exc}"
            ) from exc
    return password


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    msg = first["msg"].removeprefix("Value error, ")
    return f"bad value for '{key}': {msg}"


def load_settings(path: Path | None = None) -> Settings:
    """Load settings from ``path``; None = ./config.toml when present, else defaults.

    Raises ConfigError (the CLI exits 2) naming the key when a key is unknown or
    a value is bad.
    """
    if path is None:
        candidate = Path(DEFAULT_CONFIG_NAME)
        path = candidate if candidate.exists() else None
    data: dict = {}
    base = Path.cwd()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        base = path.resolve().parent
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        raise ConfigError(where + _format_error(exc)) from exc
    settings.base_dir = base
    settings.config_file = path.resolve() if path is not None else None
    for name, section, env in (
        ("inbox", settings.inbox, "SIKM_IMAP_PASSWORD"),
        ("outbox", settings.outbox, "SIKM_SMTP_PASSWORD"),
    ):
        if section.password_file is not None:
            section.password_file = settings.path(section.password_file)
        section.password = _read_secret(name, env, section.password, section.password_file)
    return settings
