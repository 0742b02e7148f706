"""Rendering the bot's mails: Jinja2 templates, Bahasa Indonesia first, English below.

Each kind of mail has three templates in ``templates/email``: ``<kind>.subject.j2``
(one line), ``<kind>.txt.j2`` (plain text) and ``<kind>.html.j2`` (HTML, autoescaped).
The words that depend on data — status names, next steps, reasons, dates — come
from :mod:`sikm_mailbot.domain.wording`, and the documents per category from
:mod:`sikm_mailbot.domain.assess`, so every template says the same thing the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from sikm_mailbot.config import DeskSettings, OfficeSettings
from sikm_mailbot.domain.assess import document_groups
from sikm_mailbot.domain.vocabulary import (
    CATEGORY_NAMES_EN,
    CATEGORY_NAMES_ID,
    DOC_NAMES_EN,
    DOC_NAMES_ID,
    FORM_LABELS,
    STATUS_NAMES_ID,
    Problem,
)
from sikm_mailbot.domain.wording import (
    CANCEL_REASONS,
    NEXT_STEPS,
    REJECTION_REASONS,
    STATUS_NAMES_EN,
    TRIP_NAMES,
    format_date_en,
    format_date_id,
    format_time_wib,
    unreadable_reason,
)
from sikm_mailbot.errors import SikmError
from sikm_mailbot.resources import email_templates_dir
from sikm_mailbot.store.models import Application

KINDS: tuple[str, ...] = (
    "ack",
    "incomplete",
    "unreadable",
    "forms",
    "status",
    "rejection",
    "permit",
    "guarantor_request",
    "guarantor_reminder",
    "cancelled",
    "not_understood",
    "address_changed",
)


class ReplyError(SikmError):
    """A reply cannot be rendered (unknown kind, missing template, missing value)."""


@dataclass(frozen=True)
class RenderedReply:
    """A rendered mail: one-line subject, plain text and HTML alternatives."""

    kind: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class UnreadableFile:
    """A file of the mail being answered that could not be used."""

    filename: str
    problem: str  # an attachment problem code (see domain.wording.FILE_PROBLEMS)


@dataclass(frozen=True)
class PermitFacts:
    """The issued permit a permit mail announces (the PDF travels as an attachment)."""

    number: str
    valid_from: date | None = None  # None: the departure date on the form
    valid_until: date | None = None  # None: the return date, or the end of the period
    password_hint: str = ""  # a sentence about the PDF password, never the password


@dataclass(frozen=True)
class MailDetails:
    """What a mail says beyond its application; None = what the application says."""

    unreadable: tuple[UnreadableFile, ...] = ()  # files we could not read, in this mail
    attached_files: tuple[str, ...] = ()  # names of the files attached to our mail
    reason: str | None = None  # rejection reason code
    note: str | None = None  # the officer's note
    cancel_reason: str | None = None  # cancellation reason code
    permit: PermitFacts | None = None
    deadline: datetime | None = None  # the guarantor's deadline
    new_address: str = ""  # address_changed: the new address, masked


NO_DETAILS = MailDetails()


def category_documents() -> list[dict[str, Any]]:
    """The documents per category (assess.document_groups), ready for templates."""
    return [
        {
            "code": str(code),
            "name_id": CATEGORY_NAMES_ID[code],
            "name_en": CATEGORY_NAMES_EN[code],
            "docs": [_doc_group(group) for group in groups],
        }
        for code, groups in document_groups().items()
    ]


def _doc_group(group: Iterable[str]) -> dict[str, str]:
    kinds = list(group)
    return {
        "kinds": " ".join(kinds),
        "id": " atau ".join(DOC_NAMES_ID.get(k, k) for k in kinds),
        "en": " or ".join(DOC_NAMES_EN.get(k, k) for k in kinds),
    }


def _problem_label(field: str) -> tuple[str, str]:
    if field in FORM_LABELS:
        return FORM_LABELS[field], FORM_LABELS[field]
    if field in DOC_NAMES_ID:
        return DOC_NAMES_ID[field], DOC_NAMES_EN[field]
    return "", ""


def _problems(items: Iterable[Problem | Mapping[str, Any]]) -> list[dict[str, str]]:
    """Problems (stored as dicts, or Problem objects) with their labels in both languages."""
    out = []
    for p in items:
        d = p.as_dict() if isinstance(p, Problem) else dict(p)
        label_id, label_en = _problem_label(str(d.get("field", "")))
        out.append(
            {
                "field": str(d.get("field", "")),
                "code": str(d.get("code", "")),
                "label_id": label_id,
                "label_en": label_en,
                "message_id": str(d.get("message_id", "")),
                "message_en": str(d.get("message_en", "")),
            }
        )
    return out


def _unreadable(files: Iterable[UnreadableFile]) -> list[dict[str, str]]:
    out = []
    for f in files:
        reason_id, reason_en = unreadable_reason(f.problem)
        out.append(
            {
                "filename": f.filename or "(tanpa nama / no name)",
                "reason_id": reason_id,
                "reason_en": reason_en,
            }
        )
    return out


def _example_tracking(prefix: str) -> str:
    return f"{prefix}-2020-000123"


def build_context(
    app: Application | None,
    *,
    office: OfficeSettings | None = None,
    desk: DeskSettings | None = None,
    details: MailDetails = NO_DETAILS,
) -> dict[str, Any]:
    """Everything a template may use, with every key present (empty when unknown).

    From ``app``: tracking number, status words, category and trip names, form
    fields, missing documents (names in both languages), problems, due date,
    decision reason, and the guarantor's deadline (asked + ``desk``'s timeout).
    ``details`` adds what the application does not hold (see :class:`MailDetails`).
    """
    office = office or OfficeSettings()
    desk = desk or DeskSettings()
    fields: dict[str, Any] = dict(app.fields) if app else {}
    status = app.status if app else ""
    category = (app.category if app else None) or ""
    trip = (app.trip_type if app else None) or ""
    reason = details.reason if details.reason is not None else (app.decision_reason if app else "")
    note = details.note if details.note is not None else (app.decision_note if app else "")
    reason, note = reason or "", note or ""
    cancel_reason = details.cancel_reason
    if cancel_reason is None:
        cancel_reason = reason if status == "cancelled" else ""
    deadline = details.deadline
    requested = app.guarantor_requested_at if app else None
    if deadline is None and requested is not None:
        deadline = requested + timedelta(hours=desk.guarantor_timeout_hours)
    permit = details.permit
    until_key = "berlaku_sampai" if trip == "multiple" else "tanggal_kembali"
    valid_from = (permit and permit.valid_from) or fields.get("tanggal_berangkat")
    valid_until = (permit and permit.valid_until) or fields.get(until_key)
    permit_number = permit.number if permit else (app.permit_number if app else "") or ""
    rej = REJECTION_REASONS.get(reason, REJECTION_REASONS["other"])
    cancel = CANCEL_REASONS.get(cancel_reason, CANCEL_REASONS["other"])
    next_step = NEXT_STEPS.get(status, ("", ""))
    trip_id, trip_en = TRIP_NAMES.get(trip, ("", ""))
    missing = list(app.missing) if app else []
    return {
        "office": {"name": office.name, "address": office.address},
        "tracking_id": app.id if app else "",
        "example_tracking": _example_tracking(office.tracking_prefix),
        "name": str(fields.get("nama") or (app.name if app else "") or ""),
        "fields": fields,
        "status": status,
        "status_id": STATUS_NAMES_ID.get(status, status),
        "status_en": STATUS_NAMES_EN.get(status, status),
        "next_id": next_step[0],
        "next_en": next_step[1],
        "category": category,
        "category_id": CATEGORY_NAMES_ID.get(category, ""),
        "category_en": CATEGORY_NAMES_EN.get(category, ""),
        "trip_type": trip,
        "trip_id": trip_id,
        "trip_en": trip_en,
        "origin": str(fields.get("kota_asal") or ""),
        "destination": str(fields.get("kota_tujuan") or ""),
        "purpose": str(fields.get("keperluan") or ""),
        "depart_id": format_date_id(fields.get("tanggal_berangkat")),
        "depart_en": format_date_en(fields.get("tanggal_berangkat")),
        "return_id": format_date_id(fields.get("tanggal_kembali")),
        "return_en": format_date_en(fields.get("tanggal_kembali")),
        "until_id": format_date_id(fields.get("berlaku_sampai")),
        "until_en": format_date_en(fields.get("berlaku_sampai")),
        "guarantor_name": str(fields.get("penjamin_nama") or ""),
        "missing": [
            {"kind": k, "name_id": DOC_NAMES_ID.get(k, k), "name_en": DOC_NAMES_EN.get(k, k)}
            for k in missing
        ],
        "problems": _problems(app.problems if app else []),
        "unreadable": _unreadable(details.unreadable),
        "attached_files": list(details.attached_files),
        "categories": category_documents(),
        "due_id": format_date_id(app.due_at if app else None),
        "due_en": format_date_en(app.due_at if app else None),
        "deadline_id": format_date_id(deadline),
        "deadline_en": format_date_en(deadline),
        "deadline_time": format_time_wib(deadline),
        "reason": reason,
        "reason_id": rej[0],
        "reason_en": rej[1],
        "note": note,
        "cancel_reason": cancel_reason,
        "cancel_id": cancel[0],
        "cancel_en": cancel[1],
        "permit_number": str(permit_number),
        "valid_from_id": format_date_id(valid_from),
        "valid_from_en": format_date_en(valid_from),
        "valid_until_id": format_date_id(valid_until),
        "valid_until_en": format_date_en(valid_until),
        "password_hint": permit.password_hint if permit else "",
        "new_address": details.new_address,
    }


def _environment(template_dir: Path | None, *, html: bool) -> Environment:
    search = [str(template_dir)] if template_dir else []
    search.append(str(email_templates_dir()))
    return Environment(
        loader=FileSystemLoader(search),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_ENVS: dict[tuple[str, bool], Environment] = {}


def _env(template_dir: Path | None, html: bool) -> Environment:
    key = (str(template_dir or ""), html)
    if key not in _ENVS:
        _ENVS[key] = _environment(template_dir, html=html)
    return _ENVS[key]


# Mail to a third party (the guarantor) carries the applicant's words: no links.
THIRD_PARTY_KINDS = frozenset({"guarantor_request", "guarantor_reminder"})
LINK_REMOVED = "[tautan dihapus / link removed]"
_LINK = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.|mailto:)\S*"  # anything with a scheme, www.
    r"|[^\s@<>]+@[^\s@<>]+\.[a-z]{2,}"  # an email address (mailto links itself)
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|id|io|co|me|ly|link|app|xyz"
    r"|top|site|online|club|shop|example)\b(?:[/?#]\S*)?",  # a bare domain a client links
    re.IGNORECASE,
)
_MARKUP = re.compile(r"[<>\[\]{}`*_|\\]")  # HTML, Markdown, template and Rich markup
_THIRD_PARTY_KEYS = ("name", "origin", "destination", "purpose", "guarantor_name")


def defang(text: object, limit: int = 200) -> str:
    """An applicant's value made safe to show a third party: one line, no links, no markup."""
    value = _one_line(str(text or ""))
    value = _LINK.sub(LINK_REMOVED, value)
    parts = value.split(LINK_REMOVED)
    value = LINK_REMOVED.join(_MARKUP.sub(" ", part) for part in parts)
    value = re.sub(r"\s+", " ", value).strip()
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def third_party_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """``context`` with every applicant-written value a template may show defanged."""
    ctx = dict(context)
    for key in _THIRD_PARTY_KEYS:
        if key in ctx:
            ctx[key] = defang(ctx[key])
    if isinstance(ctx.get("fields"), Mapping):
        ctx["fields"] = {k: defang(v) for k, v in ctx["fields"].items()}
    return ctx


