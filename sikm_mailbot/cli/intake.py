"""Mail in and mail out: `run`, `poll`, `send`, `mail`, `outbox`.

Library imports stay inside the commands: `sikm --help` and the quick commands
do not pay for the store, the pipeline or Rich.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sikm_mailbot.cli.common import State, emit, emit_json, guarded, state
from sikm_mailbot.errors import BusyError, RefusedError, UsageError

if TYPE_CHECKING:
    from sikm_mailbot.intake.driver import Intake

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
# Who holds the intake lease is in the error's own words; this says what to do.
INTAKE_BUSY = {BusyError: "stop the daemon first, or wait"}


@guarded()
def run(ctx: typer.Context) -> None:
    """Run the daemon: poll the inbox on a schedule, send replies, run the desk's jobs."""
    from sikm_mailbot.daemon import Daemon, install_signal_handlers

    st = state(ctx)
    stop = threading.Event()
    install_signal_handlers(stop)
    Daemon(st.app, stop).run()


@contextmanager
def _intake(st: State) -> Iterator[Intake]:
    """The intake under the "intake" lease (BusyError while a daemon holds it)."""
    from sikm_mailbot.store.lease import DbLease

    lease = DbLease(st.app.engine, "intake", ttl=600)
    lease.acquire()
    try:
        intake = st.app.intake(heartbeat=lease.renew)
        try:
            yield intake
        finally:
            intake.source.close()
    finally:
        lease.release()  # also when wiring the intake failed


@guarded(INTAKE_BUSY)
def poll(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Run one intake cycle and report fetched / new / duplicate / quarantined."""
    from sikm_mailbot.cli.render import print_poll

    with _intake(state(ctx)) as intake:
        report = intake.poll()
    emit(report.as_dict(), as_json, print_poll)


@guarded({BusyError: "not sending now"})
def send(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Deliver the queued replies once (SMTP or .eml files), retrying what is due."""
    from sikm_mailbot.cli.render import print_counts

    emit(state(ctx).app.send().as_dict(), as_json, print_counts)


@guarded(INTAKE_BUSY)
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
    as_json: JsonOpt = False,
) -> None:
    """Incoming mail as recorded: outcome and reason (quarantined mail is here)."""
    st = state(ctx)
    if retry is not None:
        _retry_mail(st, retry, as_json)
    elif export is not None:
        _export_mail(st, export, out)
    else:
        from sikm_mailbot.cli.render import print_mail
        from sikm_mailbot.desk.mailbook import list_mail

        emit(list_mail(st.app.engine, outcome=outcome, limit=limit), as_json, print_mail)


def _export_mail(st: State, ledger_id: int, out: Path | None) -> None:
    """The stored original of one message, to ``out`` or raw on stdout — never a terminal.

    The raw bytes are the sender's: escape sequences in them would run on a terminal,
    whether it is stdout or a file name that leads to one (/dev/stdout, /dev/tty).
    """
    from sikm_mailbot.desk.mailbook import raw_mail

    refusal = "the raw mail is not printed on a terminal: give --out FILE, or pipe it"
    if out is None and sys.stdout.isatty():
        raise UsageError(refusal)
    data = raw_mail(st.app.engine, st.app.files, ledger_id)
    if out is None:
        sys.stdout.buffer.write(data)
        return
    try:
        with open(out, "wb") as fh:
            if os.isatty(fh.fileno()):
                raise UsageError(refusal)
            fh.write(data)
    except IsADirectoryError:
        raise UsageError(f"{out} is a folder: give a file name") from None
    except OSError as exc:
        raise UsageError(f"{out}: {exc.strerror or exc}") from None
    typer.echo(f"{out} ({len(data)} bytes)", err=True)


def _retry_mail(st: State, ledger_id: int, as_json: bool) -> None:
    """Run the reading pipeline again on one recorded mail, under the intake lease."""
    with _intake(st) as intake:
        outcome = intake.retry(ledger_id)
    if outcome is None:
        raise RefusedError(
            f"ledger id {ledger_id}: no stored mail, or reading it failed again (see the log)"
        )
    doc: dict[str, Any] = {
        "ledger_id": ledger_id,
        "outcome": outcome.outcome,
        "reason": outcome.reason,
        "application_id": outcome.application_id,
    }
    if as_json:
        emit_json(doc)
    else:
        typer.echo(f"ledger {ledger_id}: {outcome.outcome} {outcome.application_id or ''}".strip())


@guarded()
def outbox(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="queued, sent or failed.")] = None,
    retry: Annotated[
        str | None, typer.Option("--retry", help="Queue this failed Message-ID again.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N mails.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Outgoing mail: what is queued, sent, or failed (with the server's words)."""
    from sikm_mailbot.cli.render import print_outbox
    from sikm_mailbot.desk.outbox_view import list_outbox, requeue_failed

    st = state(ctx)
    if retry:
        requeue_failed(st.app.engine, retry, now=st.app.now())
        typer.echo(f"{retry} queued again")
        return
    emit(list_outbox(st.app.engine, status=status, limit=limit), as_json, print_outbox)


def register(app: typer.Typer) -> None:
    """Add `run`, `poll`, `send`, `mail` and `outbox` to ``app``."""
    for command in (run, poll, send, mail, outbox):
        app.command()(command)
