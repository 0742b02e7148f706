"""A test site for the officer's desk: a store, an inbox and the real CLI (in process)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from sikm_mailbot.cli import app as cli_app
from tests.fixture_table import FIXTURES
from tests.mailgen import drop_into_maildir, simple_mail

NOW = "2020-05-20T09:00:00+07:00"  # the day the fixtures were written for


@dataclass
class Site:
    """One office folder with its config; runs `sikm` commands in process."""

    root: Path
    now: str = NOW
    sent: int = 0

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def inbox(self) -> Path:
        return self.root / "var/mail/inbox"

    def sikm(self, *args: str, officer: str | None = "Officer Test", expect: int = 0) -> Any:
        """Run one command; check its exit code; return parsed JSON when --json was given."""
        env = {"SIKM_NOW": self.now}
        if officer is not None:
            env["SIKM_OFFICER"] = officer
        result = CliRunner().invoke(cli_app, ["--config", str(self.config), *args], env=env)
        assert result.exit_code == expect, (args, result.exit_code, result.output)
        if "--json" in args and expect == 0:
            return json.loads(result.stdout)
        return result

    def deliver(self, raw: bytes) -> None:
        drop_into_maildir(self.inbox, raw)

    def deliver_fixture(self, name: str) -> str:
        """Deliver a fixture mail (as a new message each time), poll, return the new id."""
        raw = (FIXTURES / f"{name}.eml").read_bytes()
        self.sent += 1
        # A fresh Message-ID so that sending the same fixture again is a new mail.
        raw = re.sub(
            rb"(?im)^Message-ID:[^\r\n]*",
            f"Message-ID: <t{self.sent}-{name}@example.com>".encode(),
            raw,
            count=1,
        )
        self.deliver(raw)
        self.sikm("poll")
        rows = self.sikm("list", "--json")
        return max(r["id"] for r in rows)

    def show(self, app_id: str) -> dict[str, Any]:
        return self.sikm("show", app_id, "--json")

    def our_mail_to(self, app_id: str, address: str) -> str:
        """The Message-ID of our newest mail about ``app_id`` to ``address`` ("" = none)."""
        from sqlmodel import Session, select

        from sikm_mailbot.config import load_settings
        from sikm_mailbot.store.models import OutboxMessage
        from sikm_mailbot.wiring import App

        engine = App(load_settings(self.config)).engine
        with Session(engine) as s:
            row = s.exec(
                select(OutboxMessage)
                .where(OutboxMessage.application_id == app_id)
                .where(OutboxMessage.to_addr == address.lower())
                .order_by(OutboxMessage.id.desc())
            ).first()
        engine.dispose()
        return row.message_id if row is not None else ""

    def reply_as(
        self,
        sender: str,
        app_id: str,
        body: str,
        attachments=(),
        *,
        replying: bool = True,
        headers: list[tuple[str, str]] = (),
    ) -> None:
        """A reply as a mail client writes it: Re: subject with the tracking number,
        In-Reply-To our newest mail to ``sender`` about the file (when there is one and
        ``replying``); ``headers`` on top (e.g. the office MTA's Authentication-Results)."""
        self.deliver(
            simple_mail(
                subject=f"Re: [{app_id}] Permohonan SIKM",
                sender=sender,
                body=body + "\n\n> quoted text of our mail\n> SETUJU / TOLAK\n",
                attachments=list(attachments),
                in_reply_to=self.our_mail_to(app_id, sender) if replying else "",
                headers=list(headers),
            )
        )
        self.sikm("poll")


def make_site(root: Path) -> Site:
    """A fresh site: files transport, Maildir inbox, no holiday surprises."""
    (root / "config.toml").write_text("[outbox]\nreplies_per_hour = 50\n")
    return Site(root)
