"""Shared pieces of the CLI: per-invocation state, output, and errors → exit codes.

:func:`guarded` is the one place where an error becomes an exit code: a
``UsageError`` exits 2, any other ``SikmError`` exits 1, each with one line on
stderr; anything else is a bug: one line, exit 1, the traceback in the log.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer

from sikm_mailbot.config import ConfigError, Settings, load_settings
from sikm_mailbot.domain.safe_text import json_escaped, visible
from sikm_mailbot.errors import SikmError, SourceError, UsageError

if TYPE_CHECKING:
    from sikm_mailbot.wiring import App

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("sikm_mailbot")

# What an error kind means, said before its own message, whichever command met it.
_PREFIXES: Mapping[type[SikmError], str] = {
    ConfigError: "configuration error",
    SourceError: "inbox unavailable",
}
# The library names a wrong value by its field; the CLI says which flag gives it.
_FLAGS: Mapping[str, str] = {
    "note": "--note",
    "missing": "--missing",
    "reason": "--reason",
    "set": "--set",
}

GUARDED = "__sikm_guarded__"  # set on every command body that goes through guarded()


class State:
    """Per-invocation state: the config path; the wired App, made on first use."""

    def __init__(self, config: Path | None) -> None:
        self.config_path = config
        self._app: App | None = None

    @property
    def settings(self) -> Settings:
        """Loaded settings (ConfigError, exit 2, when the file is wrong)."""
        return self.app.settings

    @property
    def app(self) -> App:
        """The wired application; logging is set up and the umask tightened first."""
        if self._app is None:
            from sikm_mailbot.wiring import App, setup_logging

            settings = load_settings(self.config_path)
            os.umask(0o077)  # every file and folder the bot makes is owner-only
            setup_logging(settings)
            self._app = App(settings)
        return self._app


def state(ctx: typer.Context) -> State:
    """The State object set by the main callback."""
    return ctx.ensure_object(State)


def fail(code: int, reason: str) -> NoReturn:
    """Print a one-line reason on stderr and exit with ``code``."""
    line = " ".join(part.strip() for part in reason.splitlines() if part.strip())
    typer.echo(f"sikm: {visible(line)}", err=True)  # a reason may quote outside text
    raise typer.Exit(code)


def emit_json(doc: Any) -> None:
    """One JSON document on stdout; no raw control or bidi character (all escaped)."""
    text = json.dumps(doc, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(json_escaped(text) + "\n")


def emit(doc: R, as_json: bool, render: Callable[[R], None]) -> None:
    """The one output step of a command: ``doc`` as JSON, or as ``render`` prints it."""
    if as_json:
        emit_json(doc)
    else:
        render(doc)


def error_line(exc: SikmError, hints: Mapping[type[SikmError], str] | None = None) -> str:
    """The one line printed for ``exc``: a command's hint or the kind's prefix, the
    message, and the flag to fix when the error names a field."""
    text = str(exc)
    for kind, prefix in (*(hints or {}).items(), *_PREFIXES.items()):
        if isinstance(exc, kind):
            text = f"{prefix}: {text}"
            break
    flag = _FLAGS.get(getattr(exc, "field", None) or "")
    return f"{text} ({flag})" if flag else text


def exit_code(exc: SikmError) -> int:
    """2 for a usage or configuration error, 1 for every other refusal or failure."""
    return 2 if isinstance(exc, UsageError) else 1


def guarded(
    hints: Mapping[type[SikmError], str] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a command body so that errors leave it as exit codes (module docstring).

    ``hints`` puts a command's own words before an error kind's message, e.g.
    ``{BusyError: "not sending now"}``.
    """

    def decorate(body: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(body)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return body(*args, **kwargs)
            except SikmError as exc:
                fail(exit_code(exc), error_line(exc, hints))
            except (typer.Exit, typer.Abort):
                raise
            except Exception as exc:  # a bug: one line here, the traceback in the log
                disk_error = _storage_error(exc)
                if disk_error is not None:  # not a bug: a full or read-only disk
                    fail(exit_code(disk_error), error_line(disk_error, hints))
                name = _command_name(kwargs.get("ctx"), body)
                log.exception("%s failed", name)
                fail(1, f"{name} failed: {type(exc).__name__}: {exc}")

        setattr(run, GUARDED, True)
        return run

    return decorate


def _storage_error(exc: Exception) -> SikmError | None:
    """A disk that refused a write (OSError EROFS, ENOSPC, …) that escaped the store."""
    from sikm_mailbot.store.disk import as_storage_error

    return as_storage_error(exc)


def _command_name(ctx: object, body: Callable[..., Any]) -> str:
    """The command as typed, without the program name: ``poll``, ``keys init``."""
    if isinstance(ctx, typer.Context):
        words = ctx.command_path.split()[1:]
        if words:
            return " ".join(words)
    return body.__name__.rstrip("_").replace("_", "-")
