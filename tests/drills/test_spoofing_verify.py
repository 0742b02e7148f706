"""Spoofing `sikm verify`: an edited page must never pass for the office's, and a
sealed code re-encoded signed-only must not pass while the office seals.

Each row is built for real from a permit the real issuer made (pikepdf, reportlab,
pyHanko; helpers in tests/test_permit_verify.py) and checked through the real CLI, with
files parsed in the sandbox child: the verdict line a checkpoint officer reads, and
`--json` (`valid`, `page_verified`, `reason_code`). Each attack has its genuine
counterpart, so no check passes vacuously.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import Result

from sikm_mailbot.permits.issue import IssuedPermit
from sikm_mailbot.permits.qr import make_qr_png
from sikm_mailbot.permits.trust import TrustList
from tests.drills.common import EVIDENCE
from tests.test_permit_issue import FIELDS, add_application, cli, issue_permit, open_app
from tests.test_permit_issue import write_config as write_office_config
from tests.test_permit_verify import (
    FORGED_NAME,
    appended_update,
    rebuilt_page,
    strip_and_edit,
    unsealed,
)

pytestmark = pytest.mark.drill

QR_ONLY = (
    "VALID — QR valid; this page is NOT signed: compare the name with the KTP, not the page."
    " / QR sah; halaman ini TIDAK ditandatangani: cocokkan nama dengan KTP, bukan halaman."
)


class Office:
    """An office folder with keys, two issued permits and an exported trust list."""

    def __init__(self, root: Path) -> None:
        self.cfg = write_office_config(root)
        assert cli(self.cfg, "keys", "init").exit_code == 0
        app = open_app(self.cfg)
        for n in (1, 2):
            add_application(app, f"SIKM-2020-00120{n}")
        self.permit: IssuedPermit = issue_permit(app, "SIKM-2020-001201")
        self.other: IssuedPermit = issue_permit(app, "SIKM-2020-001202")
        self.trust_file = root / "trust.json"
        assert cli(self.cfg, "keys", "export", str(self.trust_file)).exit_code == 0
        self.root = root

    def file(self, name: str, data: bytes) -> str:
        path = self.root / name
        path.write_bytes(data)
        return str(path)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Office:
    root = tmp_path_factory.mktemp("spoof-verify")
    EVIDENCE.append(root)
    return Office(root)


def run(cfg: Path | None, target: str, *extra: str) -> tuple[Result, Result, dict]:
    """`sikm verify` twice: as a person reads it, and with --json."""
    human = cli(cfg, "verify", *extra, target)
    machine = cli(cfg, "verify", "--json", *extra, target)
    assert human.exit_code == machine.exit_code, (human.stderr, machine.stderr)
    return human, machine, json.loads(machine.stdout)


def assert_judged_on_qr(office: Office, target: str) -> dict:
    """The safe outcome for an unsigned or re-edited page with a genuine QR."""
    human, machine, doc = run(office.cfg, target)
    assert machine.exit_code == 0, machine.stderr
    assert (doc["valid"], doc["page_verified"], doc["reason_code"]) == (
        True, False, "page_not_signed",
    )  # fmt: skip
    assert doc["token_from"] == "qr" and doc["permit_number"] == office.permit.number
    assert doc["holder"]["name"] == FIELDS["nama"]
    out = human.stdout
    assert out.splitlines()[0] == QR_ONLY
    assert f"Name / Nama:       {FIELDS['nama']}" in out
    assert "Page / Halaman:    NOT signed: compare the name with the KTP, not the page." in out
    assert FORGED_NAME not in out and FORGED_NAME not in machine.stdout
    assert human.stderr == ""
    return doc


def test_genuine_permit_pdf_verifies_its_page(office: Office) -> None:
    human, machine, doc = run(office.cfg, office.file("genuine.pdf", office.permit.pdf))
    assert machine.exit_code == 0, machine.stderr
    assert (doc["valid"], doc["page_verified"], doc["reason_code"]) == (True, True, "ok")
    assert doc["token_from"] == "embedded" and doc["pdf_signature"]["covers_whole_file"]
    assert human.stdout.startswith("VALID — Permit is genuine and valid.")
    assert "Page / Halaman:    verified: the office signature covers the whole file." in (
        human.stdout
    )


def test_stripped_signature_and_token_edited_page(office: Office) -> None:
    doc = assert_judged_on_qr(
        office, office.file("stripped.pdf", strip_and_edit(office.permit.pdf))
    )
    assert doc["pdf_signature"]["reason"] == "not_signed"


def test_page_rebuilt_around_the_genuine_qr(office: Office) -> None:
    doc = assert_judged_on_qr(office, office.file("rebuilt.pdf", rebuilt_page(office.permit.pdf)))
    assert doc["pdf_signature"]["reason"] == "not_signed"


def test_incremental_update_after_the_signature(office: Office) -> None:
    target = office.file("appended.pdf", appended_update(office.permit.pdf))
    doc = assert_judged_on_qr(office, target)
    sig = doc["pdf_signature"]
    assert sig["intact"] is True and sig["trusted"] is True
    assert (sig["covers_whole_file"], sig["reason"]) == (False, "not_covers_whole_file")


def test_embedded_token_swapped_for_another_permit(office: Office) -> None:
    forged = strip_and_edit(office.permit.pdf, keep_token=office.other.token)
    assert_judged_on_qr(office, office.file("swapped.pdf", forged))


def test_qr_image_and_bare_token_say_there_is_no_page(office: Office) -> None:
    png = office.file("qr.png", make_qr_png(office.permit.token))
    for target in (png, office.permit.token):
        human, machine, doc = run(office.cfg, target)
        assert machine.exit_code == 0, machine.stderr
        assert (doc["valid"], doc["page_verified"], doc["reason_code"]) == (True, False, "ok")
        assert "Page / Halaman:    none: a QR image or a code has no page to verify" in (
            human.stdout
        )


def test_unsealed_token_reencoded_signed_only(office: Office) -> None:
    trust = TrustList.load(office.trust_file)  # what a lost checkpoint laptop holds
    assert trust.sealed is True  # the exported list tells checkpoints the office seals
    signed_only = unsealed(office.permit.token, trust)
    for cfg, extra in ((office.cfg, ()), (None, ("--trust", str(office.trust_file)))):
        human, machine, doc = run(cfg, signed_only, *extra)
        assert machine.exit_code == 1, extra
        assert (doc["valid"], doc["page_verified"], doc["reason_code"]) == (
            False, False, "not_sealed",
        )  # fmt: skip
        assert doc["sealed"] is False and doc["holder"] is None
        assert human.stdout.startswith("INVALID — Permit code is not sealed")
        assert human.stderr.count("\n") == 1 and "(not_sealed)" in human.stderr
    # Control: the same code is genuine, and valid where the office does not seal.
    open_cfg = office.root / "config-open.toml"
    open_cfg.write_text('data_dir = "var"\n[permits]\nencrypt_qr = false\n', encoding="utf-8")
    _, machine, doc = run(open_cfg, signed_only)
    assert machine.exit_code == 0, machine.stderr
    assert (doc["valid"], doc["sealed"], doc["reason_code"]) == (True, False, "ok")
    # And the sealed original passes where sealing is on.
    assert run(office.cfg, office.permit.token)[1].exit_code == 0
