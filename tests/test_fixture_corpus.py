"""Sanity of the fixture corpus (fixtures/emails): sidecars, coverage, parsing, rebuilds.

This checks the corpus itself, not extraction: the sidecars are the oracle other tests use.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import re
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import pytest

from sikm_mailbot.domain.vocabulary import FORM_LABELS, Category, DocKind, TripType

ROOT = Path(__file__).resolve().parent.parent
EMAILS = ROOT / "fixtures" / "emails"
SCRIPT = ROOT / "fixtures" / "build_fixtures.py"

# Codes of CONTRACT-READING.md.
FIELD_CODES = {
    "required",
    "nik_format",
    "nik_date",
    "nik_serial",
    "nik_birthdate_mismatch",
    "nik_sex_mismatch",
    "date_format",
    "departure_past",
    "return_before_departure",
    "period_invalid",
    "email_invalid",
    "phone_invalid",
    "category_unknown",
    "trip_type_unknown",
    "sex_unknown",
    "guarantor_email_same",
    "purpose_not_allowed",
    "trip_not_jakarta",
}
ATTACHMENT_CODES = {
    "attachment_unreadable",
    "pdf_encrypted",
    "unsupported_format",
    "archive_not_accepted",
    "file_too_large",
    "too_many_attachments",
    "form_xfa",
}
OUTCOMES = {"application", "forms_request", "ignored", "quarantined", "follow_up", "status_request"}
REPLIES = {"ack", "incomplete", "unreadable", "forms", "status", None}
STATUSES = {"under_review", "awaiting_guarantor", "incomplete", None}
REQUIRED_KEYS = {
    "description",
    "today",
    "outcome",
    "reply",
    "status",
    "category",
    "trip_type",
    "fields",
    "missing",
    "problem_codes",
    "attachments",
}
RESERVED = re.compile(r"@([a-z0-9-]+\.)*example\.(com|org|net)$")

EML_FILES = sorted(EMAILS.glob("*.eml"))


def _sidecar(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def _parse(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


def _attachment_names(msg: EmailMessage) -> list[str]:
    """File names of the attachments, looking inside forwarded messages."""
    names: list[str] = []
    for part in msg.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            names.extend(_attachment_names(part.get_content()))
        else:
            names.append(part.get_filename())
    return names


def test_corpus_is_big_enough() -> None:
    assert len(EML_FILES) >= 30
    jsons = {p.stem for p in EMAILS.glob("*.json")}
    assert jsons == {p.stem for p in EML_FILES}


@pytest.mark.parametrize("path", EML_FILES, ids=lambda p: p.stem)
def test_sidecar_is_valid(path: Path) -> None:
    side = _sidecar(path)
    assert set(side) >= REQUIRED_KEYS
    assert side["description"].strip()
    assert dt.date.fromisoformat(side["today"]).year == 2020
    assert side["outcome"] in OUTCOMES
    assert side["reply"] in REPLIES
    assert side["status"] in STATUSES
    assert side["category"] is None or side["category"] in set(Category)
    assert side["trip_type"] is None or side["trip_type"] in set(TripType)
    assert set(side["fields"]) <= set(FORM_LABELS)
    assert all(isinstance(v, str) and v == v.strip() and v for v in side["fields"].values())
    assert side["missing"] == sorted(set(side["missing"]))
    assert set(side["missing"]) <= set(DocKind) - {"unknown"}
    assert side["problem_codes"] == sorted(set(side["problem_codes"]))
    assert set(side["problem_codes"]) <= FIELD_CODES | ATTACHMENT_CODES
    for att in side["attachments"]:
        assert set(att) == {"filename", "kind", "problem"}
        assert att["kind"] in set(DocKind)
        assert att["problem"] is None or att["problem"] in ATTACHMENT_CODES
        if att["problem"]:  # a refused file is never counted as a document
            assert att["problem"] in side["problem_codes"]
            clean = {a["kind"] for a in side["attachments"] if a["problem"] is None}
            if att["kind"] != "unknown" and side["outcome"] == "application":
                assert att["kind"] in side["missing"] or att["kind"] in clean
    if side["outcome"] == "application":
        complete = not side["missing"] and not side["problem_codes"]
        assert side["reply"] == ("ack" if complete else "incomplete")
        review = "awaiting_guarantor" if side["category"] == "nonresident_in" else "under_review"
        assert side["status"] == (review if complete else "incomplete")
        assert side["category"] == side["fields"]["kategori"]
        assert side["trip_type"] == side["fields"]["jenis_perjalanan"]
    if side["outcome"] == "ignored":
        assert side["reply"] is None
    if side["outcome"] == "follow_up":
        assert "follow_up_of" in side
    if "follow_up_of" in side:  # the fixture to deliver first
        assert (EMAILS / f"{side['follow_up_of']}.eml").exists()


def test_every_category_has_a_complete_application() -> None:
    complete = {
        side["category"]
        for side in map(_sidecar, EML_FILES)
        if side["outcome"] == "application" and side["reply"] == "ack"
    }
    assert complete == set(Category)
    trips = {
        (side["category"], side["trip_type"])
        for side in map(_sidecar, EML_FILES)
        if side["outcome"] == "application" and side["reply"] == "ack"
    }
    assert ("resident_out", "multiple") in trips and ("resident_out", "single") in trips


def test_contract_cases_are_covered() -> None:
    sides = [_sidecar(p) for p in EML_FILES]
    codes = {code for side in sides for code in side["problem_codes"]}
    for code in (
        "nik_birthdate_mismatch",
        "nik_sex_mismatch",
        "nik_date",
        "nik_serial",
        "guarantor_email_same",
        "departure_past",
        "return_before_departure",
        "purpose_not_allowed",
        "trip_not_jakarta",
        "period_invalid",
        "phone_invalid",
        "unsupported_format",
        "pdf_encrypted",
        "attachment_unreadable",
        "archive_not_accepted",
        "file_too_large",
    ):
        assert code in codes, code
    outcomes = [side["outcome"] for side in sides]
    assert outcomes.count("ignored") >= 3
    assert outcomes.count("forms_request") >= 2
    assert {"follow_up", "status_request"} <= set(outcomes)


@pytest.mark.parametrize("path", EML_FILES, ids=lambda p: p.stem)
def test_eml_parses_and_matches_sidecar(path: Path) -> None:
    msg = _parse(path)
    assert not [d for d in msg.defects if "Missing" in type(d).__name__]
    for header in ("From", "To", "Date", "Message-ID", "MIME-Version"):
        assert msg[header], header
    assert msg["Date"].datetime.year == 2020
    for _name, address in getaddresses([msg["From"], msg["To"]]):
        assert RESERVED.search(address.lower()), address
    side = _sidecar(path)
    if side["outcome"] != "ignored":
        expected = [att["filename"] for att in side["attachments"]]
        assert _attachment_names(msg) == expected


def test_follow_up_threads_to_its_application() -> None:
    for path in EML_FILES:
        side = _sidecar(path)
        if side["outcome"] != "follow_up":
            continue
        msg = _parse(path)
        original = _parse(EMAILS / f"{side['follow_up_of']}.eml")
        assert msg["In-Reply-To"].startswith("<ack-")
        assert original["Message-ID"] in msg["References"]
        assert msg["Subject"].startswith("Re: [SIKM-2020-")


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    built = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in EMAILS.iterdir() if p.suffix in {".eml", ".json"})
    assert built == committed
    for name in built:
        assert (tmp_path / name).read_bytes() == (EMAILS / name).read_bytes(), name
