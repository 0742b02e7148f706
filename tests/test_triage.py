"""Triage rules: loop safety, bounces, authentication results, commands, answers."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from sikm_mailbot.mail.authres import authenticate
from sikm_mailbot.mail.triage import (
    clean_subject,
    command_of,
    find_tracking_number,
    guarantor_answer,
    is_bounce,
    no_reply_reason,
)

REALMAIL = Path("/work/shared/realmail")
OUR = "sikm@sikm.example.org"
NORMAL = {
    "from": "Budi Santoso <budi@example.com>",
    "to": OUR,
    "subject": "Permohonan SIKM",
    "content-type": "multipart/mixed; boundary=xyz",
    "return-path": "<budi@example.com>",
}


def headers_of(raw: bytes) -> dict[str, str | list[str]]:
    """Lower-cased name → value (list when repeated), as the extraction gives them."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    out: dict[str, str | list[str]] = {}
    for name, value in msg.items():
        key, text = name.lower(), str(value)
        if key in out:
            prev = out[key]
            out[key] = [*(prev if isinstance(prev, list) else [prev]), text]
        else:
            out[key] = text
    return out


def test_normal_mail_may_be_answered() -> None:
    assert no_reply_reason(NORMAL, "budi@example.com", "<budi@example.com>") is None
    assert no_reply_reason({**NORMAL, "auto-submitted": "no"}, "budi@example.com", "") is None
    assert not is_bounce(NORMAL)


@pytest.mark.parametrize(
    ("extra", "from_addr", "return_path", "needle"),
    [
        ({"auto-submitted": "auto-replied"}, "budi@example.com", "", "Auto-Submitted"),
        ({"auto-submitted": "auto-generated; owner-email=x"}, "budi@example.com", "", "Auto-Sub"),
        ({}, "budi@example.com", "<>", "Empty return path"),
        ({"return-path": "<>"}, "budi@example.com", "", "Empty return path"),
        ({}, "MAILER-DAEMON@mx.example.net", "", "mailer-daemon"),
        ({}, "postmaster@example.net", "", "postmaster"),
        ({}, "noreply@bank.example.com", "", "noreply"),
        ({}, "No-Reply <no-reply@shop.example.com>", "", "no-reply"),
        ({}, "donotreply@example.org", "", "donotreply"),
        ({}, "do-not-reply@example.org", "", "do-not-reply"),
        ({"precedence": "bulk"}, "budi@example.com", "", "Precedence: bulk"),
        ({"precedence": "junk"}, "budi@example.com", "", "Precedence: junk"),
        ({"precedence": "list"}, "budi@example.com", "", "Precedence: list"),
        ({"precedence": "auto_reply"}, "budi@example.com", "", "Precedence: auto_reply"),
        ({"list-id": "<news.example.com>"}, "budi@example.com", "", "List-Id"),
        ({"list-unsubscribe": "<mailto:u@example.com>"}, "budi@example.com", "", "List-Unsub"),
        ({"x-auto-response-suppress": "All"}, "budi@example.com", "", "X-Auto-Response"),
        ({"x-auto-response-suppress": "OOF, AutoReply"}, "budi@example.com", "", "X-Auto-Resp"),
        ({"x-auto-response-suppress": "DR"}, "budi@example.com", "", "X-Auto-Response"),
        ({"x-autoreply": "yes"}, "budi@example.com", "", "X-Autoreply"),
        ({"x-autorespond": "vacation"}, "budi@example.com", "", "X-Autorespond"),
        ({"x-loop": "helpdesk@example.net"}, "budi@example.com", "", "X-Loop"),
        ({"x-loop": OUR}, "budi@example.com", "", "our own"),
        ({}, OUR, "", "our own address"),
        (
            {"content-type": 'multipart/report; report-type="delivery-status"; boundary=b'},
            "budi@example.com",
            "",
            "bounce",
        ),
        (
            {"content-type": "multipart/report; report-type=disposition-notification"},
            "budi@example.com",
            "",
            "disposition-notification",
        ),
    ],
)
def test_each_loop_rule_gives_a_reason(extra, from_addr, return_path, needle) -> None:
    reason = no_reply_reason({**NORMAL, **extra}, from_addr, return_path, own_addresses=[OUR])
    assert reason is not None and needle.lower() in reason.lower()
    assert len(reason) < 140 and reason.endswith(".")


