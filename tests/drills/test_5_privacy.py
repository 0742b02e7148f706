"""Privacy: no full NIK outside the protected store, and the store is owner-only.

Runs the fixture corpus through the real CLI (DEBUG log to a file, stderr kept), sends
the replies, then scans every file that office and the earlier drills left — logs,
captured stderr, reply .eml files (every MIME part decoded, PDF text extracted) — for
any full NIK the databases know. Allowed to hold a NIK: the database and ``var/files``
(the protected store) and the inbox (the citizens' own mail as it arrived). Then uid
``nobody`` really tries to read the store.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.drills.common import EVIDENCE, FIXTURES, sikm
from tests.fixture_table import fixture_names, sidecar
from tests.mailgen import drop_into_maildir

pytestmark = pytest.mark.drill

PROTECTED = re.compile(r"(^|/)var/(files|mail)(/|$)|(^|/)sikm\.db(-wal|-shm|-journal)?$")
_PROBE = """
import json, os, sys
out = {}
for p in sys.argv[1:]:
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            open(p, "rb").read(1)
        out[p] = "read"
    except PermissionError:
        out[p] = "denied"
    except OSError as e:
        out[p] = type(e).__name__
print(json.dumps(out))
"""


@pytest.fixture
def open_site() -> Iterator[Path]:
    """A site whose parent folders anyone may enter: only the bot's own modes protect it."""
    root = Path(tempfile.mkdtemp(prefix="sikm-privacy-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def probe_python() -> str:
    """A Python that uid nobody may run (the venv's may live under /root, mode 0700)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        if os.access(candidate, os.X_OK):
            return candidate
    return sys.executable


def run_office(site: Path) -> None:
    """Every fixture through `sikm poll` (follow-ups after their original), then `sikm send`."""
    (site / "config.toml").write_text(
        "[outbox]\nreplies_per_hour = 100\n[logging]\nlevel = 'DEBUG'\nfile = 'var/sikm.log'\n"
    )
    first = sikm(site, "stats", "--json")  # the bot makes var/ itself, before any mail
    assert first.returncode == 0, first.stderr
    inbox = site / "var/mail/inbox"
    names = fixture_names()
    later = [n for n in names if sidecar(n).get("follow_up_of")]
    firsts = {sidecar(n)["follow_up_of"] for n in later}
    for group in (sorted(firsts), [n for n in names if n not in later and n not in firsts], later):
        for name in group:
            drop_into_maildir(inbox, (FIXTURES / f"{name}.eml").read_bytes())
        result = sikm(site, "poll", "--json")
        assert result.returncode == 0, result.stderr
    result = sikm(site, "send", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sent"] >= len(names) - 5


def known_niks(roots: list[Path]) -> set[str]:
    """Every full NIK the drills' databases and the fixture sidecars hold."""
    found: set[str] = set()
    for name in fixture_names():
        fields = sidecar(name).get("fields", {})
        found |= {fields.get("nik", ""), fields.get("penjamin_nik", "")}
    for root in roots:
        for db in root.rglob("sikm.db"):
            con = sqlite3.connect(db)
            try:
                for (fields,) in con.execute("SELECT fields FROM application"):
                    data = json.loads(fields or "{}")
                    found |= {str(data.get("nik", "")), str(data.get("penjamin_nik", ""))}
            finally:
                con.close()
    return {n for n in found if re.fullmatch(r"\d{16}", n)}


def readable_text(path: Path) -> bytes:
    """The bytes of a file plus, for mail, every decoded part and the text of PDFs."""
    data = path.read_bytes()
    if path.suffix != ".eml":
        return data
    chunks = [data]
    msg = email.message_from_bytes(data, policy=email.policy.default)
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        chunks.append(payload)
        if payload.startswith(b"%PDF"):
            import pypdfium2 as pdfium

            doc = pdfium.PdfDocument(payload)
            chunks += [page.get_textpage().get_text_range().encode() for page in doc]
    return b"\n".join(chunks)


def leaks(roots: list[Path], niks: set[str]) -> tuple[list[str], int]:
    """(file: NIK) for every full NIK outside the protected store; and files scanned."""
    found, scanned = [], 0
    patterns = [re.compile(r"[ .\-]?".join(n).encode()) for n in niks]  # 3171 0115 … too
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if PROTECTED.search(rel):
                continue
            scanned += 1
            text = readable_text(path)
            for nik, pattern in zip(niks, patterns, strict=True):
                if pattern.search(text):
                    found.append(f"{rel}: {nik[:4]}…{nik[-4:]}")
    return found, scanned


def test_no_full_nik_outside_the_store_and_the_store_is_owner_only(open_site: Path) -> None:
    if os.geteuid() != 0:  # the probe switches to uid nobody; CI runs as root
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("the privacy drill needs root (to read files as uid nobody)")
        pytest.skip("the privacy drill needs root (to read files as uid nobody)")
    run_office(open_site)
    roots = [open_site, *dict.fromkeys(p for p in EVIDENCE if p.exists())]
    niks = known_niks(roots)
    assert len(niks) >= 20
    # The scanner can fail: the citizens' own mail in the inbox does hold their NIKs.
    inbox_text = b"".join(
        readable_text(p) for p in (open_site / "var/mail").rglob("*") if p.is_file()
    )
    assert any(n.encode() in inbox_text for n in niks)
    found, scanned = leaks(roots, niks)
    logs = list(open_site.rglob("*.log"))
    assert logs and all(p.stat().st_size > 0 for p in logs)
    print(f"[drill privacy] {len(niks)} NIKs, {scanned} files in {len(roots)} sites scanned")
    assert not found, f"full NIK outside the protected store: {found[:20]}"

    # Mode bits: everything the bot made (not the inbox the test filled) is owner-only.
    var = open_site / "var"
    loose = []
    for p in [var, *var.rglob("*")]:
        rel = p.relative_to(open_site).as_posix()
        if not rel.startswith("var/mail") and p.stat().st_mode & 0o077:
            loose.append(f"{rel} {stat.filemode(p.stat().st_mode)}")
    assert not loose, loose

    # And really: uid nobody tries to read them.
    stored = next(p for p in (var / "files").rglob("*") if p.is_file())
    reply = next((var / "outbox").glob("*.eml"))
    targets = [
        var / "sikm.db",
        var / "sikm.db-wal",
        var / "files",
        stored,
        var / "outbox",
        reply,
        var / "sikm.log",
    ]
    control = open_site / "config.toml"
    control.chmod(0o644)  # world-readable on purpose: the probe must be able to read it
    targets = [p for p in targets if p.exists()]
    probe = subprocess.run(
        [probe_python(), "-c", _PROBE, *map(str, [*targets, control])],
        user="nobody",
        group="nogroup",
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout)
    assert result.pop(str(control)) == "read"  # the probe can read what is not protected
    assert result and set(result.values()) == {"denied"}, result
