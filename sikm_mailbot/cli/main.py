"""The `sikm` command: a thin skin over the modules (logic lives there, not here).

Exit codes: 0 done, 1 refused (bad state, failed verification), 2 usage or
configuration error — always with a one-line reason on stderr. ``--json`` prints
one JSON document on stdout and nothing else there.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from sikm_mailbot.cli.common import State, emit_json, fail, state
from sikm_mailbot.cli.permits import register as register_permit_commands

TABLE_ROWS = 200  # an officer reads a page, not 100,000 rows

app = typer.Typer(
    name="sikm",
    help="SIKM mail desk: read applications from the inbox, review them, answer by email.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (default ./config.toml, else built-in)."),
    ] = None,
) -> None:
    """Global options."""
    ctx.obj = State(config)


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the daemon: poll the inbox on a schedule, send replies, run the desk's jobs."""
    from sikm_mailbot.daemon import Daemon, install_signal_handlers
    from sikm_mailbot.store.lease import LeaseHeld

    st = state(ctx)
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        Daemon(st.app, stop).run()
    except LeaseHeld as exc:
        fail(1, str(exc))


@contextmanager
def _intake_lease(st: State) -> Iterator[tuple[Any, Any]]:
    """The intake, under the "intake" lease (exit 1 while a daemon holds it)."""
    from sikm_mailbot.store.lease import DbLease, LeaseHeld

    lease = DbLease(st.app.engine, "intake", ttl=600)
    try:
        lease.acquire()
    except LeaseHeld as exc:
        fail(1, f"stop the daemon first, or wait: {exc}")
    intake = st.app.intake(heartbeat=lease.renew)
    try:
        yield intake, lease
    finally:
        intake.source.close()
        lease.release()


@app.command()
def poll(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Run one intake cycle and report fetched / new / duplicate / quarantined."""
    from sikm_mailbot.mail.sources.base import SourceError

    with _intake_lease(state(ctx)) as (intake, lease):
        try:
            report = intake.poll()
        except SourceError as exc:
            fail(1, f"inbox unavailable: {exc}")
        except Exception as exc:  # noqa: BLE001 - one line for the operator; details in log
            logging.getLogger("sikm_mailbot").exception("poll failed")
            fail(1, f"poll failed: {type(exc).__name__}: {exc}")
    if as_json:
        emit_json(report.as_dict())
        return
    d = report.as_dict()
    typer.echo(
        f"fetched {d['fetched']}, new {d['new']}, duplicate {d['duplicate']}, "
        f"quarantined {d['quarantined']}, resumed {d['resumed']}, failed {d['failed']}"
    )
    for outcome, n in d["outcomes"].items():
        typer.echo(f"  {outcome}: {n}")


@app.command()
def send(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Deliver the queued replies once (SMTP or .eml files), retrying what is due."""
    from sikm_mailbot.store.lease import LeaseHeld

    try:
        report = state(ctx).app.send()
    except LeaseHeld as exc:
        fail(1, f"not sending now: {exc}")
    doc = report.as_dict()
    if as_json:
        emit_json(doc)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in doc.items()))


def _open_session(st: State) -> Any:
    from sqlmodel import Session

    return Session(st.app.engine, expire_on_commit=False)


