"""Corrections at the officer's desk: `edit` (an officer enters or corrects what was read).

The command parses its arguments, makes one call into ``desk.edit`` and prints the
result with one output helper; errors become exit codes in
:func:`~sikm_mailbot.cli.common.guarded` (unknown field or unreadable value: 2;
a decided application: 1).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sikm_mailbot.cli.common import emit, guarded, state


def _print_edited(doc: dict[str, Any]) -> None:
    """One line: what changed, where the file is now, which mails went out."""
    from sikm_mailbot.cli.render import say

    edited = doc["edited"]
    if not edited["fields"]:
        say(f"{doc['id']}: nothing changed — {doc['status']} ({doc['status_name']})")
        return
    mails = ", ".join(f"{m['kind']} to {m['to']}" for m in edited["mails"]) or "none"
    say(
        f"{doc['id']}: edited {', '.join(edited['fields'])} — now {doc['status']} "
        f"({doc['status_name']}); mail: {mails}"
    )


@guarded()
def edit(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(metavar="ID", help="Tracking number.")],
    assignments: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="A form key and its value (repeatable); an empty value clears the field.",
        ),
    ],
    note: Annotated[str, typer.Option("--note", help="Why (kept in the audit trail).")] = "",
    officer: Annotated[
        str | None,
        typer.Option("--officer", help="Who edits (else $SIKM_OFFICER, else OS user)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the application as JSON.")] = False,
) -> None:
    """Enter or correct form values: re-assess the file and send the applicant its state.

    FIELD is a form key (nama, nik, tanggal_lahir, email, …). Setting email moves
    the application to the new address and tells the old one.
    """
    from sikm_mailbot.desk.edit import Edit, parse_assignments
    from sikm_mailbot.desk.edit import edit as run_edit

    st = state(ctx)
    change = Edit(parse_assignments(assignments), note)
    doc = run_edit(st.app.engine, st.settings, app_id, change, now=st.app.now(), officer=officer)
    emit(doc, as_json, _print_edited)


def register(app: typer.Typer) -> None:
    """Add the correction commands to ``app``."""
    app.command("edit")(edit)