def test_suppress_tokens_that_do_not_ask_for_silence() -> None:
    h = {**NORMAL, "x-auto-response-suppress": "RN, NRN"}  # read receipts only
    assert no_reply_reason(h, "b@example.com", "") is None
    assert no_reply_reason({**NORMAL, "x-auto-response-suppress": "OOF"}, "b@example.com", "") is (
        None
    )


def test_folded_and_odd_case_header_names() -> None:
    headers = {"Auto-Submitted": "auto-\r\n replied", "From": "b@example.com"}
    assert "auto- replied" in no_reply_reason(headers, "b@example.com", "")


def test_bounce_detection() -> None:
    dsn = {"content-type": "multipart/report; report-type=delivery-status; boundary=x"}
    assert is_bounce(dsn)
    assert is_bounce({"x-failed-recipients": "gone@example.com"})
    assert is_bounce(
        {"from": "Mail Delivery System <MAILER-DAEMON@mx.example.net>", "return-path": "<>"}
    )
    assert not is_bounce({"content-type": "multipart/report; report-type=disposition-notification"})
    assert not is_bounce({"from": "postmaster@example.net", "return-path": "<a@example.net>"})


def _realmail() -> list[Path]:
    return sorted(REALMAIL.glob("*.eml"))


@pytest.mark.skipif(not REALMAIL.exists(), reason="shared real mail not present")
def test_real_corpus_bounce_is_found_and_nothing_raises() -> None:
    bounces, silent = [], []
    for path in _realmail():
        h = headers_of(path.read_bytes())
        from_ = str(h.get("from", ""))
        rp = h.get("return-path", "")
        rp = rp[0] if isinstance(rp, list) else rp
        if is_bounce(h):
            bounces.append(path.name)
        if no_reply_reason(h, from_, rp) is not None:
            silent.append(path.name)
        results = h.get("authentication-results", [])
        results = [results] if isinstance(results, str) else list(results)
        authenticate(results, from_, "mx.sikm.example.org")  # must not raise on anything real
    assert bounces == ["mailparser-mail_malformed_2.eml"]
    reason = no_reply_reason(
        headers_of((REALMAIL / "mailparser-mail_malformed_2.eml").read_bytes()),
        "postmaster@netpar.com.br",
        "<>",
    )
    assert "bounce" in reason.lower()
    # Newsletters and list mail in the corpus are recognised too.
    for name in (
        "mailparser-mail_test_13.eml",
        "mailparser-mail_test_5.eml",
        "mailparser-mail_test_6.eml",
        "mailparser-mail_test_16.eml",
        "mailparser-mail_test_15.eml",
    ):
        assert name in silent, name
    # A plain personal mail is not silenced.
    assert "mailparser-mail_test_7.eml" not in silent


def test_triage_reads_no_authentication_headers() -> None:
    """Only mail/authres.py reads sender authentication (the office MTA's own results):
    no Received-SPF or foreign Authentication-Results is read anywhere else."""
    import sikm_mailbot.mail.triage as triage

    assert not hasattr(triage, "auth_failures")
    source = Path(triage.__file__).read_text(encoding="utf-8").lower()
    assert "received-spf" not in source


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Re: [SIKM-2020-000123] Berkas belum lengkap", "SIKM-2020-000123"),
        ("status sikm-2020-000123", "SIKM-2020-000123"),
        ("STATUS SIKM 2020 123", "SIKM-2020-000123"),
        ("nomor saya: [ SIKM - 2020 - 000045 ]", "SIKM-2020-000045"),
        ("SIKM/2020/000045", "SIKM-2020-000045"),
        ("permohonan SIKM tahun 2020", None),
        ("SIKM-2020-1234567", None),
        ("XSIKM-2020-000123", None),
        ("SIKM-2020-000000", None),
        ("", None),
    ],
)
def test_find_tracking_number(text: str, expected: str | None) -> None:
    assert find_tracking_number(text) == expected