def _load_application(session: Any, app_id: str) -> Any:
    """The application, or exit 1 with the desk's own "no application" reason."""
    from sikm_mailbot.desk.decisions import Refused, load

    try:
        return load(session, app_id)
    except Refused as exc:
        fail(1, str(exc))


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", "-s", help="Only this status.")] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only this category.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only past the target.")] = False,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", help="Name part, tracking number or last 4 NIK digits."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="At most this many rows (table default 200, JSON all)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The queue, oldest first, with the age in working hours."""
    from sikm_mailbot.desk.queries import query_applications, summary
    from sikm_mailbot.domain.vocabulary import Category, Status

    if status and status not in Status.__members__:
        fail(2, f"unknown status {status!r}; one of: {', '.join(Status.__members__)}")
    if category and category not in Category.__members__:
        fail(2, f"unknown category {category!r}; one of: {', '.join(Category.__members__)}")
    st = state(ctx)
    now = st.app.now()
    shown = limit if (limit or as_json) else TABLE_ROWS
    with _open_session(st) as session:
        rows = [
            summary(a, now)
            for a in query_applications(
                session,
                status=status,
                category=category,
                overdue=overdue,
                search=search,
                now=now,
                limit=shown + 1 if shown else None,
            )
        ]
    more = bool(shown) and len(rows) > shown
    rows = rows[:shown] if shown else rows
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} application(s)", show_lines=False)
    for col in ("ID", "Status", "Category", "Name", "NIK", "Age (wh)", "Missing", "Flags"):
        table.add_column(col)
    for r in rows:
        age = "" if r["age_working_hours"] is None else f"{r['age_working_hours']:.1f}"
        if r["overdue"]:
            age += " !"
        table.add_row(
            r["id"],
            r["status"],
            r["category"] or "?",
            r["name"],
            r["nik"],
            age,
            ", ".join(r["missing"]),
            ", ".join(r["flags"]),
        )
    Console().print(table)
    if more:
        typer.echo(f"(the {shown} oldest shown; --limit N for more, or --json for all)", err=True)


@app.command()
def show(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID", help="Tracking number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One application: everything read, files, problems, guarantor, history, mail."""
    from sikm_mailbot.desk.queries import application_doc

    st = state(ctx)
    with _open_session(st) as session:
        doc = application_doc(session, _load_application(session, app_id), st.app.now())
    if as_json:
        emit_json(doc)
        return
    from sikm_mailbot.cli.render import print_application

    print_application(doc)


@app.command()
def files(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID", help="Tracking number.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the attachments into.")],
) -> None:
    """Export an application's attachments to look at them."""
    from sqlmodel import select

    from sikm_mailbot.store.models import Attachment, Permit

    st = state(ctx)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _open_session(st) as session:
        app_obj = _load_application(session, app_id)
        atts = session.exec(select(Attachment).where(Attachment.application_id == app_obj.id)).all()
    written = 0
    for a in atts:
        if not st.app.files.exists(a.sha256):
            typer.echo(f"  (not stored) {a.filename}: {a.reason or a.problem}", err=True)
            continue
        safe = Path(a.filename).name or f"attachment-{a.id}"
        target = out / f"{a.id:04d}-{a.kind}-{safe}"
        target.write_bytes(st.app.files.get(a.sha256))
        written += 1
        typer.echo(str(target))
    with _open_session(st) as session:
        permits = session.exec(select(Permit).where(Permit.application_id == app_obj.id)).all()
    for p in permits:
        if st.app.files.exists(p.pdf_sha256):
            target = out / f"{p.number}.pdf"
            target.write_bytes(st.app.files.get(p.pdf_sha256))
            written += 1
            typer.echo(str(target))
    typer.echo(f"{written} file(s) written to {out}", err=True)


OfficerOpt = Annotated[
    str | None, typer.Option("--officer", help="Who decides (else $SIKM_OFFICER, else OS user).")
]


def _decide(ctx: typer.Context, action: str, app_id: str, **kwargs: Any) -> Any:
    """Run one Desk decision in its own transaction; exit 1 when refused."""
    from sikm_mailbot.desk.decisions import Refused

    st = state(ctx)
    desk = st.app.desk()
    with _open_session(st) as session:
        try:
            result = getattr(desk, action)(session, app_id, now=st.app.now(), **kwargs)
            session.commit()
        except Refused as exc:
            session.rollback()
            fail(1, str(exc))
        except ValueError as exc:
            session.rollback()
            fail(2, str(exc))
        except Exception as exc:  # noqa: BLE001 - e.g. PermitError: no keys, bad dates
            session.rollback()
            fail(1, f"{action} refused: {exc}")
    return result


def _show_status(ctx: typer.Context, app_id: str, as_json: bool, message: str) -> None:
    from sikm_mailbot.desk.queries import application_doc

    st = state(ctx)
    with _open_session(st) as session:
        doc = application_doc(session, _load_application(session, app_id), st.app.now())
    if as_json:
        emit_json(doc)
    else:
        typer.echo(f"{doc['id']}: {message} — now {doc['status']} ({doc['status_name']})")


