"""Run the fixture corpus (fixtures/emails/*.eml + sidecars) through the real intake."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sikm_mailbot.config import Settings, load_settings
from sikm_mailbot.intake.driver import Intake
from sikm_mailbot.mail.sources.base import Source
from sikm_mailbot.store.models import Application, Attachment, LedgerEntry, OutboxMessage
from sikm_mailbot.wiring import App, source_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"
JAKARTA = ZoneInfo("Asia/Jakarta")


def fixture_names() -> list[str]:
    """Every fixture that has both an .eml and a sidecar."""
    return sorted(p.stem for p in FIXTURES.glob("*.eml") if p.with_suffix(".json").exists())


def sidecar(name: str) -> dict[str, Any]:
    """The expected outcome of one fixture."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def raw(name: str) -> bytes:
    """The fixture's bytes."""
    return (FIXTURES / f"{name}.eml").read_bytes()


def fixed_clock(day: str) -> Callable[[], datetime]:
    """09:00 WIB on ``day`` — the assessment date the sidecar was written for."""
    moment = datetime.combine(datetime.fromisoformat(day).date(), time(9, 0), JAKARTA)
    return lambda: moment


def site_settings(site: Path, extra_toml: str = "") -> Settings:
    """Settings for a test site folder (config file when extra settings are given)."""
    if extra_toml:
        cfg = site / "config.toml"
        cfg.write_text(extra_toml)
        return load_settings(cfg)
    settings = load_settings(None)
    settings.base_dir = site
    return settings


@dataclass
class Result:
    """What happened to one fixture mail."""

    entry: LedgerEntry
    app: Application | None
    attachments: list[Attachment]
    replies: list[OutboxMessage]


def run_fixture(
    name: str,
    settings: Settings,
    make_source: Callable[[], Source],
    deliver: Callable[[bytes], None],
) -> Result:
    """Deliver a fixture (its original first, for a follow-up) and poll; return its result."""
    expected = sidecar(name)
    app = App(settings, now=fixed_clock(expected["today"]))
    intake = Intake(
        app.engine, app.files, make_source(), source_key(settings), pipeline=app.pipeline()
    )
    first = expected.get("follow_up_of")
    data = raw(name)
    if first:
        deliver(raw(first))
        assert intake.poll().new == 1
        data = as_real_reply(data, app.engine)
    deliver(data)
    report = intake.poll()
    assert report.new == 1, report
    with Session(app.engine) as s:
        entry = s.exec(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
        assert entry is not None
        application = s.get(Application, entry.application_id) if entry.application_id else None
        atts = (
            list(s.exec(select(Attachment).where(Attachment.ledger_id == entry.id)))
            if application
            else []
        )
        replies = list(s.exec(select(OutboxMessage).where(OutboxMessage.ledger_id == entry.id)))
    return Result(entry, application, atts, replies)


_OUR_REPLY = re.compile(rb"<ack-([A-Z]+-\d{4}-\d{6})@sikm\.example\.org>")


def as_real_reply(data: bytes, engine: Engine) -> bytes:
    """A follow-up fixture with our real reply's Message-ID in place of its stand-in.

    The fixtures name the reply they answer ``<ack-SIKM-…@sikm.example.org>``; ours
    are random, so the newest mail we sent about that application takes its place,
    as the applicant's mail client would have put it there.
    """

    def ours(m: re.Match[bytes]) -> bytes:
        with Session(engine) as s:
            row = s.exec(
                select(OutboxMessage)
                .where(OutboxMessage.application_id == m.group(1).decode())
                .order_by(OutboxMessage.id.desc())
            ).first()
        return row.message_id.encode() if row is not None else m.group(0)

    return _OUR_REPLY.sub(ours, data)


def check(name: str, result: Result) -> None:
    """Compare a result with the sidecar, field for field."""
    exp = sidecar(name)
    entry = result.entry
    assert entry.outcome == exp["outcome"], (name, entry.outcome, entry.reason)
    kinds = [r.kind for r in result.replies]
    assert kinds == ([exp["reply"]] if exp["reply"] else []), (name, kinds)
    if exp["outcome"] not in ("application", "follow_up"):
        return
    app = result.app
    assert app is not None, name
    assert app.status == exp["status"], (name, app.status, app.missing, app.problems)
    assert app.category == exp["category"], name
    assert app.trip_type == exp["trip_type"], name
    for key, value in exp["fields"].items():
        assert app.fields.get(key) == value, (name, key, app.fields.get(key), value)
    assert sorted(app.missing) == sorted(exp["missing"]), (name, app.missing)
    codes = sorted({p["code"] for p in app.problems})
    assert codes == sorted(set(exp["problem_codes"])), (name, codes, app.problems)
    got = sorted((a.filename, a.kind, a.problem) for a in result.attachments)
    want = sorted((a["filename"], a["kind"], a["problem"]) for a in exp["attachments"])
    assert got == want, (name, got, want)
