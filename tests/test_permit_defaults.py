"""On the built-in default a trial desk can approve at once; with a config file it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sikm_mailbot.cli import app as cli_app
from tests.desk_helpers import NOW
from tests.fixture_table import FIXTURES
from tests.mailgen import drop_into_maildir


def run(*args: str) -> object:
    return CliRunner().invoke(cli_app, list(args), env={"SIKM_NOW": NOW})


def test_built_in_default_makes_keys_on_first_approve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    drop_into_maildir(
        tmp_path / "var/mail/inbox",
        (FIXTURES / "app_resident_out_single_complete.eml").read_bytes(),
    )
    assert run("poll").exit_code == 0
    result = run("approve", "SIKM-2020-000001")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var/keys").is_dir()
    assert (tmp_path / "var/keys").stat().st_mode & 0o077 == 0


def test_with_a_config_file_keys_are_never_made_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("[office]\nname = 'Kantor Uji'\n")
    drop_into_maildir(
        tmp_path / "var/mail/inbox",
        (FIXTURES / "app_resident_out_single_complete.eml").read_bytes(),
    )
    assert run("poll").exit_code == 0
    result = run("approve", "SIKM-2020-000001")
    assert result.exit_code == 1 and "sikm keys init" in result.output
    assert not (tmp_path / "var/keys").exists() or not any((tmp_path / "var/keys").iterdir())
    assert run("show", "SIKM-2020-000001", "--json").exit_code == 0