@app.command()
def approve(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID", help="Tracking number.")],
    officer: OfficerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the application as JSON.")] = False,
) -> None:
    """Approve: issue the signed permit and queue the permit mail with the PDF."""
    from sikm_mailbot.desk.decisions import officer_name

    permit = _decide(ctx, "approve", app_id, officer=officer_name(officer))
    _show_status(ctx, app_id, as_json, f"permit {permit.number} issued")


@app.command()
def reject(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID", help="Tracking number.")],
    reason: Annotated[str, typer.Option("--reason", help="Reason code (see --help).")],
    note: Annotated[
        str, typer.Option("--note", help="Officer's note (required for 'other').")
    ] = "",
    officer: OfficerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the application as JSON.")] = False,
) -> None:
    """Reject with a reason code: no_signature, letter_not_naming_applicant,
    trip_not_jakarta, no_guarantor, guarantor_email_same, purpose_not_allowed,
    missing_ktp, guarantor_refused, other (needs --note)."""
    from sikm_mailbot.desk.decisions import officer_name

    _decide(ctx, "reject", app_id, reason=reason, note=note, officer=officer_name(officer))
    _show_status(ctx, app_id, as_json, f"rejected ({reason})")


@app.command("request-docs")
def request_docs(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID", help="Tracking number.")],
    missing: Annotated[
        list[str], typer.Option("--missing", help="Document kind to ask for (repeatable).")
    ],
    note: Annotated[str, typer.Option("--note", help="What exactly to send.")] = "",
    officer: OfficerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the application as JSON.")] = False,
) -> None:
    """Ask the applicant for documents (sends the incomplete mail)."""
    from sikm_mailbot.desk.decisions import officer_name

    kinds = [k.strip() for item in missing for k in item.replace(",", " ").split() if k.strip()]
    _decide(ctx, "request_docs", app_id, missing=kinds, note=note, officer=officer_name(officer))
    _show_status(ctx, app_id, as_json, f"documents requested: {', '.join(kinds)}")


@app.command()
def cancel(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID", help="Tracking number.")],
    note: Annotated[str, typer.Option("--note", help="Why (required).")],
    officer: OfficerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the application as JSON.")] = False,
) -> None:
    """Cancel an open application (the applicant is told)."""
    from sikm_mailbot.desk.decisions import officer_name

    _decide(ctx, "cancel", app_id, note=note, officer=officer_name(officer))
    _show_status(ctx, app_id, as_json, "cancelled")


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts per state as the office reports them, today's intake, overdue files."""
    from sikm_mailbot.desk.stats import office_stats

    st = state(ctx)
    with _open_session(st) as session:
        doc = office_stats(session, st.app.now())
    if as_json:
        emit_json(doc)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"SIKM — {doc['date']} (WIB)")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, key in (
        ("Diterima / received (total)", "received"),
        ("Menunggu kelengkapan / incomplete", "incomplete"),
        ("Penelitian / in review", "in_review"),
        ("Menunggu penjamin / waiting for guarantor", "awaiting_guarantor"),
        ("Ditolak / rejected", "rejected"),
        ("Diterbitkan / issued", "issued"),
        ("Dibatalkan / cancelled", "cancelled"),
        ("Masuk hari ini / today's intake", "today_intake"),
        ("Lewat target / past one working day", "overdue"),
    ):
        table.add_row(label, str(doc[key]))
    Console().print(table)