def _one_line(text: str) -> str:
    """Subjects are one line with no control characters (header injection)."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]", " ", text)).strip()


def render(
    kind: str,
    context: Mapping[str, Any],
    office: OfficeSettings,
    *,
    template_dir: Path | None = None,
) -> RenderedReply:
    """Render mail ``kind`` with ``context`` (usually from :func:`build_context`).

    ``template_dir`` (e.g. from settings) is searched before the shipped templates,
    file by file, so an office can override one template. The subject always starts
    with ``[tracking number]`` when the context has one. Raises :class:`ReplyError`
    for an unknown kind or a template that uses a value the context lacks.
    """
    if kind not in KINDS:
        raise ReplyError(f"unknown reply kind {kind!r}; known: {', '.join(KINDS)}")
    ctx = third_party_context(context) if kind in THIRD_PARTY_KINDS else dict(context)
    ctx.setdefault("office", {"name": office.name, "address": office.address})
    try:
        subject = _env(template_dir, False).get_template(f"{kind}.subject.j2").render(ctx)
        text = _env(template_dir, False).get_template(f"{kind}.txt.j2").render(ctx)
        html = _env(template_dir, True).get_template(f"{kind}.html.j2").render(ctx)
    except TemplateNotFound as exc:
        raise ReplyError(f"template missing for {kind!r}: {exc.name}") from exc
    except Exception as exc:  # StrictUndefined and template errors: name the kind
        raise ReplyError(f"cannot render {kind!r}: {exc}") from exc
    subject = _one_line(subject)
    tracking = str(ctx.get("tracking_id") or "")
    if tracking and f"[{tracking}]" not in subject:
        subject = f"[{tracking}] {subject}"
    return RenderedReply(kind=kind, subject=subject, text=text, html=html)
