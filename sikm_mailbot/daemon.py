"""`sikm run`: the daemon. APScheduler runs the jobs; IMAP IDLE wakes the poll early.

Signals: SIGTERM/SIGINT set a stop flag; the poll finishes the message in hand,
the scheduler waits for running jobs, the lease is released, and the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler

from sikm_mailbot.mail.extract.ocr import ocr_available
from sikm_mailbot.store.lease import DbLease
from sikm_mailbot.wiring import App, Job, make_source

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 600.0  # re-issue IDLE well before the 29-minute server limit


class Daemon:
    """The scheduled worker: poll, send, the guarantor sweep and the overdue report."""

    def __init__(self, app: App, stop: threading.Event | None = None) -> None:
        self.app = app
        self.stop = stop or threading.Event()
        self.wake = threading.Event()  # new mail announced by IDLE
        self.lease = DbLease(
            app.engine, "intake", ttl=max(120.0, 3 * app.settings.intake.poll_interval)
        )
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.intake = app.intake(stop=self.stop, heartbeat=self.lease.renew)
        self.extra_jobs: list[Job] = app.extra_jobs()

    def poll_job(self) -> None:
        """Intake cycles until no wake-up came in meanwhile; errors are logged, never fatal.

        IMAP IDLE may announce mail while a poll runs; that wake-up cannot start a
        second poll (max_instances=1), so this one polls again instead of letting the
        mail wait for the next interval.
        """
        while not self.stop.is_set():
            self.wake.clear()
            try:
                report = self.intake.poll()
                if report.fetched or report.resumed or report.failed:
                    log.info("poll: %s", report.as_dict())
            except Exception:  # noqa: BLE001 - the daemon keeps running; next poll retries
                log.exception("poll failed; will retry at the next interval")
                return
            if not self.wake.is_set():
                return

    def _guarded(self, job_id: str, func: Callable[[], object]) -> Callable[[], None]:
        """A job that logs its errors instead of dying, and skips once stopping."""

        def run() -> None:
            if self.stop.is_set():
                return
            try:
                func()
            except Exception:  # noqa: BLE001 - the daemon keeps running
                log.exception("job %s failed; will retry at its next run", job_id)

        return run

    def heartbeat_job(self) -> None:
        """Renew the lease; losing it means another daemon took over: stop."""
        if not self.lease.renew():
            log.error("lost the intake lease; stopping")
            self.stop.set()

    def _idle_loop(self) -> None:
        """Hold an IDLE connection; on new mail, run the poll job now."""
        watcher = make_source(self.app.settings)
        backoff = 1.0
        while not self.stop.is_set():
            try:
                watcher.open()
                if watcher.wait_for_mail(IDLE_RENEW_SECONDS):
                    self.wake.set()  # seen by a poll already running
                    self.scheduler.modify_job("poll", next_run_time=datetime.now().astimezone())
                backoff = 1.0
            except Exception as exc:  # noqa: BLE001 - the timed poll is the fallback
                log.warning("IDLE watcher: %s; retrying in %.0f s", exc, backoff)
                watcher.close()
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 300.0)
        watcher.close()

    def run(self) -> None:
        """Take the lease, start the jobs, wait for a stop signal."""
        self.lease.acquire()
        settings = self.app.settings
        try:
            self.scheduler.add_job(
                self.poll_job,
                "interval",
                seconds=settings.intake.poll_interval,
                id="poll",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now().astimezone(),
            )
            self.scheduler.add_job(
                self.heartbeat_job,
                "interval",
                seconds=self.lease.ttl.total_seconds() / 4,
                id="heartbeat",
                max_instances=1,
                coalesce=True,
            )
            for job_id, func, trigger in self.extra_jobs:
                self.scheduler.add_job(
                    self._guarded(job_id, func),
                    id=job_id,
                    name=job_id,
                    max_instances=1,
                    coalesce=True,
                    **trigger,
                )
            self.scheduler.start()
            if settings.inbox.kind == "imap" and settings.inbox.idle:
                threading.Thread(target=self._idle_loop, name="imap-idle", daemon=True).start()
            log.info(
                "sikm daemon running: inbox=%s poll every %.0f s",
                settings.inbox.kind,
                settings.intake.poll_interval,
            )
            if (no_ocr := ocr_available()) is not None:  # the bot still runs; say so once
                log.warning("%s; photos and scans go to an officer unread", no_ocr)
            while not self.stop.wait(1.0):
                pass
            log.info("stopping: finishing the message in hand")
        finally:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            self.intake.source.close()
            self.lease.release()
            log.info("sikm daemon stopped")


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the daemon to stop after the message in hand."""

    def handler(signum: int, _frame: object) -> None:
        log.info("signal %s received", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
