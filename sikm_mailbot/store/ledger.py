"""The ledger: every incoming message recorded once, before anything else happens.

Order matters for crash safety: the raw bytes go to the file store first, then one
transaction inserts the ledger row and advances the folder's UID watermark. A kill
before that commit leaves the message unrecorded and still in the inbox (it is read
again); a kill after it leaves a row whose ``stage`` says how far it got.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.utils import getaddresses

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from sikm_mailbot.mail.sources.base import MessageRef
from sikm_mailbot.store.files import FileStore, sha256_hex
from sikm_mailbot.store.models import LedgerEntry, SourceState, utcnow

# Stages a message passes through; FINAL ones need only the move out of the inbox.
STAGE_RECORDED = "recorded"
STAGE_STORED = "stored"  # final when no reading stages are configured
STAGE_DONE = "done"
STAGE_QUARANTINED = "quarantined"
FINAL_STAGES = frozenset({STAGE_STORED, STAGE_DONE, STAGE_QUARANTINED})

_MSGID_RE = re.compile(r"<([^<>\s]+)>")


@dataclass(frozen=True)
class HeaderSummary:
    """The few headers the ledger keeps (parsed leniently from the raw bytes)."""

    message_id: str
    from_addr: str
    subject: str


def summarize_headers(raw: bytes) -> HeaderSummary:
    """Message-ID, sender address and subject, never raising on broken mail."""
    try:
        head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
            _header_block(raw)
        )
        mid_raw = str(head.get("Message-ID", "") or "")
        match = _MSGID_RE.search(mid_raw)
        message_id = f"<{match.group(1)}>" if match else mid_raw.strip()[:900]
        addrs = getaddresses([str(head.get("From", "") or "")])
        from_addr = (addrs[0][1] if addrs else "").strip().lower()[:320]
        subject = _decode_subject(head.get("Subject", ""))
    except Exception:  # noqa: BLE001 - any header mess must still be recorded
        return HeaderSummary("", "", "")
    return HeaderSummary(message_id, from_addr, subject)


def _header_block(raw: bytes) -> bytes:
    """The bytes up to the blank line that ends the header (all of ``raw`` if none).

    The header parser would otherwise decode the whole message (attachments and
    all) just to stop at the blank line: ~5 ms for a 250 KB application mail.
    """
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends) + 2] if ends else raw


def _decode_subject(value: object) -> str:
    from email.header import decode_header, make_header

    try:
        text = str(make_header(decode_header(str(value or ""))))
    except Exception:  # noqa: BLE001
        text = str(value or "")
    return " ".join(text.split())[:500]


def dedupe_key(raw: bytes, summary: HeaderSummary) -> str:
    """What makes two deliveries "the same message".

    With a Message-ID: the ID plus the sender (a resend or double delivery differs
    in Received headers, so the raw bytes differ). Without one: the exact bytes.
    """
    if summary.message_id:
        basis = f"mid:{summary.message_id.lower()}|from:{summary.from_addr}"
        return "m:" + hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()
    return "s:" + sha256_hex(raw)


@dataclass
class Recorded:
    """The ledger row for a message and whether this sighting was the first."""

    entry: LedgerEntry
    is_new: bool  # False: seen before (duplicate delivery, crash replay, UIDVALIDITY reset)


def record(
    session: Session,
    files: FileStore,
    *,
    source: str,
    folder: str,
    source_key: str,
    ref: MessageRef,
    raw: bytes,
) -> Recorded:
    """Store the bytes, then insert the ledger row (or find the existing one).

    Commits a new row together with the watermark of ``source_key`` at
    ``ref.uidvalidity``; a message seen before is returned with ``is_new=False``
    and nothing written.
    """
    sha = files.put(raw)
    summary = summarize_headers(raw)
    key = dedupe_key(raw, summary)
    # Only the content decides "seen before": a Maildir file name can be reused for
    # another mail, and a re-fetched copy has the same key anyway.
    existing = _by_key(session, key)
    if existing is not None:
        # The watermark moves only once this copy has left the inbox
        # (advance_watermark after finish), so a crash in between re-lists it.
        return Recorded(existing, is_new=False)
    entry = LedgerEntry(
        source=source,
        folder=folder,
        uidvalidity=ref.uidvalidity,
        uid=ref.uid,
        message_id=summary.message_id,
        dedupe_key=key,
        sha256=sha,
        size=len(raw),
        from_addr=summary.from_addr,
        subject=summary.subject,
        attempts=1,  # the first reading try is counted with the record: one commit less
    )
    return _insert(session, entry, source_key, ref)


def record_oversize(
    session: Session, *, source: str, folder: str, source_key: str, ref: MessageRef, limit: int
) -> Recorded:
    """Record a message too large to download: quarantined, body never fetched."""
    key = "o:" + hashlib.sha256(f"{source_key}|{ref.uidvalidity}|{ref.uid}".encode()).hexdigest()
    existing = _by_key(session, key)
    if existing is not None:
        return Recorded(existing, is_new=False)
    entry = LedgerEntry(
        source=source,
        folder=folder,
        uidvalidity=ref.uidvalidity,
        uid=ref.uid,
        dedupe_key=key,
        sha256="",
        size=ref.size,
        stage=STAGE_QUARANTINED,
        outcome="quarantined",
        reason=f"message is {ref.size} bytes, over the {limit}-byte limit; body not downloaded",
    )
    return _insert(session, entry, source_key, ref)


def _by_key(session: Session, key: str) -> LedgerEntry | None:
    return session.exec(select(LedgerEntry).where(LedgerEntry.dedupe_key == key)).first()


def _insert(session: Session, entry: LedgerEntry, source_key: str, ref: MessageRef) -> Recorded:
    """Commit a new row with the folder's watermark; a concurrent writer's row wins."""
    session.add(entry)
    advance_watermark(session, source_key, ref)
    try:
        session.commit()
    except IntegrityError:  # a concurrent writer recorded it first
        session.rollback()
        found = _by_key(session, entry.dedupe_key)
        assert found is not None
        return Recorded(found, is_new=False)
    return Recorded(entry, is_new=True)


def watermark(session: Session, source_key: str, uidvalidity: int) -> int:
    """The highest UID recorded for this folder at this UIDVALIDITY (0 = none)."""
    state = session.exec(
        select(SourceState).where(
            SourceState.source_key == source_key, SourceState.uidvalidity == uidvalidity
        )
    ).first()
    return state.last_uid if state else 0


def advance_watermark(session: Session, source_key: str, ref: MessageRef) -> None:
    """Raise the folder's watermark to ``ref.uid`` (no commit; Maildir keys are ignored)."""
    if not ref.uid.isdigit():
        return  # Maildir keys are not ordered UIDs
    uid = int(ref.uid)
    state = session.exec(
        select(SourceState).where(
            SourceState.source_key == source_key, SourceState.uidvalidity == ref.uidvalidity
        )
    ).first()
    if state is None:
        session.add(SourceState(source_key=source_key, uidvalidity=ref.uidvalidity, last_uid=uid))
    elif uid > state.last_uid:
        state.last_uid = uid
        state.updated_at = utcnow()
        session.add(state)


def unfinished(session: Session, source: str, folder: str, uidvalidity: int) -> list[LedgerEntry]:
    """Rows of this folder still in the inbox: not yet moved, oldest first."""
    return list(
        session.exec(
            select(LedgerEntry)
            .where(
                LedgerEntry.source == source,
                LedgerEntry.folder == folder,
                LedgerEntry.uidvalidity == uidvalidity,
                LedgerEntry.moved == False,  # noqa: E712 - SQL expression
            )
            .order_by(LedgerEntry.id)
        )
    )