@app.command()
def mail(
    ctx: typer.Context,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="Only this outcome (quarantined, ignored, flagged, ...)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N messages.")] = 50,
    export: Annotated[
        int | None, typer.Option("--export", help="Write the raw mail of this ledger id.")
    ] = None,
    retry: Annotated[
        int | None,
        typer.Option("--retry", help="Read this ledger id again (e.g. a quarantined mail)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="File for --export.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Incoming mail as recorded: outcome and reason (quarantined mail is here)."""
    from sqlmodel import select

    from sikm_mailbot.store.models import LedgerEntry

    st = state(ctx)
    if retry is not None:
        _retry_mail(st, retry, as_json)
        return
    with _open_session(st) as session:
        if export is not None:
            row = session.get(LedgerEntry, export)
            if row is None or not row.sha256:
                fail(1, f"no stored mail with ledger id {export}")
            data = st.app.files.get(row.sha256)
            if out is None:
                sys.stdout.buffer.write(data)
            else:
                out.write_bytes(data)
                typer.echo(f"{out} ({len(data)} bytes)", err=True)
            return
        q = select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit)
        if outcome:
            q = q.where(LedgerEntry.outcome == outcome)
        rows = session.exec(q).all()
    docs = [
        {
            "ledger_id": r.id,
            "received_at": str(r.received_at),
            "from": r.from_addr,
            "subject": r.subject,
            "size": r.size,
            "stage": r.stage,
            "outcome": r.outcome,
            "reason": r.reason,
            "error": r.error,
            "application_id": r.application_id,
        }
        for r in rows
    ]
    if as_json:
        emit_json(docs)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(docs)} message(s), newest first")
    for col in ("Id", "From", "Subject", "Outcome", "Reason / application"):
        table.add_column(col)
    for d in docs:
        table.add_row(
            str(d["ledger_id"]),
            d["from"],
            d["subject"][:50],
            d["outcome"] or d["stage"],
            d["application_id"] or d["reason"] or d["error"],
        )
    Console().print(table)


def _retry_mail(st: State, ledger_id: int, as_json: bool) -> None:
    """Run the reading pipeline again on one recorded mail, under the intake lease."""
    with _intake_lease(st) as (intake, _lease):
        outcome = intake.retry(ledger_id)
    if outcome is None:
        fail(1, f"ledger id {ledger_id}: no stored mail, or reading it failed again (see the log)")
    doc = {
        "ledger_id": ledger_id,
        "outcome": outcome.outcome,
        "reason": outcome.reason,
        "application_id": outcome.application_id,
    }
    if as_json:
        emit_json(doc)
    else:
        typer.echo(f"ledger {ledger_id}: {outcome.outcome} {outcome.application_id or ''}".strip())


@app.command()
def outbox(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="queued, sent or failed.")] = None,
    retry: Annotated[
        str | None, typer.Option("--retry", help="Queue this failed Message-ID again.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N mails.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Outgoing mail: what is queued, sent, or failed (with the server's words)."""
    from sqlmodel import select

    from sikm_mailbot.desk.decisions import officer_name
    from sikm_mailbot.outbox.core import retry_failed
    from sikm_mailbot.store.models import OutboxMessage

    if status and status not in ("queued", "sent", "failed"):
        fail(2, f"unknown status {status!r}; one of: queued, sent, failed")
    st = state(ctx)
    with _open_session(st) as session:
        if retry:
            msg = retry_failed(session, retry.strip(), now=st.app.now(), actor=officer_name())
            if msg is None:
                fail(1, f"no failed mail {retry}")
            session.commit()
            typer.echo(f"{retry} queued again")
            return
        q = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            q = q.where(OutboxMessage.status == status)
        rows = session.exec(q).all()
    docs = [
        {
            "message_id": m.message_id,
            "application_id": m.application_id,
            "kind": m.kind,
            "to": m.to_addr,
            "status": m.status,
            "attempts": m.attempts,
            "last_error": m.last_error,
            "created_at": str(m.created_at),
            "sent_at": str(m.sent_at) if m.sent_at else None,
        }
        for m in rows
    ]
    if as_json:
        emit_json(docs)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(docs)} mail(s), newest first")
    for col in ("Application", "Kind", "To", "Status", "Tries", "Error"):
        table.add_column(col)
    for d in docs:
        table.add_row(
            d["application_id"] or "",
            d["kind"],
            d["to"],
            d["status"],
            str(d["attempts"]),
            d["last_error"],
        )
    Console().print(table)


@app.command()
def forms(
    out: Annotated[Path, typer.Option("--out", help="Folder for the blank PDF forms.")] = Path("."),
) -> None:
    """Write the blank application form and statement letter (the ones mailed on request)."""
    from sikm_mailbot.forms import write_forms

    for path in write_forms(out):
        typer.echo(str(path))


register_permit_commands(app)

if __name__ == "__main__":  # pragma: no cover
    app()
