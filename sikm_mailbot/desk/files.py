"""`sikm files`: copy an application's attachments and permit PDFs out of the store.

The store keeps files by content hash, owner-only; an officer who wants to look at
a scan gets a copy in a folder of their choice, named so the list sorts like `show`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sikm_mailbot.desk.lifecycle import load
from sikm_mailbot.domain.safe_text import clean
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import Attachment, Permit


@dataclass(frozen=True)
class Exported:
    """One file of the application: where it was written, or why it was not."""

    filename: str
    path: Path | None = None  # None: the file was never stored (refused, too big)
    note: str = ""


def export_files(engine: Engine, files: FileStore, app_id: str, out: Path) -> list[Exported]:
    """Write the attachments, then the permit PDFs, of ``app_id`` into ``out``.

    Refused (from the desk's lookup) when there is no such application.
    """
    with Session(engine, expire_on_commit=False) as session:
        app = load(session, app_id)
        attachments = session.exec(
            select(Attachment).where(Attachment.application_id == app.id).order_by(Attachment.id)
        ).all()
        permits = session.exec(select(Permit).where(Permit.application_id == app.id)).all()
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    done: list[Exported] = []
    for a in attachments:
        if not files.exists(a.sha256):
            done.append(Exported(a.filename, note=a.reason or a.problem or ""))
            continue
        # clean(): a name stored before extraction cleaned it may still hold U+202E.
        safe = clean(Path(a.filename).name) or f"attachment-{a.id}"
        done.append(_copy(files, a.sha256, a.filename, out / f"{a.id:04d}-{a.kind}-{safe}"))
    for p in permits:
        if files.exists(p.pdf_sha256):  # a permit's PDF is always stored; skip if lost
            done.append(_copy(files, p.pdf_sha256, f"{p.number}.pdf", out / f"{p.number}.pdf"))
    return done


def _copy(files: FileStore, sha256: str, filename: str, target: Path) -> Exported:
    target.write_bytes(files.get(sha256))
    return Exported(filename, path=target)
