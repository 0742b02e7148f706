"""Shared pieces of the CLI: per-invocation state, failing with a reason, JSON output."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from sikm_mailbot.config import ConfigError, Settings, load_settings


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
            from sikm_mailbot.wiring import App, setup_logging

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