def test_tracking_number_other_prefix() -> None:
    assert find_tracking_number("[IZIN-2021-000007]", prefix="IZIN") == "IZIN-2021-000007"
    assert find_tracking_number("[SIKM-2021-000007]", prefix="IZIN") is None


def test_clean_subject() -> None:
    assert clean_subject("Re: RE: Fwd: Bls: [SIKM-2020-000001] x") == "[SIKM-2020-000001] x"
    assert clean_subject("Balas: FORMULIR") == "FORMULIR"


@pytest.mark.parametrize(
    ("subject", "body", "att", "fields", "expected"),
    [
        ("FORMULIR", "", False, False, "forms"),
        ("formulir sikm", "tolong kirim", False, False, "forms"),
        ("", "Formulir", False, False, "forms"),
        ("", "", False, False, "forms"),
        ("", "   \n  ", False, False, "forms"),
        ("STATUS SIKM-2020-000123", "", False, False, "status"),
        ("Re: status SIKM-2020-000123", "", False, False, "status"),
        ("cek status", "SIKM-2020-000123", False, False, "status"),
        ("Re: Formulir SIKM / SIKM forms", "terlampir", True, False, None),  # a submission
        ("", "", True, False, None),
        ("", "", False, True, None),
        ("Pertanyaan", "Apakah saya perlu SIKM?", False, False, None),
        ("Permohonan SIKM", "Formulir terlampir", False, False, None),
    ],
)
def test_command_of(subject, body, att, fields, expected) -> None:
    assert command_of(subject, body, att, fields) == expected


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Re: [SIKM-2020-000123] Konfirmasi penjamin", "SETUJU", "confirm"),
        ("Re: [SIKM-2020-000123] Konfirmasi penjamin", "setuju.\n\nSalam, Siti", "confirm"),
        ("Re: [SIKM-2020-000123] Konfirmasi penjamin", "Saya setuju", "confirm"),
        ("Re: [SIKM-2020-000123] Konfirmasi penjamin", "TOLAK", "refuse"),
        ("Re: [SIKM-2020-000123] Konfirmasi penjamin", "Saya menolak.", "refuse"),
        ("Re: [SIKM-2020-000123] Konfirmasi penjamin", "Tidak setuju", "refuse"),
        ("Re: [SIKM-2020-000123] Konfirmasi penjamin", "tdk setuju, saya tidak kenal", "refuse"),
        ("Re: [SIKM-2020-000123] Konfirmasi penjamin", "Saya TIDAK SETUJU", "refuse"),
        # Our request, quoted below the answer, says SETUJU and TOLAK: ignored.
        (
            "Re: [SIKM-2020-000123] Konfirmasi penjamin",
            "TOLAK\n\nPada 22 Mei 2020 SIKM menulis:\n> Tulis SETUJU bila Anda menjamin\n",
            "refuse",
        ),
        ("Re: x", "TOLAK\n> SETUJU  bila Anda menjamin pemohon", "refuse"),
        ("Re: x", "\n> SETUJU\n> TOLAK", None),
        ("Re: x", "On Fri, 22 May 2020 SIKM wrote:\n> SETUJU", None),
        ("Re: x", "-----Original Message-----\nSETUJU", None),
        # Not the first word, or contradicting itself: an officer decides.
        ("Re: x", "Halo, saya setuju", None),
        ("Re: x", "Setuju tapi sebenarnya tolak", None),
        ("SETUJU", "", "confirm"),
        ("Re: [SIKM-2020-000123] TOLAK", "", "refuse"),
        ("Re: [SIKM-2020-000123] tidak setuju", "", "refuse"),
        ("Re: TOLAK", "SETUJU", None),  # subject and body disagree
        ("Re: x", "", None),
    ],
)
def test_guarantor_answer(subject: str, body: str, expected: str | None) -> None:
    assert guarantor_answer(subject, body) == expected
