"""Wiring: settings → store, file store, mail source, pipeline, desk, outbox.

One typed :class:`App` builds each part on first use; the CLI, the daemon and the
tests all get their parts here. Heavy modules are imported when a part is built,
and named for the type checker only, so ``sikm --version`` stays fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy.engine import Engine

from sikm_mailbot.config import Settings
from sikm_mailbot.intake.driver import Intake
from sikm_mailbot.mail.sources.base import Source
from sikm_mailbot.mail.sources.maildir import MaildirSource
from sikm_mailbot.store.db import open_store
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import utcnow

if TYPE_CHECKING:
    from sikm_mailbot.desk.decisions import Desk
    from sikm_mailbot.intake.pipeline import ReadingPipeline
    from sikm_mailbot.outbox.flush import FlushReport
    from sikm_mailbot.outbox.transports import Transport

log = logging.getLogger(__name__)

SEND_BATCH = 50  # mails per flush between renewals of the outbox lease


class Job(NamedTuple):
    """A scheduler job besides the poll."""

    id: str
    run: Callable[[], object]
    trigger: dict[str, object]  # APScheduler trigger arguments


def source_key(settings: Settings) -> str:
    """A stable name for the inbox folder, used for its UID watermark."""
    inbox = settings.inbox
    if inbox.kind == "imap":
        return f"imap://{inbox.username}@{inbox.host}:{inbox.port}/{inbox.folder}"
    return f"maildir://{settings.path(inbox.path).resolve()}"


def make_source(settings: Settings) -> Source:
    """The configured mail source (not yet opened)."""
    inbox = settings.inbox
    if inbox.kind == "maildir":
        return MaildirSource(settings.path(inbox.path))
    from sikm_mailbot.mail.sources.imap import ImapSource

    port = inbox.port or (993 if inbox.security == "ssl" else 143)
    return ImapSource(
        host=inbox.host,
        port=port,
        username=inbox.username,
        password=inbox.password,
        folder=inbox.folder,
        security=inbox.security,
        verify_tls=inbox.verify_tls,
        ca_file=str(settings.path(inbox.ca_file)) if inbox.ca_file else None,
        processed_folder=inbox.processed_folder,
        quarantine_folder=inbox.quarantine_folder,
        batch_size=inbox.batch_size,
        timeout=inbox.timeout,
    )


def clock_from_env() -> Callable[[], datetime]:
    """The clock: real UTC time, or the fixed instant in $SIKM_NOW (ISO 8601).

    SIKM_NOW exists for drills and tests ("what happens 73 hours later?"); it is
    never needed in production.
    """
    fixed = os.environ.get("SIKM_NOW", "").strip()
    if not fixed:
        return utcnow
    moment = datetime.fromisoformat(fixed)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return lambda: moment


@dataclass
class App:
    """Everything a command needs, built lazily from the settings."""

    settings: Settings
    now: Callable[[], datetime] = field(default_factory=clock_from_env)  # injectable clock
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        """The migrated store (opened on first use)."""
        if self._engine is None:
            data_dir = self.settings.path(self.settings.data_dir)
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._engine = open_store(self.settings.database_url)
        return self._engine

    @cached_property
    def files(self) -> FileStore:
        """The protected file store."""
        return FileStore(self.settings.path(self.settings.store.files_dir))

    def pipeline(self) -> ReadingPipeline:
        """The reading stages for the intake."""
        from sikm_mailbot.intake.pipeline import ReadingPipeline

        return ReadingPipeline(self.settings, self.files, now=self.now)

    def intake(
        self,
        *,
        stop: threading.Event | None = None,
        heartbeat: Callable[[], bool] | None = None,
    ) -> Intake:
        """The configured intake: source, pipeline and limits.

        ``stop`` ends a poll after the message in hand; ``heartbeat`` renews the
        caller's lease after each message (False = lost it: stop).
        """
        return Intake(
            self.engine,
            self.files,
            make_source(self.settings),
            source_key(self.settings),
            pipeline=self.pipeline(),
            max_message_bytes=self.settings.inbox.max_message_bytes,
            stop=stop,
            heartbeat=heartbeat,
        )

    def desk(self) -> Desk:
        """The officer's desk, able to issue permits."""
        from sikm_mailbot.desk.decisions import Desk

        try:
            from sikm_mailbot.permits.issue import PermitIssuer

            issuer = PermitIssuer(self.settings, self.files)
        except ImportError:  # pragma: no cover - permits package incomplete
            issuer = None
        return Desk(self.settings, issuer)

    def transport(self) -> Transport:
        """Where replies go: .eml files (default) or SMTP."""
        from sikm_mailbot.outbox.transports import FileTransport, SmtpTransport

        if self.settings.outbox.kind == "smtp":
            return SmtpTransport(self.settings.outbox)
        return FileTransport(self.outbox_dir)

    def send(self) -> FlushReport:
        """One outbox flush under the "outbox" lease (one sender at a time)."""
        from sqlmodel import Session

        from sikm_mailbot.outbox.flush import FlushReport, flush
        from sikm_mailbot.outbox.sent_copy import sent_folder_appender
        from sikm_mailbot.store.lease import DbLease

        lease = DbLease(self.engine, "outbox", ttl=900)
        lease.acquire()  # LeaseHeld: another process is sending right now
        total = FlushReport()
        try:
            while True:  # in batches, renewing the lease between them
                report = flush(
                    lambda: Session(self.engine, expire_on_commit=False),
                    self.settings.outbox,
                    self.transport(),
                    now=self.now,
                    imap_sent=sent_folder_appender(self.settings),
                    limit=SEND_BATCH,
                )
                total.sent += report.sent
                total.retried += report.retried
                total.failed += report.failed
                total.remaining = report.remaining
                if report.sent + report.failed < SEND_BATCH or not lease.renew():
                    return total
        finally:
            lease.release()

    def guarantor_sweep(self) -> dict[str, int]:
        """Remind silent guarantors once; cancel after the timeout."""
        from sikm_mailbot.desk import guarantor
        from sikm_mailbot.store.db import session_scope

        with session_scope(self.engine) as session:
            counts = guarantor.sweep(session, self.settings, self.now())
        if any(counts.values()):
            log.info("guarantor check: %s", counts)
        return counts

    def overdue_report(self) -> list[str]:
        """The daily log line: files past the one-working-day target (ids only)."""
        from sqlmodel import Session

        from sikm_mailbot.desk.queries import query_applications

        now = self.now()
        with Session(self.engine) as session:
            late = [a.id for a in query_applications(session, overdue=True, now=now)]
        log.warning(
            "overdue report: %d file(s) past the one-working-day target%s",
            len(late),
            (": " + ", ".join(late[:50])) if late else "",
        )
        return late

    def extra_jobs(self) -> list[Job]:
        """Scheduler jobs besides the poll: send, the guarantor sweep, the overdue report."""
        hour, minute = (int(x) for x in self.settings.desk.overdue_report_time.split(":"))
        send_every = self.settings.outbox.send_interval
        return [
            Job("send", self._quiet_send, {"trigger": "interval", "seconds": send_every}),
            Job("guarantor", self.guarantor_sweep, {"trigger": "interval", "seconds": 300}),
            Job(
                "overdue",
                self.overdue_report,
                {"trigger": "cron", "hour": hour, "minute": minute, "timezone": "Asia/Jakarta"},
            ),
        ]

    def _quiet_send(self) -> None:
        from sikm_mailbot.store.lease import LeaseHeld

        try:
            report = self.send()
        except LeaseHeld:
            log.info("outbox: another process is sending; skipped this round")
            return
        if report.sent or report.failed or report.retried:
            log.info(
                "outbox: sent %s, retried %s, failed %s", report.sent, report.retried, report.failed
            )

    @property
    def outbox_dir(self) -> Path:
        """Where the file transport writes replies."""
        return self.settings.path(self.settings.outbox.path)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is logged.

    A plain StreamHandler keeps the stream it was made with; when a caller (a test
    runner, an embedding program) swaps and closes stderr, later log lines would fail.
    """

    @property
    def stream(self):  # type: ignore[override]  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


class _LogFile(logging.FileHandler):
    """The operator log file; a disk that refuses it never stops a command.

    When a line cannot be written (full, read-only), one warning goes to stderr and
    the file is dropped: stderr still gets every line.
    """

    dropped = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.dropped:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging API
        if self.dropped:
            return
        self.dropped = True
        _warn_log_file(self.baseFilename, sys.exc_info()[1])
        with contextlib.suppress(Exception):
            self.close()


def _warn_log_file(path: str | Path, exc: BaseException | None) -> None:
    """The one line said when the log file cannot be used."""
    from sikm_mailbot.store.disk import cause_of, shown

    errno_ = getattr(exc, "errno", None)
    cause = cause_of(errno_) if isinstance(errno_, int) else str(exc)
    sys.stderr.write(f"sikm: warning: log file {shown(path)}: {cause}; logging to stderr only\n")


def _log_file_handler(path: Path) -> logging.Handler | None:
    """A handler for the log file (0600), or None with one warning when it cannot be opened."""
    old = os.umask(0o077)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return _LogFile(path, encoding="utf-8")
    except OSError as exc:
        _warn_log_file(path, exc)
        return None
    finally:
        os.umask(old)


def setup_logging(settings: Settings) -> None:
    """Operator logging: one line per event, to stderr and optionally a file (0600)."""
    handlers: list[logging.Handler] = [_CurrentStderr()]
    log_file = settings.logging.file
    if log_file is not None:
        file_handler = _log_file_handler(settings.path(log_file))
        if file_handler is not None:
            handlers.append(file_handler)
    logging.basicConfig(
        level=settings.logging.level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler logs every job run at INFO: noise that buries the one line per message.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # imapclient logs whole conversations (message bodies) at DEBUG: never let it.
    logging.getLogger("imapclient").setLevel(logging.INFO)
