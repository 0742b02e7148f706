"""`sikm accept-mail LEDGER_ID`: an officer accepts held mail as the applicant's follow-up."""

from __future__ import annotations

from typing import Annotated

import typer

from sikm_mailbot.cli.common import emit, guarded, state


@guarded()
def accept_mail(
    ctx: typer.Context,
    ledger_id: Annotated[
        int, typer.Argument(metavar="LEDGER_ID", help="The held mail (see `sikm mail`).")
    ],
    officer: Annotated[
        str | None,
        typer.Option("--officer", help="Who accepts (else $SIKM_OFFICER, else OS user)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Apply a held mail to its application as the applicant's follow-up (audited)."""
    from sikm_mailbot.desk.held import accept_mail as accept

    st = state(ctx)
    done = accept(
        st.app.engine,
        st.app.files,
        st.app.settings,
        ledger_id,
        officer=officer,
        now=st.app.now(),
    )
    emit(
        done.as_dict(),
        as_json,
        lambda d: typer.echo(
            f"mail {d['ledger_id']} accepted for {d['application_id']} — now "
            f"{d['application']['status']} ({d['application']['status_name']})"
        ),
    )


def register(app: typer.Typer) -> None:
    """Add `accept-mail` to ``app``."""
    app.command("accept-mail")(accept_mail)
