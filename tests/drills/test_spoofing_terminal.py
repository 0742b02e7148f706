"""Spoofing the officer's terminal (issue 12, item 5): one case per attack row.

Mail goes through the real intake and CLI (Maildir site); permits through `sikm
approve` and `sikm verify` with real keys. Each attack has its safe outcome asserted:
the queue stays up, what was sent is shown as text (markup literally, escapes and
bidi controls stripped at extraction or shown as symbols), and a permit is never
signed with a control character in it. Genuine counterparts keep the checks honest.
"""

from __future__ import annotations

import base64
import email.policy
import json
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from sikm_mailbot.cli import app as cli_app
from sikm_mailbot.domain.safe_text import BIDI_CONTROLS
from sikm_mailbot.permits import issue as issue_module
from sikm_mailbot.permits import token_format
from sikm_mailbot.permits.token_format import PermitClaims, encode_claims
from sikm_mailbot.store.models import Application, Attachment, Permit
from sikm_mailbot.wiring import App
from tests.desk_helpers import Site, make_site
from tests.drills.common import EVIDENCE
from tests.test_permit_issue import (
    FIELDS,
    NOW,
    TODAY,
    add_application,
    cli,
    issue_permit,
    open_app,
    write_config,
)

pytestmark = pytest.mark.drill

OSC8 = "\x1b]8;;https://evil.example\x1b\\klik di sini\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J\x1b[H"
RLO = "\u202e"
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "]")
# No forced colour (Rich's own escapes), and wide enough that no table cell is cut.
PLAIN_ENV: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "400"}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    s = make_site(tmp_path)
    EVIDENCE.append(tmp_path)
    return s


def word(text: str) -> str:
    """``text`` as an RFC 2047 encoded word (any character fits in a header this way)."""
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def application_mail(
    *,
    subject: str = "Permohonan SIKM",
    name: str = "Budi Santoso",
    fields: str = "",
    filename: str = "ktp.pdf",
    display: str = "Budi",
    raw_subject: bool = False,
) -> bytes:
    """An application typed in the body, with one attachment (stdlib email)."""
    msg = EmailMessage()
    msg["From"] = f"{word(display)} <budi.santoso@example.com>"
    msg["To"] = "sikm@sikm.example.org"
    msg["Subject"] = subject if raw_subject else word(subject)
    msg["Message-ID"] = f"<spoof-{abs(hash((subject, name, filename, fields)))}@example.com>"
    msg["Date"] = "Wed, 20 May 2020 09:00:00 +0700"
    msg.set_content(f"Permohonan SIKM.\nNama: {name}\nNIK: 3171234567890001\n{fields}")
    msg.add_attachment(
        b"%PDF-1.4\n% not a real PDF\n",
        maintype="application",
        subtype="pdf",
        filename=("utf-8", "", filename),
    )
    return msg.as_bytes(policy=email.policy.SMTP)


def view(site: Site, *args: str) -> Result:
    """One desk command, run as the officer runs it: exit 0, no traceback, safe stdout."""
    result = CliRunner().invoke(
        cli_app, ["--config", str(site.config), *args], env=PLAIN_ENV | {"SIKM_NOW": site.now}
    )
    assert result.exit_code == 0, (args, result.output)
    for out in (result.stdout, result.stderr):
        assert not FORBIDDEN.search(out), (args, out)
        assert "Traceback" not in out
    return result


def deliver(site: Site, raw: bytes) -> str:
    site.deliver(raw)
    site.sikm("poll")
    return max(r["id"] for r in site.sikm("list", "--json"))


def flat(text: str) -> str:
    """Output without table layout (cells wrap), to find a value in it."""
    return re.sub(r"[\s│┃]+", "", text)


def test_markup_closing_tag_does_not_take_the_queue_down(site: Site) -> None:
    app_id = deliver(site, application_mail(subject="Izin [/] pulang", name="Budi [/] Santoso"))
    for args in (("list",), ("show", app_id), ("mail",)):
        out = view(site, *args).stdout
        assert "[/]" in out, args  # printed literally, not parsed
    assert site.show(app_id)["applicant"]["nama"] == "BUDI [/] SANTOSO"


def test_link_and_conceal_markup_are_printed_as_written(site: Site) -> None:
    app_id = deliver(
        site,
        application_mail(
            name="Budi [link=https://evil.example]klik[/link]",
            fields="Alamat: [conceal]rahasia[/conceal] Jl. Contoh 1\n",
            filename="[conceal]ktp[link=evil.example].pdf",
        ),
    )
    out = flat(view(site, "show", app_id).stdout)
    assert "[LINK=HTTPS://EVIL.EXAMPLE]KLIK[/LINK]" in out
    assert "[conceal]rahasia[/conceal]" in out
    assert "[conceal]ktp[link=evil.example].pdf" in out


def test_escape_sequences_never_reach_the_terminal(site: Site) -> None:
    app_id = deliver(
        site,
        application_mail(
            subject=f"Permohonan {CLEAR}SIKM",
            display=f"Budi {OSC8}",
            name=f"Budi {OSC8} Santoso",
            fields=f"Kota Tujuan: Surabaya{CLEAR}\n",
            filename=f"ktp{CLEAR}.pdf",
        ),
    )
    doc = site.show(app_id)
    stored = json.dumps(doc, ensure_ascii=False)
    assert "\x1b" not in stored  # stripped at extraction
    assert "KLIK DI SINI" in doc["applicant"]["nama"]
    for args in (("show", app_id), ("show", app_id, "--json"), ("list",), ("mail",)):
        view(site, *args)
    # The ledger lists the subject as it came, the escape defused (view checked it).
    assert "[2J" in view(site, "mail").stdout
    assert "[2J" in view(site, "mail", "--json").stdout


