"""The officer's terminal is safe: outside text is printed as text, never obeyed.

Hostile strings (terminal escapes, C1 controls, bidi overrides, Rich markup, emoji
codes) go through the real extraction and intake into `sikm show`, `list` and `mail`
(human and JSON); no escape, C1 or bidi character may reach stdout, nothing may
crash, and what was sent stays readable. The printers are also fed documents whose
every text is hostile, as a store written before extraction cleaned its input holds.
"""

from __future__ import annotations

import base64
import contextlib
import email.policy
import io
import itertools
import json
import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sikm_mailbot.cli import app as cli_app
from sikm_mailbot.cli import render
from sikm_mailbot.cli.common import emit_json
from sikm_mailbot.cli.permits import print_verdict
from sikm_mailbot.domain.safe_text import BIDI_CONTROLS, clean, json_escaped
from sikm_mailbot.mail.extract import read_message
from tests.desk_helpers import Site, make_site

# Rich obeys FORCE_COLOR: without a terminal, nothing here may print an escape of its own.
PLAIN_ENV: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None}

# What must never reach the officer's terminal: C0 but TAB/LF, DEL, C1, bidi controls.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "]")
FRAGMENTS = (
    "[/]",
    "[link=https://evil.example]",
    "[/link]",
    "[conceal]",
    "[bold red]",
    "[",
    "]",
    "\\",
    ":smile:",
    "\x1b]8;;https://evil.example\x1b\\",
    "\x1b]8;;\x1b\\",
    "\x1b[2J",
    "\x1b[H",
    "\x1b[8m",
    "\x1bc",
    "\x9b31m",
    "\x9d0;title\x07",
    "\x07",
    "\x08",
    "\x00",
    "\x7f",
    "\u202e",
    "\u202a",
    "\u2066",
    "\u2069",
    "Budi",
    " ",
)
UNSAFE_CHARS = st.characters(
    codec="utf-8",
    categories=("Cc",),
    include_characters="".join(BIDI_CONTROLS),
    exclude_characters="\r\n",
)


def hostile(max_size: int = 10) -> st.SearchStrategy[str]:
    """Strings mixing escape sequences, controls, bidi marks, markup and plain words."""
    words = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=3)
    pieces = st.one_of(st.sampled_from(FRAGMENTS), UNSAFE_CHARS, words)
    return st.lists(pieces, min_size=1, max_size=max_size).map("".join)


def assert_terminal_safe(out: str) -> None:
    """No escape, control, C1 or bidi character, and no traceback."""
    found = sorted({f"U+{ord(c):04X}" for c in FORBIDDEN.findall(out)})
    assert not found, (found, out[:2000])
    assert "Traceback" not in out


