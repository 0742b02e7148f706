"""An officer enters or corrects what was read: ``sikm edit ID --set FIELD=VALUE …``.

The officer's values are normalised exactly as the intake normalises a form
(:func:`~sikm_mailbot.domain.normalize.normalize_fields`); a value that cannot be
read is refused, not stored. The file is then re-assessed by the same write model
a follow-up goes through (:func:`~sikm_mailbot.desk.review.review`), audited (who,
which fields; never a NIK's value), and the applicant is sent the updated state,
all in one transaction.

Rules (decided here):

* Only open files can be edited (received, incomplete, under review, waiting for
  the guarantor); a decided one is refused.
* A file in review that is still complete stays in review (its clock is kept) and
  is flagged ``edited_in_review``; the applicant gets the ``status`` mail, as a
  follow-up in review does. If the edit makes it incomplete, it goes back to
  incomplete with the ``incomplete`` mail. A changed guarantor is asked again.
* ``email`` re-binds the application: the bound address changes, the old address
  is told (``address_changed``, the new address masked) and the new one gets the
  updated state. The address cannot be cleared.
* An empty value clears a field. Values equal to what is stored change nothing:
  an edit that changes nothing sends nothing and records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from sikm_mailbot.config import Settings
from sikm_mailbot.desk.decisions import officer_name
from sikm_mailbot.desk.lifecycle import Refused, load
from sikm_mailbot.desk.queries import show_application
from sikm_mailbot.desk.review import Submission, review
from sikm_mailbot.domain.normalize import NIK_KEYS, normalize_fields
from sikm_mailbot.domain.safe_text import clean
from sikm_mailbot.domain.vocabulary import FORM_LABELS, OPEN_STATUSES, Status
from sikm_mailbot.errors import InvalidRequest
from sikm_mailbot.outbox.compose import MailDetails
from sikm_mailbot.outbox.notify import Notice, notify
from sikm_mailbot.store.audit import record_event
from sikm_mailbot.store.db import session_scope
from sikm_mailbot.store.models import Application

OFFICER_SOURCE = "officer"  # field_sources value of a value an officer entered
MAX_VALUE_CHARS = 200  # a form value, not a document (permit claims stop at 200 too)
IN_REVIEW = frozenset({Status.under_review, Status.awaiting_guarantor})


@dataclass(frozen=True)
class Edit:
    """What the officer sets: form key → value as typed ("" clears the field)."""

    values: Mapping[str, str]
    note: str = ""


@dataclass(frozen=True)
class Edited:
    """What an edit did: the fields it changed and the mails it queued (kind, to)."""

    changed: tuple[str, ...]
    mails: tuple[tuple[str, str], ...] = ()


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["nama=Budi Santoso", …]`` → ``{"nama": "Budi Santoso"}``; InvalidRequest when
    an item has no ``=``, names no form key, or sets a key twice."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise InvalidRequest(f"{item!r} is not FIELD=VALUE", field="set")
        if key not in FORM_LABELS:
            raise InvalidRequest(
                f"unknown field {key!r}; one of: {', '.join(FORM_LABELS)}", field="set"
            )
        if key in values:
            raise InvalidRequest(f"field {key!r} is set twice", field="set")
        values[key] = value.strip()
    if not values:
        raise InvalidRequest("nothing to set: give FIELD=VALUE", field="set")
    return values


def mask_address(address: str) -> str:
    """``nadia@example.org`` → ``n***@example.org``: enough to recognise, not to read."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def _normalised(values: Mapping[str, str]) -> dict[str, str]:
    """The officer's values as the intake would store them; "" stays "" (clear).

    A value the intake could not read (a date, phone, email or code) is refused
    with the reason the applicant would have been given.
    """
    values = {k: " ".join(clean(v).split()) for k, v in values.items()}  # one line, no controls
    long = [k for k, v in values.items() if len(v) > MAX_VALUE_CHARS]
    if long:
        raise InvalidRequest(f"{long[0]}: longer than {MAX_VALUE_CHARS} characters", field="set")
    filled = {k: v for k, v in values.items() if v}
    normal, problems = normalize_fields(filled)
    if problems:
        p = problems[0]
        raise InvalidRequest(f"{p.field}: {p.message_en}", field="set")
    if "email" in values and not values["email"]:
        raise InvalidRequest("email cannot be cleared: it is where the permit goes", field="set")
    return {k: normal.get(k, "") for k in values}


