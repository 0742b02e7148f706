"""The `sikm` command: the Typer app, its global options, and every command group.

A thin skin over the library: each command parses its arguments, makes one library
call and prints with one output helper (cli/common.py), which also maps errors to
exit codes in one place: 0 done, 1 refused (bad state, failed verification), 2
usage or configuration error — always with a one-line reason on stderr. ``--json``
prints one JSON document on stdout and nothing else there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sikm_mailbot.cli import corrections, desk, forms, held, intake, permits
from sikm_mailbot.cli.common import State

app = typer.Typer(
    name="sikm",
    help="SIKM mail desk: read applications from the inbox, review them, answer by email.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def version_line() -> str:
    """``sikm-mailbot 0.1.0``: the distribution name and the installed version."""
    from sikm_mailbot import __version__

    return f"sikm-mailbot {__version__}"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (default ./config.toml, else built-in)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Global options."""
    ctx.obj = State(config)


# The order of `sikm --help`: the intake, the desk, the forms, then the permits.
for group in (intake, desk, corrections, held, forms, permits):
    group.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
