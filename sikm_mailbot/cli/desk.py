"""The officer's desk: `list`, `show`, `files`, `approve`, `reject`, `request-docs`,
`cancel`, `stats`.

Each command parses its arguments, makes one call into ``desk`` and prints the
result with one output helper; refusals and bad requests are mapped to exit codes
by :func:`~sikm_mailbot.cli.common.guarded`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sikm_mailbot.cli.common import emit, guarded, state
from sikm_mailbot.errors import PermitError

if TYPE_CHECKING:
    from sikm_mailbot.desk.actions import Decided, Decision

TABLE_ROWS = 200  # an officer reads a page, not 100,000 rows

IdArg = Annotated[str, typer.Argument(metavar="ID", help="Tracking number.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DecidedJsonOpt = Annotated[bool, typer.Option("--json", help="Print the application as JSON.")]
OfficerOpt = Annotated[
    str | None, typer.Option("--officer", help="Who decides (else $SIKM_OFFICER, else OS user).")
]


@guarded()
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
    as_json: JsonOpt = False,
) -> None:
    """The queue, oldest first, with the age in working hours."""
    from sikm_mailbot.cli.render import print_queue
    from sikm_mailbot.desk.queries import list_applications

    st = state(ctx)
    shown = limit if (limit or as_json) else TABLE_ROWS
    rows = list_applications(
        st.app.engine,
        now=st.app.now(),
        status=status,
        category=category,
        overdue=overdue,
        search=search,
        limit=shown + 1 if shown else None,  # one more: is there more than a page?
    )
    more = bool(shown) and len(rows) > shown
    emit(rows[:shown] if shown else rows, as_json, print_queue)
    if more and not as_json:
        typer.echo(f"(the {shown} oldest shown; --limit N for more, or --json for all)", err=True)


@guarded()
def show(ctx: typer.Context, app_id: IdArg, as_json: JsonOpt = False) -> None:
    """One application: everything read, files, problems, guarantor, history, mail."""
    from sikm_mailbot.cli.render import print_application
    from sikm_mailbot.desk.queries import show_application

    st = state(ctx)
    emit(show_application(st.app.engine, app_id, st.app.now()), as_json, print_application)


@guarded()
def files(
    ctx: typer.Context,
    app_id: IdArg,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the attachments into.")],
) -> None:
    """Export an application's attachments to look at them."""
    from sikm_mailbot.cli.render import say
    from sikm_mailbot.desk.files import export_files

    st = state(ctx)
    written = 0
    for f in export_files(st.app.engine, st.app.files, app_id, out):
        if f.path is None:
            say(f"  (not stored) {f.filename}: {f.note}", err=True)
        else:
            written += 1
            say(str(f.path))
    say(f"{written} file(s) written to {out}", err=True)


def _decide(ctx: typer.Context, app_id: str, decision: Decision, officer: str | None) -> Decided:
    """The one library call of a decision command."""
    from sikm_mailbot.desk.actions import decide

    st = state(ctx)
    return decide(st.app.engine, st.app.desk(), app_id, decision, now=st.app.now(), officer=officer)


def _print_decided(done: Decided, as_json: bool, what: str) -> None:
    """After a decision: the application as JSON, or one line saying what changed."""
    from sikm_mailbot.cli.render import say

    emit(
        done.doc,
        as_json,
        lambda d: say(f"{d['id']}: {what} — now {d['status']} ({d['status_name']})"),
    )


@guarded({PermitError: "approve refused"})
def approve(
    ctx: typer.Context, app_id: IdArg, officer: OfficerOpt = None, as_json: DecidedJsonOpt = False
) -> None:
    """Approve: issue the signed permit and queue the permit mail with the PDF."""
    from sikm_mailbot.desk.actions import Approve

    done = _decide(ctx, app_id, Approve(), officer)
    _print_decided(done, as_json, f"permit {done.permit_number} issued")


@guarded()
def reject(
    ctx: typer.Context,
    app_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Reason code (see --help).")],
    note: Annotated[
        str, typer.Option("--note", help="Officer's note (required for 'other').")
    ] = "",
    officer: OfficerOpt = None,
    as_json: DecidedJsonOpt = False,
) -> None:
    """Reject with a reason code: no_signature, letter_not_naming_applicant,
    trip_not_jakarta, no_guarantor, guarantor_email_same, purpose_not_allowed,
    missing_ktp, guarantor_refused, other (needs --note)."""
    from sikm_mailbot.desk.actions import Reject

    done = _decide(ctx, app_id, Reject(reason, note), officer)
    _print_decided(done, as_json, f"rejected ({reason})")


@guarded()
def request_docs(
    ctx: typer.Context,
    app_id: IdArg,
    missing: Annotated[
        list[str], typer.Option("--missing", help="Document kind to ask for (repeatable).")
    ],
    note: Annotated[str, typer.Option("--note", help="What exactly to send.")] = "",
    officer: OfficerOpt = None,
    as_json: DecidedJsonOpt = False,
) -> None:
    """Ask the applicant for documents (sends the incomplete mail)."""
    from sikm_mailbot.desk.actions import RequestDocs

    kinds = [k for item in missing for k in item.replace(",", " ").split()]
    done = _decide(ctx, app_id, RequestDocs(kinds, note), officer)
    _print_decided(done, as_json, f"documents requested: {', '.join(kinds)}")


@guarded()
def cancel(
    ctx: typer.Context,
    app_id: IdArg,
    note: Annotated[str, typer.Option("--note", help="Why (required).")],
    officer: OfficerOpt = None,
    as_json: DecidedJsonOpt = False,
) -> None:
    """Cancel an open application (the applicant is told)."""
    from sikm_mailbot.desk.actions import Cancel

    done = _decide(ctx, app_id, Cancel(note), officer)
    _print_decided(done, as_json, "cancelled")


@guarded()
def stats(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Counts per state as the office reports them, today's intake, overdue files."""
    from sikm_mailbot.cli.render import print_stats
    from sikm_mailbot.desk.stats import stats_report

    st = state(ctx)
    emit(stats_report(st.app.engine, st.app.now()), as_json, print_stats)


def register(app: typer.Typer) -> None:
    """Add the desk's commands to ``app``, in the order an officer uses them."""
    for name, command in (
        ("list", list_),
        ("show", show),
        ("files", files),
        ("approve", approve),
        ("reject", reject),
        ("request-docs", request_docs),
        ("cancel", cancel),
        ("stats", stats),
    ):
        app.command(name)(command)
