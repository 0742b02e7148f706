"""`sikm forms`: the blank application form and statement letter, as mailed on request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sikm_mailbot.cli.common import guarded


@guarded()
def forms(
    out: Annotated[Path, typer.Option("--out", help="Folder for the blank PDF forms.")] = Path("."),
) -> None:
    """Write the blank application form and statement letter (the ones mailed on request)."""
    from sikm_mailbot.forms import write_forms

    for path in write_forms(out):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add `forms` to ``app``."""
    app.command()(forms)