def captured(print_: Callable[[Any], None], doc: Any) -> str:
    """What a printer writes to stdout for ``doc``."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_(doc)
    return buffer.getvalue()


# ---- the printers, on documents as a dirty store would give them ----------------------


def poisoned(doc: Any, value: str) -> Any:
    """``doc`` with every text replaced by ``value`` (numbers, flags and None kept)."""
    if isinstance(doc, str):
        return value
    if isinstance(doc, list):
        return [poisoned(v, value) for v in doc]
    if isinstance(doc, dict):
        return {k: poisoned(v, value) for k, v in doc.items()}
    return doc


SHOW_DOC: dict[str, Any] = {
    "id": "SIKM-2020-000001",
    "status": "under_review",
    "status_name": "penelitian administrasi dan teknis",
    "category": "resident_out",
    "trip_type": "single",
    "created_at": "2020-05-20T02:00:00+00:00",
    "due_at": "2020-05-21T02:00:00+00:00",
    "age_working_hours": 1.5,
    "overdue": True,
    "applicant_email": "budi@example.com",
    "sender_email": "budi@example.com",
    "flags": ["sender_unverified"],
    "applicant": {"nama": "BUDI", "nik": "3171234567890001", "kota_tujuan": "SURABAYA"},
    "guarantor": {"penjamin_nama": "SITI"},
    "field_sources": {"nama": "body", "nik": "acroform:form.pdf"},
    "missing": ["ktp"],
    "problems": [{"field": "nik", "code": "nik_date", "message_en": "NIK is not right"}],
    "attachments": [
        {
            "id": 1,
            "kind": "photo",
            "filename": "foto.jpg",
            "origin": "forwarded:<a@example.com>",
            "detected_type": "jpeg",
            "size": 1234,
            "problem": None,
            "reason": "",
            "fields": {},
            "field_source": "",
            "text_excerpt": "",
            "width": 300,
            "height": 400,
        },
        {
            "id": 2,
            "kind": "statement",
            "filename": "surat.pdf",
            "origin": "",
            "detected_type": "pdf",
            "size": 99,
            "problem": "attachment_unreadable",
            "reason": "damaged",
            "fields": {},
            "field_source": "",
            "text_excerpt": "SURAT PERNYATAAN",
            "width": None,
            "height": None,
        },
        {
            "id": 3,
            "kind": "form",
            "filename": "formulir.pdf",
            "origin": "",
            "detected_type": "pdf",
            "size": 99,
            "problem": None,
            "reason": "",
            "fields": {"nama": "BUDI"},
            "field_source": "acroform",
            "text_excerpt": "",
            "width": None,
            "height": None,
        },
        {
            "id": 4,
            "kind": "unknown",
            "filename": "catatan.pdf",
            "origin": "",
            "detected_type": "pdf",
            "size": 99,
            "problem": None,
            "reason": "",
            "fields": {},
            "field_source": "",
            "text_excerpt": "a page of text",
            "width": None,
            "height": None,
        },
    ],
    "history": [
        {
            "at": "2020-05-20T02:00:00",
            "actor": "bot",
            "action": "status",
            "from_status": "received",
            "to_status": "under_review",
            "detail": "assessed",
        }
    ],
    "mail": [{"kind": "ack", "to": "budi@example.com", "status": "queued", "last_error": ""}],
}
QUEUE_ROW = {
    "id": "SIKM-2020-000001",
    "status": "under_review",
    "category": "resident_out",
    "name": "BUDI",
    "nik": "************0001",
    "age_working_hours": 2.0,
    "overdue": True,
    "missing": ["ktp"],
    "flags": ["x"],
}
MAIL_ROW = {
    "ledger_id": 1,
    "from": "budi@example.com",
    "subject": "Permohonan SIKM",
    "outcome": "quarantined",
    "stage": "done",
    "application_id": None,
    "reason": "not an application",
    "error": "",
}
VERDICT = {
    "valid": True,
    "message_en": "Permit is genuine and valid.",
    "message_id": "Izin asli dan berlaku.",
    "permit_number": "SIKM-2020-000001-P1",
    "holder": {"name": "BUDI", "nik_last4": "0001"},
    "route": {"origin": "JAKARTA", "destination": "SURABAYA"},
    "valid_from": "2020-05-27",
    "valid_until": "2020-06-02",
    "trip_type": "single",
    "category": "resident_out",
    "source": "token",
    "token_from": "text",
    "pdf_signature": {"reason": "ok", "signer": "CN=Office"},
    "pdf_signature_required": True,
}
PRINTERS: list[tuple[Callable[[Any], None], Any]] = [
    (render.print_application, SHOW_DOC),
    (render.print_queue, [QUEUE_ROW]),
    (render.print_mail, [MAIL_ROW]),
    (
        render.print_outbox,
        [{**MAIL_ROW, "kind": "ack", "to": "a", "attempts": 1, "status": "x", "last_error": "e"}],
    ),
    (print_verdict, VERDICT),
]


@pytest.mark.parametrize("print_,doc", PRINTERS, ids=lambda v: getattr(v, "__name__", ""))
def test_printers_work_on_a_clean_document(print_: Callable[[Any], None], doc: Any) -> None:
    out = captured(print_, doc)
    assert_terminal_safe(out)
    assert any(word in out for word in ("BUDI", "budi@example.com", "ack"))


@settings(max_examples=60, deadline=None)
@given(value=hostile())
def test_printers_show_any_stored_text_as_text(value: str) -> None:
    for print_, doc in PRINTERS:
        out = captured(print_, poisoned(doc, value))
        assert_terminal_safe(out)


@pytest.mark.parametrize(
    "value",
    ["[/]", "[link=https://evil.example]klik[/link]", "[conceal]rahasia", "[bold red]x", ":smile:"],
)
def test_markup_in_a_value_is_printed_literally(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # wide enough that no cell is cut short
    for print_, doc in PRINTERS[:3]:
        out = captured(print_, poisoned(doc, value))
        # Table cells wrap, so compare without the table's own layout.
        flat = re.sub(r"[\s│┃|]+", "", out)
        assert re.sub(r"\s+", "", value) in flat, (print_.__name__, out)


def test_a_terminal_gets_no_hyperlink_or_concealed_text_from_a_value() -> None:
    """Even on a colour terminal a value's markup stays text: no OSC 8, no SGR 8."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=200)
    value = "[link=https://evil.example]klik[/link] [conceal]rahasia[/conceal]"
    render.print_application(poisoned(SHOW_DOC, value), console)
    out = buffer.getvalue()
    assert "\x1b]8;" not in out and "\x1b[8m" not in out and "\x1b[8;" not in out
    assert "[link=https://evil.example]klik[/link]" in out
    assert "[conceal]rahasia[/conceal]" in out


