"""read_message end to end: real MIME built at test time, and the real-world corpus."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from sikm_mailbot.mail.extract import Limits, ReadMessage, Sandbox, read_message
from tests.test_extract_samples import (
    APPLICANT,
    fillable_form_pdf,
    image_bytes,
    mail,
    printed_form_pdf,
    text_pdf,
)

REALMAIL = sorted(Path("/work/shared/realmail").glob("*.eml"))


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(Limits()) as box:
        yield box


def read(msg: EmailMessage | bytes, sandbox: Sandbox, limits: Limits = Limits()) -> ReadMessage:
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    return read_message(raw, limits, sandbox=sandbox)


def test_complete_application(sandbox: Sandbox) -> None:
    msg = mail(
        body="Dengan hormat,\nNama Lengkap: Should Lose To The Form\nSektor: tik\n",
        attachments=[
            (fillable_form_pdf(APPLICANT), "formulir.pdf", "application/pdf"),
            (text_pdf(["SURAT PERNYATAAN"]), "pernyataan.pdf", "application/pdf"),
            (image_bytes((856, 540)), "ktp.jpg", "image/jpeg"),
            (image_bytes((400, 560)), "IMG_1234.jpg", "application/octet-stream"),
        ],
    )
    msg["Auto-Submitted"] = "no"
    msg["In-Reply-To"] = "<prev@example.org>"
    msg["References"] = "<a@example.org> <prev@example.org>"
    got = read(msg, sandbox)
    assert got.message_id == "<app-1@mail.example.com>"
    assert (got.from_addr, got.from_name) == ("sari.w@example.com", "Sari Wulandari")
    assert got.to == ["sikm@example.org"]
    assert got.date is not None and got.date.year == 2020
    assert got.in_reply_to == "<prev@example.org>"
    assert got.references == ["<a@example.org>", "<prev@example.org>"]
    assert got.headers["auto-submitted"] == "no"
    assert got.headers["content-type"].startswith("multipart/mixed")
    assert [a.kind for a in got.attachments] == ["form", "statement", "ktp", "photo"]
    assert all(a.problem is None for a in got.attachments)
    assert got.attachments[3].detected_type == "jpeg"
    assert got.attachments[3].declared_type == "application/octet-stream"
    assert got.fields["nama"] == APPLICANT["nama"]
    assert got.field_sources["nama"] == "acroform:formulir.pdf"
    assert got.fields["sektor"] == "tik" and got.field_sources["sektor"] == "body"
    assert got.body_fields["nama"] == "Should Lose To The Form"
    assert not got.forwarded and not got.is_report and not got.too_many_attachments


def test_body_only_application_and_html_only(sandbox: Sandbox) -> None:
    plain = read(mail(body="Nama Lengkap: Sari\nNIK : 3174055203900002\n"), sandbox)
    assert plain.fields == {"nama": "Sari", "nik": "3174055203900002"}
    assert plain.field_sources == {"nama": "body", "nik": "body"}
    html = "<html><body><p>Nama Lengkap: <b>Sari</b></p><p>NIK: 3174055203900002</p></body></html>"
    got = read(mail(body="", html=html), sandbox)
    assert got.body_text == "Nama Lengkap: Sari\nNIK: 3174055203900002"
    assert got.fields == {"nama": "Sari", "nik": "3174055203900002"}


def test_printed_form_page_text_beats_body(sandbox: Sandbox) -> None:
    msg = mail(
        body="Nama Lengkap: Typo Name\nPekerjaan: Guru",
        attachments=[(printed_form_pdf(APPLICANT), "scan.pdf", "application/pdf")],
    )
    got = read(msg, sandbox)
    assert got.fields["nama"] == APPLICANT["nama"]
    assert got.field_sources["nama"] == "page_text:scan.pdf"
    assert got.fields["pekerjaan"] == "Guru" and got.field_sources["pekerjaan"] == "body"


def test_reply_keeps_quoted_text_out_of_fields(sandbox: Sandbox) -> None:
    body = (
        "NIK: 3174055203900002\n\n"
        "On Wed, 20 May 2020, SIKM <sikm@example.org> wrote:\n> Nama Lengkap: X\n"
    )
    got = read(mail(body=body), sandbox)
    assert got.body_new_text == "NIK: 3174055203900002"
    assert "> Nama Lengkap: X" in got.body_text
    assert got.fields == {"nik": "3174055203900002"}


def test_forwarded_message_rfc822_keeps_origin(sandbox: Sandbox) -> None:
    inner = mail(
        body="Nama Lengkap: Sari Wulandari\nKota Asal: Jakarta",
        attachments=[(image_bytes((856, 540)), "ktp.jpg", "image/jpeg")],
        sender="Sari <sari.w@example.com>",
    )
    inner.replace_header("Message-ID", "<inner-7@example.com>")
    outer = mail(body="FYI, permohonan saudara saya.", sender="Budi <budi@example.net>")
    outer.add_attachment(inner)  # message/rfc822
    got = read(outer, sandbox)
    assert got.forwarded and got.forwarded_from == "sari.w@example.com"
    assert got.from_addr == "budi@example.net"
    assert got.body_new_text == "FYI, permohonan saudara saya."
    assert got.body_fields == {"nama": "Sari Wulandari", "kota_asal": "Jakarta"}
    (att,) = got.attachments
    assert att.origin == "forwarded:<inner-7@example.com>" and att.kind == "ktp"


def test_inline_forward(sandbox: Sandbox) -> None:
    body = (
        "Mohon diproses\n\n---------- Forwarded message ---------\n"
        "From: Sari <sari.w@example.com>\nDate: Wed, 20 May 2020\nSubject: SIKM\n\n"
        "Nama Lengkap: Sari Wulandari\n"
    )
    got = read(mail(body=body, sender="budi@example.net"), sandbox)
    assert got.forwarded and got.forwarded_from == "sari.w@example.com"
    assert got.body_new_text == "Mohon diproses"
    assert got.fields == {"nama": "Sari Wulandari"}


def test_rfc2231_and_rfc2047_names_missing_names_and_paths(sandbox: Sandbox) -> None:
    msg = mail(attachments=[(image_bytes((856, 540)), "KTP Sári – asli.jpg", "image/jpeg")])
    assert "filename*=" in msg.as_string()  # the stdlib wrote RFC 2231
    msg.add_attachment(text_pdf(["SURAT TUGAS"]), maintype="application", subtype="pdf")
    msg.add_attachment(
        text_pdf(["x"]), maintype="application", subtype="octet-stream", filename="x.pdf"
    )
    msg.get_payload()[-1].replace_header(
        "Content-Disposition", 'attachment; filename="=?utf-8?b?Li4vLi4vZXRjL3N1cmF0LnBkZg==?="'
    )
    got = read(msg, sandbox)
    names = [a.filename for a in got.attachments]
    assert names == ["KTP Sári – asli.jpg", "attachment-2.pdf", "surat.pdf"]  # ../../etc/ gone


def test_archives_and_too_many_attachments(sandbox: Sandbox) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ktp.jpg", image_bytes((856, 540)))
    files = [(buf.getvalue(), "berkas.zip", "application/zip")]
    files += [(b"hello %d" % i, f"n{i}.txt", "text/plain") for i in range(4)]
    got = read(mail(attachments=files), sandbox, Limits(max_attachments=3))
    assert got.too_many_attachments
    assert len(got.attachments) == 3
    assert got.attachments[0].problem == "archive_not_accepted"


def test_delivery_status_report(sandbox: Sandbox) -> None:
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        b"To: sikm@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn-1@mx.example.net>\r\nAuto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        b' boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n'
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: sikm@example.org\r\n"
        b"Message-ID: <reply-42@sikm.example.org>\r\nSubject: SIKM\r\n\r\n--B--\r\n"
    )
    got = read(raw, sandbox)
    assert got.is_report
    assert got.report_original_message_id == "<reply-42@sikm.example.org>"
    assert got.headers["auto-submitted"] == "auto-replied"
    assert got.attachments == [] and not got.forwarded
    assert got.body_text == "Delivery failed."


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 100,
        b"Subject: =?utf-8?q?broken\r\nFrom: <<<\r\nDate: yesterday\r\n\r\nhi",
        (
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
            b"--x\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        * 30,
    ],
)
def test_garbage_never_raises(raw: bytes, sandbox: Sandbox) -> None:
    got = read(raw, sandbox)
    assert isinstance(got, ReadMessage)
    assert not any(d.startswith("ExtractionFailed") for d in got.defects)


@pytest.mark.parametrize("path", REALMAIL, ids=lambda p: p.name)
def test_realmail_corpus(path: Path, sandbox: Sandbox) -> None:
    got = read(path.read_bytes(), sandbox)
    assert not any(d.startswith("ExtractionFailed") for d in got.defects)
    assert got.from_addr == got.from_addr.lower()
    for att in got.attachments:
        assert att.filename and "/" not in att.filename and "\\" not in att.filename
        assert att.size == len(att.data) and len(att.sha256) == 64
        assert att.problem is None or att.reason
    if path.name == "mailparser-mail_malformed_2.eml":  # the delivery failure
        assert got.is_report


def test_realmail_has_expected_readings(sandbox: Sandbox) -> None:
    by_name = {p.name: read(p.read_bytes(), sandbox) for p in REALMAIL}
    assert by_name["mailparser-mail_test_9.eml"].subject.startswith("我把")  # gb2312 → gb18030
    zips = [a for m in by_name.values() for a in m.attachments if a.detected_type == "zip"]
    assert zips and all(a.problem == "archive_not_accepted" for a in zips)


@pytest.mark.parametrize(
    ("from_value", "count"),
    [
        ("Budi <budi.wirawan@example.com>", 1),
        ("attacker@evil.example.net; budi.wirawan@example.com", 2),
        ("attacker@evil.example.net, budi.wirawan@example.com", 2),
        ('"budi.wirawan@example.com" <attacker@evil.example.net>', 1),
    ],
)
def test_from_counts_every_mailbox_any_parser_sees(
    from_value: str, count: int, sandbox: Sandbox
) -> None:
    raw = (
        f"From: {from_value}\r\nTo: sikm@sikm.example.org\r\nSubject: x\r\n"
        "Message-ID: <m1@example.com>\r\n\r\nhalo\r\n"
    ).encode()
    assert read_message(raw, Limits(), sandbox=sandbox).from_mailboxes == count