def test_an_escape_in_a_raw_subject_is_shown_not_obeyed(site: Site) -> None:
    deliver(site, application_mail(subject=f"Permohonan SIKM {CLEAR}", raw_subject=True))
    assert "SIKM" in view(site, "mail").stdout


def test_right_to_left_override_in_fields_and_file_names_is_removed(site: Site) -> None:
    app_id = deliver(
        site,
        application_mail(
            name=f"Budi {RLO}otnasS",
            fields=f"Kota Asal: {RLO}atrakaJ\n",
            filename=f"surat{RLO}fdp.exe.pdf",
        ),
    )
    doc = site.show(app_id)
    assert doc["applicant"]["nama"] == "BUDI OTNASS"
    assert doc["attachments"][0]["filename"] == "suratfdp.exe.pdf"
    out = view(site, "show", app_id).stdout
    assert RLO not in out and "suratfdp.exe.pdf" in flat(out)


# ---- a store written before extraction cleaned its input ---------------------------------


@pytest.fixture
def office(tmp_path: Path) -> App:
    cfg = write_config(tmp_path)
    assert cli(cfg, "keys", "init").exit_code == 0
    EVIDENCE.append(tmp_path)
    return open_app(cfg)


def cfg_of(app: App) -> Path:
    assert app.settings.config_file is not None
    return Path(app.settings.config_file)


@pytest.mark.parametrize(
    "field,value",
    [("nama", f"DEWI {RLO}ANGGRAINI"), ("kota_tujuan", f"SURABAYA{CLEAR}"), ("alamat", OSC8)],
)
def test_approve_refuses_a_field_holding_a_control_character(
    office: App, field: str, value: str
) -> None:
    app_id = "SIKM-2020-000301"
    add_application(office, app_id, {**FIELDS, field: value})
    show = cli(cfg_of(office), "show", app_id)
    assert show.exit_code == 0 and not FORBIDDEN.search(show.stdout)
    refused = cli(cfg_of(office), "approve", app_id)
    assert refused.exit_code == 1
    (line,) = refused.stderr.strip().splitlines()
    assert field in line and "control or bidi" in line and not FORBIDDEN.search(line)
    with Session(office.engine) as s:
        assert s.get(Application, app_id).status == "under_review"
        assert s.exec(select(Permit).where(Permit.application_id == app_id)).first() is None
        # The officer corrects the field; then the same application is approved.
        row = s.get(Application, app_id)
        row.fields = {**row.fields, field: FIELDS.get(field, "Jl. Contoh 1")}
        s.add(row)
        s.commit()
    assert cli(cfg_of(office), "approve", app_id).exit_code == 0


def test_permit_claims_with_a_control_character_are_never_signed() -> None:
    claims = PermitClaims(
        "SIKM-2020-000302-P1",
        "DEWI",
        "0042",
        "resident_out",
        "single",
        "JAKARTA",
        "SURABAYA",
        TODAY,
        TODAY,
    )
    assert encode_claims(claims, NOW)  # the genuine one
    for name, value in (
        ("name", f"DEWI{OSC8}"),
        ("destination", f"BOGOR{RLO}"),
        ("origin", "\x9b"),
    ):
        bad = PermitClaims(**{**claims.__dict__, name: value})
        with pytest.raises(ValueError, match=name):
            encode_claims(bad, NOW)


def test_verify_shows_a_legacy_token_with_escapes_as_symbols(
    office: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token signed before claims were checked: its escape is shown, never obeyed."""
    app_id = "SIKM-2020-000303"
    add_application(office, app_id, {**FIELDS, "nama": f"DEWI{CLEAR}"})
    with monkeypatch.context() as m:  # the old issuer, which signed whatever it read
        m.setattr(issue_module, "_refuse_unsafe", lambda fields: None)
        m.setattr(token_format, "check_claims", lambda claims: None)
        legacy = issue_permit(office, app_id)
    result = cli(cfg_of(office), "verify", legacy.token)
    assert result.exit_code == 0, result.output
    assert not FORBIDDEN.search(result.stdout) and "DEWI␛[2J␛[H" in result.stdout
    as_json = cli(cfg_of(office), "verify", "--json", legacy.token)
    assert not FORBIDDEN.search(as_json.stdout)
    assert json.loads(as_json.stdout)["holder"]["name"] == f"DEWI{CLEAR}"


def test_a_reversed_subject_is_listed_in_reading_order(site: Site) -> None:
    deliver(site, application_mail(subject=f"Izin {RLO}gnalup"))
    out = view(site, "mail").stdout
    assert "gnalup" in out and RLO not in out


def test_files_export_writes_no_reversed_file_name(office: App, tmp_path: Path) -> None:
    """A file name stored before cleaning: the copy on disk and the lines printed are clean."""
    app_id = "SIKM-2020-000304"
    add_application(office, app_id)
    with Session(office.engine) as s:
        (row,) = s.exec(select(Attachment).where(Attachment.application_id == app_id)).all()
        row.filename = f"foto{RLO}gpj.exe{CLEAR}"
        s.add(row)
        s.commit()
    out = tmp_path / "export"
    result = cli(cfg_of(office), "files", app_id, "--out", str(out))
    assert result.exit_code == 0, result.output
    (written,) = [p.name for p in out.iterdir()]
    assert not FORBIDDEN.search(written) and "fotogpj.exe" in written
    assert not FORBIDDEN.search(result.stdout) and not FORBIDDEN.search(result.stderr)