def test_json_output_escapes_what_json_dumps_leaves_raw(capsys: pytest.CaptureFixture) -> None:
    doc = {"name": "BUDI \u202eABC \x1b[2J \x9b \x7f", "n": [1, "\u2066x\u2069"]}
    emit_json(doc)
    out = capsys.readouterr().out
    assert_terminal_safe(out)
    assert json.loads(out) == doc  # the same values, only written differently
    assert "\\u202e" in out and "\\u001b" in out and "\\u009b" in out
    assert json_escaped('"ok ä"') == '"ok ä"'


def test_error_lines_show_outside_text_as_symbols() -> None:
    import typer

    from sikm_mailbot.cli.common import fail

    probe = typer.Typer()

    @probe.command()
    def boom() -> None:
        fail(1, "no such file: \x1b[2Jevil\u202e.pdf")

    result = CliRunner().invoke(probe, [])
    assert result.exit_code == 1
    assert_terminal_safe(result.stderr)
    assert "␛[2Jevil<U+202E>.pdf" in result.stderr


# ---- extraction --------------------------------------------------------------------------

_ids = itertools.count(1)


def encoded_word(text: str) -> str:
    """``text`` as one RFC 2047 encoded word: how a sender gets any character into a header."""
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def hostile_mail(value: str, sender: str = "budi@example.com") -> bytes:
    """An application by mail with ``value`` in the subject, the sender's name, the
    name field, a second field and an attachment's file name (the stdlib builds it)."""
    n = next(_ids)
    msg = EmailMessage()
    msg["From"] = f"{encoded_word('Budi ' + value)} <{sender}>"
    msg["To"] = "sikm@sikm.example.org"
    msg["Subject"] = encoded_word(f"Permohonan SIKM {value}")
    msg["Message-ID"] = f"<hostile-{n}@example.com>"
    msg["Date"] = "Wed, 20 May 2020 09:00:00 +0700"
    msg.set_content(
        "Selamat pagi, berikut permohonan SIKM saya.\n"
        f"Nama: Budi {value} Santoso\n"
        "NIK: 3171234567890001\n"
        f"Kota Tujuan: Surabaya {value}\n"
    )
    msg.add_attachment(
        b"%PDF-1.4\n% not really\n",
        maintype="application",
        subtype="pdf",
        filename=("utf-8", "", f"surat {value}.pdf"),  # RFC 2231, any character
    )
    return msg.as_bytes(policy=email.policy.SMTP)


@settings(max_examples=40, deadline=None)
@given(value=hostile(max_size=6))
def test_extraction_keeps_no_control_or_bidi_character(value: str) -> None:
    read = read_message(hostile_mail(value))
    kept = [
        read.subject,
        read.from_name,
        read.body_text,
        read.body_new_text,
        *read.fields.values(),
        *read.body_fields.values(),
        *(a.filename for a in read.attachments),
        *(a.text_excerpt for a in read.attachments),
        *(a.reason for a in read.attachments),
    ]
    for text in kept:
        assert clean(text) == text, repr(text)
    assert read.fields.get("nik") == "3171234567890001"
    assert "Budi" in read.fields.get("nama", "")


def test_extraction_cleans_escapes_and_overrides_but_keeps_the_words() -> None:
    value = "\x1b]8;;https://evil.example\x1b\\klik\x1b]8;;\x1b\\ \x1b[2J \u202egpj.exe [/]"
    read = read_message(hostile_mail(value))
    for text in (read.subject, read.from_name, read.fields["nama"]):
        assert not FORBIDDEN.search(text), repr(text)
        assert "gpj.exe" in text
    assert "klik" in read.subject and "klik" in read.fields["nama"]
    assert "[/]" in read.subject and "[/]" in read.fields["nama"]
    # A file name loses everything up to its last slash; without one, the words stay.
    (attachment,) = read_message(hostile_mail("\x1b[2J\u202egpj.exe")).attachments
    assert attachment.filename == "surat [2Jgpj.exe.pdf"


