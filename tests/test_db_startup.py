"""The store's start-up check: cheap when current, a real upgrade when behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from sikm_mailbot.store import db


def _alembic_config(engine_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine_url)
    return cfg


def test_head_constant_is_the_migrations_head() -> None:
    script = ScriptDirectory.from_config(_alembic_config("sqlite://"))
    assert script.get_heads() == [db.HEAD_REVISION]


def test_new_store_is_migrated_to_head(tmp_path: Path) -> None:
    engine = db.open_store(f"sqlite:///{tmp_path / 'sikm.db'}")
    assert db.current_revisions(engine) == [db.HEAD_REVISION]
    names = {ix["name"] for ix in inspect(engine).get_indexes("ledger")}
    assert {"ix_ledger_location", "ix_ledger_unmoved"} <= names


def test_current_store_does_not_run_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'sikm.db'}"
    db.open_store(url).dispose()

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("alembic upgrade ran on a current store")

    monkeypatch.setattr(command, "upgrade", refuse)
    engine = db.open_store(url)
    assert db.current_revisions(engine) == [db.HEAD_REVISION]


def test_store_behind_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sikm.db'}"
    engine = db.make_engine(url)
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert db.current_revisions(engine) == ["0001"]
    assert "ix_ledger_location" not in {ix["name"] for ix in inspect(engine).get_indexes("ledger")}
    engine.dispose()
    engine = db.open_store(url)
    assert db.current_revisions(engine) == [db.HEAD_REVISION]
    assert "ix_ledger_location" in {ix["name"] for ix in inspect(engine).get_indexes("ledger")}