def _claim(session: Session, app: Application) -> None:
    """Compare-and-swap on the version: an edit racing a decision loses, never both win."""
    result = session.execute(
        update(Application)
        .where(Application.id == app.id, Application.version == app.version)
        .values(version=app.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Refused(f"{app.id} was changed by someone else just now; look again")
    app.version += 1


def _audit_detail(changed: Mapping[str, str], old_address: str, note: str) -> str:
    """Which fields changed, in form order; never a NIK's value."""
    parts = []
    for key in (k for k in FORM_LABELS if k in changed):
        if key == "email" and changed[key].lower() != old_address.lower():
            parts.append(
                f"email changed from {mask_address(old_address)} to {mask_address(changed[key])}"
            )
        elif not changed[key]:
            parts.append(f"{key} cleared")
        elif key in NIK_KEYS:
            parts.append(f"{key} changed")
        else:
            parts.append(key)
    return "officer edit: " + ", ".join(parts) + (f" — {note}" if note else "")


def _apply(app: Application, changed: Mapping[str, str]) -> None:
    """Write the officer's values into the file, each marked as the officer's."""
    fields: dict[str, Any] = dict(app.fields)
    sources: dict[str, Any] = dict(app.field_sources)
    for key, value in changed.items():
        if value:
            fields[key], sources[key] = value, OFFICER_SOURCE
        else:
            fields.pop(key, None)
            sources.pop(key, None)
    app.fields, app.field_sources = fields, sources


def edit_application(
    session: Session,
    app_id: str,
    edit: Edit,
    *,
    officer: str,
    settings: Settings,
    now: datetime,
) -> Edited:
    """Apply ``edit`` to ``app_id``, re-assess it and tell the applicant (no commit).

    Raises InvalidRequest for a value that cannot be read, Refused when the file
    is not open or someone else changed it meanwhile.
    """
    values = _normalised(edit.values)
    app = load(session, app_id)
    if app.status not in OPEN_STATUSES:
        raise Refused(f"{app.id} is {app.status}; only an open application can be edited")
    changed = {k: v for k, v in values.items() if str(app.fields.get(k, "")) != v}
    if values.get("email", "").lower() not in ("", app.applicant_email.lower()):
        changed["email"] = values["email"]  # the form's email may already say it: bind it
    if not changed:
        return Edited(())
    _claim(session, app)
    was, old_address, old_guarantor = app.status, app.applicant_email, app.guarantor_email
    new_address = changed.get("email", "")
    rebind = bool(new_address) and new_address.lower() != old_address.lower()
    guarantor = changed.get("penjamin_email", app.guarantor_email or "")
    if guarantor and guarantor.lower() == (new_address or old_address).lower():
        raise InvalidRequest(
            "email: the applicant's address cannot be the guarantor's", field="set"
        )
    note = edit.note.strip()
    _apply(app, changed)
    if rebind:
        app.applicant_email = new_address
    record_event(
        session,
        app.id,
        "edit",
        actor=officer,
        at=now,
        detail=_audit_detail(changed, old_address, note),
        data={"fields": sorted(changed), "note": note},
    )
    result = review(session, app, Submission(fields={}, sender=app.applicant_email), settings, now)
    if rebind:
        app.applicant_email = new_address  # the bound address is the officer's, whatever review did
    mails: list[tuple[str, str]] = []

    def tell(notice: Notice) -> None:
        if notify(session, notice, settings, now=now) is not None:
            mails.append((notice.kind, notice.to))

    if was == Status.awaiting_guarantor == app.status and _changed(old_guarantor, app):
        _ask_new_guarantor(session, app, officer, now)
        tell(Notice.about(app, "guarantor_request", to=app.guarantor_email, actor=officer))
    reply = result.reply
    if was in IN_REVIEW and app.status in IN_REVIEW:
        if "edited_in_review" not in app.flags:
            app.flags = [*app.flags, "edited_in_review"]
        reply = "status"
    session.add(app)
    if rebind:
        moved = MailDetails(new_address=mask_address(new_address))
        tell(Notice.about(app, "address_changed", to=old_address, actor=officer, details=moved))
    details = MailDetails(unreadable=result.unreadable)
    tell(Notice.about(app, reply, actor=officer, details=details))
    session.flush()
    return Edited(tuple(k for k in FORM_LABELS if k in changed), tuple(mails))


def _changed(old_guarantor: str, app: Application) -> bool:
    return bool(app.guarantor_email) and app.guarantor_email.lower() != old_guarantor.lower()


def _ask_new_guarantor(session: Session, app: Application, officer: str, now: datetime) -> None:
    """A file waiting for a guarantor who is no longer named asks the new one (clock restarts)."""
    app.guarantor_requested_at, app.guarantor_reminded_at = now, None
    record_event(
        session, app.id, "note", actor=officer, at=now, detail="new guarantor asked to confirm"
    )


def edit(
    engine: Engine,
    settings: Settings,
    app_id: str,
    change: Edit,
    *,
    now: datetime,
    officer: str | None = None,
) -> dict[str, Any]:
    """`sikm edit`: run ``change`` in one transaction; the application afterwards,
    with ``edited`` (the fields changed and the mails queued)."""
    who = officer_name(officer)
    with session_scope(engine) as session:
        done = edit_application(session, app_id, change, officer=who, settings=settings, now=now)
    doc = show_application(engine, app_id, now)
    doc["edited"] = {
        "fields": list(done.changed),
        "mails": [{"kind": kind, "to": to} for kind, to in done.mails],
    }
    return doc
