"""The stage driver: one poll of the inbox, each message carried as far as it goes.

For each message: record it (bytes on disk, ledger row), run the reading pipeline
(prepare outside any transaction, apply inside one that also sets the final stage),
and only then move it out of the inbox. Every step is idempotent, so a kill at any
instant loses nothing and duplicates nothing: the next poll resumes from the ledger.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from sikm_mailbot.errors import StorageError
from sikm_mailbot.mail.sources.base import Destination, MessageRef, Source
from sikm_mailbot.store import ledger
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import LedgerEntry, utcnow

log = logging.getLogger(__name__)

CRASH_LOOP_ATTEMPTS = 10  # tries cut short before a message is taken for a crash loop


@dataclass
class Outcome:
    """Where a message ended: the final stage, what it was, where it goes."""

    stage: str
    outcome: str
    dest: Destination = "processed"
    reason: str = ""
    application_id: str | None = None


class Pipeline(Protocol):
    """The reading stages plugged into the driver."""

    def prepare(self, raw: bytes, entry: LedgerEntry) -> Any:
        """Slow, pure work (parsing, reading attachments); no database."""

    def apply(self, session: Session, entry: LedgerEntry, prepared: Any) -> Outcome:
        """Database work for one message; the driver commits it with the stage."""


class StoreOnly:
    """The pipeline before any reading stage exists: a message ends at "stored"."""

    def prepare(self, raw: bytes, entry: LedgerEntry) -> None:
        """Nothing to prepare."""
        return None

    def apply(self, session: Session, entry: LedgerEntry, prepared: Any) -> Outcome:
        """The message is stored; nothing else to do."""
        return Outcome(stage=ledger.STAGE_STORED, outcome="stored")


@dataclass
class _Taken:
    """A fetched message that was recorded, with its reading under way."""

    ref: MessageRef
    rec: ledger.Recorded
    same_copy: bool
    prepared: Future | None


@dataclass
class PollReport:
    """What one intake cycle did; ``sikm poll --json`` prints it."""

    fetched: int = 0  # bodies downloaded (or read from the Maildir)
    new: int = 0  # first sightings recorded
    duplicate: int = 0  # seen before: double delivery, replay, UIDVALIDITY reset
    quarantined: int = 0
    resumed: int = 0  # recorded earlier but not finished (e.g. after a crash)
    failed: int = 0  # errors left for the next poll
    moved: int = 0
    outcomes: Counter = field(default_factory=Counter)
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "fetched": self.fetched,
            "new": self.new,
            "duplicate": self.duplicate,
            "quarantined": self.quarantined,
            "resumed": self.resumed,
            "failed": self.failed,
            "moved": self.moved,
            "outcomes": dict(sorted(self.outcomes.items())),
            "stopped_early": self.stopped_early,
        }


def _final_outcome(entry: LedgerEntry) -> Outcome:
    dest: Destination = "quarantine" if entry.stage == ledger.STAGE_QUARANTINED else "processed"
    return Outcome(entry.stage, entry.outcome, dest, entry.reason, entry.application_id)


class Intake:
    """Poll one source into the store through a pipeline."""

    def __init__(
        self,
        engine: Engine,
        files: FileStore,
        source: Source,
        source_key: str,
        pipeline: Pipeline | None = None,
        *,
        max_message_bytes: int = 25 * 1024 * 1024,
        max_attempts: int = 3,
        stop: threading.Event | None = None,
        heartbeat: Callable[[], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.files = files
        self.source = source
        self.source_key = source_key
        self.pipeline = pipeline or StoreOnly()
        self.max_message_bytes = max_message_bytes
        self.max_attempts = max_attempts
        self.stop = stop or threading.Event()
        # Renews the caller's lease after each message; False = lost it: stop at once.
        self.heartbeat = heartbeat

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def poll(self) -> PollReport:
        """One cycle: finish what an earlier run left, then take the new mail."""
        report = PollReport()
        self._handled: set[int] = set()  # ledger ids already tried in this cycle
        self.source.open()
        uidvalidity = self.source.uidvalidity()
        self._resume(uidvalidity, report)
        with self._session() as s:
            after = ledger.watermark(s, self.source_key, uidvalidity)
        refs = self.source.list_new(after_uid=after)
        wanted: list[MessageRef] = []
        for ref in refs:
            if self.stop.is_set():
                report.stopped_early = True
                return report
            if ref.size > self.max_message_bytes:
                self._oversize(ref, report)
            else:
                wanted.append(ref)
        # Reading message i+1 (a worker thread; the parsing itself runs in the sandbox
        # process) overlaps storing, answering and moving message i. Crash safety is
        # unchanged: i+1 is recorded before i is moved, and the next poll resumes both.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sikm-read") as reader:
            pending: _Taken | None = None
            for ref, raw in self.source.fetch(wanted):
                report.fetched += 1
                taken = self._record(ref, raw, report, reader)
                if pending is not None:
                    self._complete(pending, report)
                pending = taken
                if self.heartbeat is not None and not self.heartbeat():
                    log.error("lost the intake lease (uid %s was the last); stopping", ref.uid)
                    self.stop.set()
                if self.stop.is_set():  # finish the messages in hand, then stop
                    report.stopped_early = True
                    break
            if pending is not None:
                self._complete(pending, report)
        return report

    def retry(self, ledger_id: int) -> Outcome | None:
        """Read a recorded message again (an officer's choice, e.g. after a fix).

        The mail is not moved again: it stays where it was filed; only the ledger row,
        and what the pipeline makes of it now, change. None = it failed again.
        """
        with self._session() as s:
            row = s.get(LedgerEntry, ledger_id)
            if row is None or not row.sha256:
                return None
            row.stage, row.attempts, row.error, row.reason = ledger.STAGE_RECORDED, 0, "", ""
            s.add(row)
            s.commit()
            entry = row
        return self._process(entry, PollReport())

    def _resume(self, uidvalidity: int, report: PollReport) -> None:
        """Rows recorded but never moved out (a crash between record and move)."""
        with self._session() as s:
            pending = ledger.unfinished(s, self.source.kind, self.source.folder, uidvalidity)
        for entry in pending:
            if self.stop.is_set():
                return
            ref = MessageRef(uid=entry.uid, size=entry.size, uidvalidity=entry.uidvalidity)
            self._handled.add(entry.id)
            outcome = self._process(entry, report)
            if outcome is not None:
                report.resumed += 1
                self._finish(entry, ref, outcome, report)

    def _oversize(self, ref: MessageRef, report: PollReport) -> None:
        with self._session() as s:
            rec = ledger.record_oversize(
                s,
                source=self.source.kind,
                folder=self.source.folder,
                source_key=self.source_key,
                ref=ref,
                limit=self.max_message_bytes,
            )
        report.new += int(rec.is_new)
        report.quarantined += 1
        report.outcomes["quarantined"] += 1
        self._finish(rec.entry, ref, _final_outcome(rec.entry), report)

    def _record(
        self, ref: MessageRef, raw: bytes, report: PollReport, reader: ThreadPoolExecutor
    ) -> _Taken | None:
        """Record one fetched message and start reading it; None = nothing more to do."""
        with self._session() as s:
            rec = ledger.record(
                s,
                self.files,
                source=self.source.kind,
                folder=self.source.folder,
                source_key=self.source_key,
                ref=ref,
                raw=raw,
            )
        entry = rec.entry
        same_copy = (entry.source, entry.folder, entry.uidvalidity, entry.uid) == (
            self.source.kind,
            self.source.folder,
            ref.uidvalidity,
            ref.uid,
        )
        if same_copy and entry.id in self._handled:
            return None  # resumed (or failed) earlier in this cycle: once per poll is enough
        self._handled.add(entry.id)
        if rec.is_new:
            report.new += 1
        elif not same_copy:
            report.duplicate += 1
            log.info("ledger=%s uid=%s duplicate of a recorded message", entry.id, ref.uid)
        prepared = reader.submit(self.pipeline.prepare, raw, entry) if rec.is_new else None
        return _Taken(ref, rec, same_copy, prepared)

    def _complete(self, taken: _Taken, report: PollReport) -> None:
        """Store what was read, answer, and move the message out of the inbox."""
        ref, rec, same_copy, entry = taken.ref, taken.rec, taken.same_copy, taken.rec.entry
        outcome = self._process(entry, report, just_recorded=rec.is_new, prepared=taken.prepared)
        if outcome is None:
            return
        if not rec.is_new and not same_copy:
            # Another copy of a recorded message: it leaves the inbox the same way.
            self._move(ref, outcome.dest, report)
            with self._session() as s:
                ledger.advance_watermark(s, self.source_key, ref)
                row = s.get(LedgerEntry, entry.id)
                if row is not None and not row.moved and row.uidvalidity != ref.uidvalidity:
                    row.moved = True  # its old UID is gone with the old UIDVALIDITY
                    s.add(row)
                s.commit()
            return
        self._finish(entry, ref, outcome, report)

    def _process(
        self,
        entry: LedgerEntry,
        report: PollReport,
        *,
        just_recorded: bool = False,
        prepared: Future | None = None,
    ) -> Outcome | None:
        """Run the pipeline for a recorded message; None = failed, retry next poll.

        Every try is counted before the work, so a message that kills the worker is
        shunted after ``max_attempts``; a message recorded a moment ago had its first
        try counted in the same commit as its ledger row.
        """
        if entry.stage in ledger.FINAL_STAGES:
            return _final_outcome(entry)
        with self._session() as s:
            row = s.get(LedgerEntry, entry.id)
            assert row is not None
            if not just_recorded:
                row.attempts += 1
                row.updated_at = utcnow()
                s.add(row)
                s.commit()
            attempts = row.attempts
        # Shunted after max_attempts tries when reading really failed (an error was
        # noted); tries that left no error were cut short by a kill or a crash — with
        # OCR a message takes seconds, so a daemon restarted a few times in a row can
        # be cut on the same message without it being at fault. Only a crash loop
        # (CRASH_LOOP_ATTEMPTS such tries) shunts it.
        failed = attempts > self.max_attempts and bool(row.error)
        if failed or attempts > CRASH_LOOP_ATTEMPTS:
            report.quarantined += 1
            report.outcomes["quarantined"] += 1
            cause = row.error or "interrupted every time (the process was killed or crashed)"
            return self._shunt(entry, f"processing failed {attempts - 1} times: {cause}")
        try:
            if prepared is not None:
                reading = prepared.result()  # raises what prepare raised
            else:
                reading = self.pipeline.prepare(self.files.get(entry.sha256), entry)
            with self._session() as s:
                row = s.get(LedgerEntry, entry.id)
                assert row is not None
                outcome = self.pipeline.apply(s, row, reading)
                row.stage = outcome.stage
                row.outcome = outcome.outcome
                row.reason = outcome.reason
                row.application_id = outcome.application_id
                row.error = ""
                row.updated_at = utcnow()
                s.add(row)
                s.commit()
        except StorageError:  # the disk, not the message: stop the poll, count no failure
            raise
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the daemon
            log.exception("ledger=%s processing failed (attempt %s)", entry.id, attempts)
            self._note_error(entry, exc)
            report.failed += 1
            return None
        entry.stage, entry.outcome = outcome.stage, outcome.outcome
        log.info(
            "ledger=%s size=%s outcome=%s app=%s",
            entry.id,
            entry.size,
            outcome.outcome,
            outcome.application_id or "-",
        )
        report.outcomes[outcome.outcome] += 1
        if outcome.dest == "quarantine":
            report.quarantined += 1
        return outcome

    def _shunt(self, entry: LedgerEntry, reason: str) -> Outcome:
        with self._session() as s:
            row = s.get(LedgerEntry, entry.id)
            assert row is not None
            row.stage, row.outcome, row.reason = ledger.STAGE_QUARANTINED, "quarantined", reason
            s.add(row)
            s.commit()
        log.warning("ledger=%s quarantined: %s", entry.id, reason[:200])
        return Outcome(ledger.STAGE_QUARANTINED, "quarantined", "quarantine", reason)

    def _note_error(self, entry: LedgerEntry, exc: Exception) -> None:
        with self._session() as s:
            row = s.get(LedgerEntry, entry.id)
            if row is not None:
                row.error = f"{type(exc).__name__}: {exc}"[:2000]
                s.add(row)
                s.commit()

    def _move(self, ref: MessageRef, dest: Destination, report: PollReport) -> None:
        self.source.finish(ref, dest)
        report.moved += 1

    def _finish(
        self, entry: LedgerEntry, ref: MessageRef, outcome: Outcome, report: PollReport
    ) -> None:
        """Move the message out of the inbox, then note that it was moved."""
        self._move(ref, outcome.dest, report)
        with self._session() as s:
            row = s.get(LedgerEntry, entry.id)
            if row is not None:
                row.moved = True
                row.updated_at = utcnow()
                s.add(row)
                s.commit()
