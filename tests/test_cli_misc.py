"""Smaller commands: the mail ledger, the outbox, the blank forms, the example config."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sqlmodel import Session, select

from sikm_mailbot.config import Settings, load_settings
from sikm_mailbot.store.models import OutboxMessage
from sikm_mailbot.wiring import App
from tests.desk_helpers import make_site
from tests.mailgen import simple_mail

REPO = Path(__file__).resolve().parents[1]


def test_mail_lists_quarantine_with_reasons_and_exports_raw(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    junk = simple_mail(subject="cheap watches", body="buy now", sender="spam@example.net")
    site.deliver(junk)
    site.sikm("poll")
    (row,) = site.sikm("mail", "--outcome", "quarantined", "--json")
    assert row["subject"] == "cheap watches" and "not an application" in row["reason"]
    out = tmp_path / "junk.eml"
    site.sikm("mail", "--export", str(row["ledger_id"]), "--out", str(out))
    assert out.read_bytes() == junk
    site.sikm("mail", "--export", "999", expect=1)


def test_files_exports_every_stored_attachment(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    app_id = site.deliver_fixture("app_resident_out_single_complete")
    attachments = site.show(app_id)["attachments"]
    out = tmp_path / "look"
    result = site.sikm("files", app_id, "--out", str(out))
    written = sorted(out.iterdir())
    assert [str(p) for p in written] == sorted(result.stdout.splitlines())
    assert f"{len(written)} file(s) written" in result.stderr
    assert len(written) == len([a for a in attachments if not a["problem"]]) > 0
    first = min(attachments, key=lambda a: a["id"])
    assert written[0].name.startswith(f"{first['id']:04d}-{first['kind']}-")
    site.sikm("files", "SIKM-2020-999999", "--out", str(out), expect=1)


def test_outbox_shows_failures_and_requeues(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.deliver_fixture("app_missing_ktp")
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        msg = s.exec(select(OutboxMessage)).one()
        msg.status, msg.last_error = "failed", "550 5.1.1 mailbox unavailable"
        s.add(msg)
        s.commit()
        mid = msg.message_id
    (row,) = site.sikm("outbox", "--status", "failed", "--json")
    assert row["last_error"].startswith("550") and row["message_id"] == mid
    site.sikm("outbox", "--retry", mid)
    assert site.sikm("outbox", "--status", "failed", "--json") == []
    site.sikm("outbox", "--retry", mid, expect=1)
    history = site.show(row["application_id"])["history"]
    assert history[-1]["action"] == "mail_requeued" and history[-1]["actor"] == "Officer Test"


def test_forms_command_writes_the_shipped_forms(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.sikm("forms", "--out", str(tmp_path / "f"))
    for name in ("formulir-permohonan-sikm.pdf", "surat-pernyataan.pdf"):
        assert (tmp_path / "f" / name).read_bytes() == (
            REPO / "templates/forms" / name
        ).read_bytes()


def _keys(model: type, prefix: str = "") -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        sub = info.annotation
        if isinstance(sub, type) and hasattr(sub, "model_fields"):
            keys |= _keys(sub, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_example_config_documents_every_key_and_validates() -> None:
    text = (REPO / "config.example.toml").read_text()
    data = tomllib.loads(text)
    Settings.model_validate(data)
    flat = set()
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= {f"{key}.{k}" for k in value}
        else:
            flat.add(key)
    commented = {
        f"{section}.{line.split('=')[0].strip('# ').strip()}"
        for section, body in _sections(text)
        for line in body
        if line.startswith("# ")
        and "=" in line
        and " " not in line.split("=")[0].strip("# ").strip()
    }
    assert _keys(Settings) <= flat | commented, sorted(_keys(Settings) - flat - commented)


def _sections(text: str):
    section, body = "", []
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            yield section, body
            section, body = line.strip("[]"), []
        else:
            body.append(line)
    yield section, body
