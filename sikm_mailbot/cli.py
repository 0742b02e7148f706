"""The `sikm` command: a thin skin over the modules (logic lives there, not here).

Exit codes: 0 done, 1 refused (bad state, failed verification), 2 usage or
configuration error — always with a one-line reason on stderr. ``--json`` prints
one JSON document on stdout and nothing else there.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from sikm_mailbot.config import ConfigError, Settings, load_settings

app = typer.Typer(
    name="sikm",
    help="SIKM mail desk: read applications from the inbox, review them, answer by email.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class State:
    """Per-invocation state: the config path, loaded lazily."""

    def __init__(self, config: Path | None) -> None:
        self.config_path = config
        self._app: Any = None

    @property
    def settings(self) -> Settings:
        """Loaded settings (exit 2 on a configuration error)."""
        return self.app.settings

    @property
    def app(self) -> Any:
        """The wired application."""
        if self._app is None:
            from sikm_mailbot.app import App, setup_logging

            try:
                settings = load_settings(self.config_path)
            except ConfigError as exc:
                fail(2, f"configuration error: {exc}")
            os.umask(0o077)  # every file and folder the bot makes is owner-only
            setup_logging(settings)
            self._app = App(settings)
        return self._app


def fail(code: int, reason: str) -> NoReturn:
    """Print a one-line reason on stderr and exit with ``code``."""
    typer.echo(f"sikm: {reason}", err=True)
    raise typer.Exit(code)


def emit_json(doc: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")


def state(ctx: typer.Context) -> State:
    """The State object set by the main callback."""
    return ctx.ensure_object(State)


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
    from sikm_mailbot.lease import LeaseHeld
    from sikm_mailbot.scheduler import Daemon, install_signal_handlers

    st = state(ctx)
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        Daemon(st.app, stop).run()
    except LeaseHeld as exc:
        fail(1, str(exc))


@app.command()
def poll(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Run one intake cycle and report fetched / new / duplicate / quarantined."""
    from sikm_mailbot.app import make_source, source_key
    from sikm_mailbot.intake import Intake
    from sikm_mailbot.lease import DbLease, LeaseHeld
    from sikm_mailbot.sources.base import SourceError

    st = state(ctx)
    a = st.app
    lease = DbLease(a.engine, "intake", ttl=600)
    try:
        lease.acquire()
    except LeaseHeld as exc:
        fail(1, str(exc))
    source = make_source(a.settings)
    try:
        report = Intake(
            a.engine,
            a.files,
            source,
            source_key(a.settings),
            pipeline=a.pipeline(),
            max_message_bytes=a.settings.inbox.max_message_bytes,
        ).poll()
    except SourceError as exc:
        fail(1, f"inbox unavailable: {exc}")
    finally:
        source.close()
        lease.release()
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


if __name__ == "__main__":  # pragma: no cover
    app()
