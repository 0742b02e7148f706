"""The CLI's one error mapping, its --version, and that it stays a thin skin."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sikm_mailbot import __version__
from sikm_mailbot.cli import app as cli_app
from sikm_mailbot.cli.common import GUARDED, guarded
from sikm_mailbot.config import ConfigError
from sikm_mailbot.errors import (
    BusyError,
    InvalidRequest,
    PermitError,
    RefusedError,
    SourceError,
    UsageError,
)

CLI_DIR = Path(__file__).resolve().parents[1] / "sikm_mailbot" / "cli"
# Tables, sessions and the desk's state machine are the library's business.
FORBIDDEN = {
    "sikm_mailbot.store.db",
    "sikm_mailbot.store.models",
    "sikm_mailbot.store.audit",
    "sikm_mailbot.desk.decisions",
}


def _one_command_app(error: BaseException, hints: dict | None = None) -> typer.Typer:
    """A Typer app whose only command raises ``error`` through guarded()."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    @guarded(hints)
    def boom(ctx: typer.Context) -> None:
        raise error

    @app.callback()
    def main() -> None:
        pass

    return app


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (UsageError("no such file"), 2, "sikm: no such file"),
        (ConfigError("config.toml: unknown key 'x'"), 2, "sikm: configuration error: config"),
        (InvalidRequest("cancel needs a note", field="note"), 2, "needs a note (--note)"),
        (InvalidRequest("unknown status 'x'"), 2, "sikm: unknown status 'x'"),
        (RefusedError("SIKM-1 is issued"), 1, "sikm: SIKM-1 is issued"),
        (BusyError("held by host:1"), 1, "sikm: held by host:1"),
        (SourceError("login refused"), 1, "sikm: inbox unavailable: login refused"),
        (PermitError("no keys"), 1, "sikm: no keys"),
    ],
)
def test_each_error_kind_is_one_line_and_its_exit_code(
    error: Exception, code: int, line: str
) -> None:
    result = CliRunner().invoke(_one_command_app(error), ["boom"])
    assert result.exit_code == code
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and line in result.stderr, result.stderr


def test_a_command_hint_goes_before_the_message() -> None:
    app = _one_command_app(BusyError("held by host:1"), {BusyError: "not sending now"})
    result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == 1
    assert result.stderr == "sikm: not sending now: held by host:1\n"


def test_a_bug_is_one_line_and_the_traceback_goes_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _one_command_app(RuntimeError("oops\nsecond line"))
    with caplog.at_level(logging.ERROR, logger="sikm_mailbot"):
        result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("sikm: boom failed: RuntimeError: oops second line")
    (record,) = [r for r in caplog.records if r.name == "sikm_mailbot"]
    assert record.exc_info is not None and "boom failed" in record.getMessage()


def test_version() -> None:
    result = CliRunner().invoke(cli_app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"sikm-mailbot {__version__}\n"


def test_every_command_goes_through_the_error_mapping() -> None:
    from typer.main import get_command

    def commands(group) -> list:  # noqa: ANN001 - a Typer group
        found = []
        for cmd in group.commands.values():
            found += commands(cmd) if hasattr(cmd, "commands") else [cmd]
        return found

    every = commands(get_command(cli_app))
    assert len(every) >= 20
    assert [c.name for c in every if not getattr(c.callback, GUARDED, False)] == []


def test_cli_holds_no_sql_and_no_desk_internals() -> None:
    for path in sorted(CLI_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {a.name for a in node.names}
                assert not (node.module or "").startswith(("sqlmodel", "sqlalchemy")), path.name
                assert not names & {"select", "Session", "session_scope"}, path.name
                assert node.module not in FORBIDDEN, (path.name, node.module)
        assert len(path.read_text().splitlines()) <= 400, path.name