# ---- the whole road: mail → intake → the officer's commands --------------------------


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("terminal"))


def run_all_views(site: Site, app_id: str) -> list[str]:
    """stdout and stderr of every view of the desk, each checked for exit 0."""
    outputs = []
    for args in (
        ("show", app_id),
        ("show", app_id, "--json"),
        ("list",),
        ("list", "--json"),
        ("mail",),
        ("mail", "--json"),
    ):
        result = CliRunner().invoke(
            cli_app, ["--config", str(site.config), *args], env=PLAIN_ENV | {"SIKM_NOW": site.now}
        )
        assert result.exit_code == 0, (args, result.output)
        if "--json" in args:
            json.loads(result.stdout)  # one JSON document, nothing else
        outputs += [result.stdout, result.stderr]
    return outputs


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=hostile(max_size=6))
def test_hostile_mail_reaches_the_officer_as_text(office: Site, value: str) -> None:
    office.deliver(hostile_mail(value))
    office.sikm("poll")
    app_id = max(r["id"] for r in office.sikm("list", "--json"))
    doc = office.show(app_id)
    assert "BUDI" in doc["applicant"]["nama"]
    for out in run_all_views(office, app_id):
        assert_terminal_safe(out)
    # What the intake stored is clean already; the JSON carries no escaped control either.
    stored = json.dumps(doc, ensure_ascii=False)
    assert not FORBIDDEN.search(stored)
    assert "\\u001b" not in stored and "\\u0007" not in stored


def test_raw_mail_export_is_not_written_to_a_terminal(office: Site, tmp_path: Path) -> None:
    """`sikm mail --export ID` without --out refuses a terminal; a file gets the bytes."""
    import os
    import pty
    import subprocess
    import sys

    office.deliver(hostile_mail("\x1b[2J"))
    office.sikm("poll")
    ledger_id = office.sikm("mail", "--json")[0]["ledger_id"]
    sikm = str(Path(sys.executable).parent / "sikm")
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [sikm, "--config", str(office.config), "mail", "--export", str(ledger_id)],
            stdout=secondary,
            stderr=subprocess.PIPE,
            env={**os.environ, "SIKM_NOW": office.now},
            timeout=120,
            check=False,
        )
    finally:
        os.close(secondary)
    os.set_blocking(primary, False)
    try:
        shown = os.read(primary, 1 << 16)
    except (BlockingIOError, OSError):
        shown = b""
    os.close(primary)
    assert proc.returncode == 2, proc.stderr
    assert b"terminal" in proc.stderr and b"\x1b" not in shown
    out = tmp_path / "raw.eml"
    office.sikm("mail", "--export", str(ledger_id), "--out", str(out))
    assert b"Permohonan SIKM" in out.read_bytes()


def test_raw_mail_never_reaches_a_terminal_even_through_a_file_name(tmp_path: Path) -> None:
    """``--out /dev/stdout`` (or /dev/tty) on a terminal is refused like no --out at all."""
    import os
    import subprocess
    import sys

    site = make_site(tmp_path)
    site.deliver_fixture("app_missing_ktp")
    master, slave = os.openpty()
    try:
        for out in ("/dev/stdout", "/proc/self/fd/1"):
            proc = subprocess.run(
                [sys.executable, "-m", "sikm_mailbot.cli", "--config", str(site.config)]
                + ["mail", "--export", "1", "--out", out],
                stdout=slave,
                stderr=subprocess.PIPE,
                env={**os.environ, "SIKM_NOW": site.now},
                timeout=120,
            )
            assert proc.returncode == 2, proc.stderr
            assert b"not printed on a terminal" in proc.stderr and b"Traceback" not in proc.stderr
        os.set_blocking(master, False)
        with contextlib.suppress(BlockingIOError):
            assert b"Message-ID" not in os.read(master, 65536)  # nothing of the mail was written
    finally:
        os.close(master)
        os.close(slave)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = CliRunner().invoke(
        cli_app,
        ["--config", str(site.config), "mail", "--export", "1", "--out", str(folder)],
        env={"SIKM_NOW": site.now},
    )
    assert result.exit_code == 2 and "is a folder" in result.output
