"""A disk that is read-only or full (issue 12, item 7), against the real thing.

As root, each scenario runs in its own mount namespace (``unshare -m``): the site's
``var/`` bind-mounted read-only, or a small tmpfs holding a copy of ``var/``, filled
up. Inside, one Python process runs the real CLI (the Typer app, in process as
tests/desk_helpers.py does) once per command, so a scenario costs one start-up. Then,
with the disk writable again: ``PRAGMA integrity_check`` is ok, the next poll works,
and nothing was lost or doubled.

The unit tests below the scenarios pin the pieces: the translation of system errors,
the file store's temp file, the file transport and the log file on ``/dev/full``.
"""

from __future__ import annotations

import email
import email.policy
import errno
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sikm_mailbot.errors import StorageError
from sikm_mailbot.store import disk
from tests.desk_helpers import NOW, Site, make_site

REPO = Path(__file__).resolve().parent.parent
ISSUED, OPEN = "SIKM-2020-000001", "SIKM-2020-000002"  # a permit issued; one under review
WAITING = "app_nonresident_in_work_complete"  # in the inbox, not yet polled
# Reading commands and what they must show on a disk that refuses writes.
READS = (["list", "--json"], ["stats", "--json"], ["mail", "--json"], ["outbox", "--json"])


def _namespaces_work() -> str | None:
    """Why the real-mount scenarios cannot run here (None = they can)."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces and mounts)"
    if shutil.which("unshare") is None:
        return "unshare(1) is missing"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
        capture_output=True,
        text=True,
    )
    return None if probe.returncode == 0 else f"unshare -m / mount refused: {probe.stderr.strip()}"


_WHY_NOT = _namespaces_work()
# Skipped on a developer's machine without root; under CI=true that would hide a
# missing capability, so there the tests run and fail with the reason instead.
_IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
needs_mounts = pytest.mark.skipif(_WHY_NOT is not None and not _IN_CI, reason=_WHY_NOT or "")


# ---------------------------------------------------------------- running inside


def run_batch() -> None:
    """Entry point inside the namespace: run each command of the JSON on stdin.

    Input: ``[[args, env], …]``; output on stdout: ``[{"code", "stdout", "stderr"}, …]``.
    """
    from typer.testing import CliRunner

    from sikm_mailbot.cli import app as cli_app

    out = []
    for args, env in json.load(sys.stdin):
        result = CliRunner().invoke(cli_app, args, env=env)
        out.append({"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr})
    sys.__stdout__.write(json.dumps(out))


_RUN = f"{sys.executable} -c 'from tests.test_disk_faults import run_batch; run_batch()'"
READ_ONLY = 'mount --bind "$VAR" "$VAR" && mount -o remount,bind,ro "$VAR" && ' + _RUN
# A copy of var/ on a 16 MiB tmpfs, filled up to $LEAVE KiB free. Afterwards the
# temp files left are listed, the filler goes and var/ is copied out to $BACK (the
# disk "has room again"), since the tmpfs ends with the namespace.
FULL = """set -e
held=$(mktemp -d)
cp -a "$VAR/." "$held/"
mount -t tmpfs -o size=16m,mode=0700 tmpfs "$VAR"
cp -a "$held/." "$VAR/"
rm -rf "$held"
if [ "$LEAVE" -gt 0 ]; then dd if=/dev/zero of="$VAR/.spare" bs=1k count="$LEAVE" 2>/dev/null; fi
dd if=/dev/zero of="$VAR/.filler" bs=4k 2>/dev/null || true
rm -f "$VAR/.spare"
{run}
find "$VAR" -name '.tmp-*' > "$BACK/temp-files-left"
rm -f "$VAR/.filler"
cp -a "$VAR/." "$BACK/var/"
""".replace("{run}", _RUN)


def in_namespace(
    site: Site, script: str, commands: list[list[str]], **env: str
) -> list[dict[str, Any]]:
    """Run ``commands`` through ``script`` in a fresh mount namespace; their results."""
    env_of_each = {"SIKM_NOW": site.now, "SIKM_OFFICER": "Officer Test"}
    batch = [[["--config", "config.toml", *args], env_of_each] for args in commands]
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        cwd=site.root,
        env={**os.environ, "PYTHONPATH": str(REPO), "VAR": str(site.root / "var"), **env},
        timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, (proc.returncode, proc.stderr, proc.stdout[-2000:])
    return json.loads(proc.stdout)


# ---------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """An office with two applications, one permit issued and every mail sent."""
    site = make_site(tmp_path_factory.mktemp("office"))
    site.sikm("keys", "init")
    assert site.deliver_fixture("app_resident_out_single_complete") == ISSUED
    assert site.deliver_fixture("app_urgent_death_complete") == OPEN
    site.sikm("approve", ISSUED)
    site.sikm("send")
    assert site.show(OPEN)["status"] == "under_review"
    return site


@pytest.fixture
def site(built: Site, tmp_path: Path) -> Site:
    """A private copy of the built office, with one new mail waiting in the inbox."""
    root = tmp_path / "office"
    shutil.copytree(built.root, root, symlinks=True)
    copy = Site(root, now=built.now, sent=built.sent)
    copy.deliver((REPO / "fixtures/emails" / f"{WAITING}.eml").read_bytes())
    return copy


def _stdout(site: Site, *args: str) -> str:
    """What a command prints on a writable disk (the reference for the faulty one)."""
    from typer.testing import CliRunner

    from sikm_mailbot.cli import app as cli_app

    env = {"SIKM_NOW": site.now, "SIKM_OFFICER": "Officer Test"}
    argv = ["--config", str(site.config), *args]
    result = CliRunner().invoke(cli_app, argv, env=env, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.stderr)
    return result.stdout


def integrity(site: Site) -> str:
    with sqlite3.connect(site.root / "var/sikm.db") as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def counts(site: Site) -> tuple[int, int, int]:
    """Applications, ledger rows and outbox rows: nothing lost, nothing doubled."""
    with sqlite3.connect(site.root / "var/sikm.db") as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("application", "ledger", "outbox")
        )


def _permit_pdf(site: Site) -> tuple[Path, str]:
    """The issued permit as the applicant got it (from the .eml sent), and the day it
    is valid from."""
    pdfs = []
    for mail in sorted((site.root / "var/outbox").glob("*.eml")):
        msg = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
        pdfs += [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    (pdf,) = pdfs
    path = site.root / "permit.pdf"
    path.write_bytes(pdf.get_content())
    return path, site.show(ISSUED)["applicant"]["tanggal_berangkat"]


def _refused(result: dict[str, Any], path: str, cause: str, args: object = None) -> None:
    """Exit 1 with one line naming the path and the cause, and no traceback."""
    assert result["code"] == 1, (args, result)
    lines = [ln for ln in result["stderr"].splitlines() if ln.startswith("sikm:")]
    assert lines == [f"sikm: {path}: {cause}"], (args, result["stderr"])
    assert "Traceback" not in result["stderr"]


def _after_recovery(site: Site, before: tuple[int, int, int]) -> None:
    """Writable again: the store is whole and the waiting mail is read exactly once."""
    assert integrity(site) == "ok"
    assert counts(site) == before
    assert not list((site.root / "var").rglob(".tmp-*"))
    report = site.sikm("poll", "--json")
    assert report["new"] + report["resumed"] == 1 and report["failed"] == 0
    apps, ledger, outbox = counts(site)
    assert (apps, ledger) == (before[0] + 1, before[1] + 1) and outbox > before[2]
    assert site.sikm("poll", "--json")["fetched"] == 0  # nothing left, nothing twice
    assert not list((site.inbox / "new").iterdir())


# ---------------------------------------------------------------- read-only var/


@needs_mounts
def test_read_only_var_reads_work_and_writes_are_refused(site: Site) -> None:
    pdf, valid_from = _permit_pdf(site)
    reads = [*READS, ["show", OPEN, "--json"], ["show", ISSUED], ["keys", "list", "--json"]]
    expected = [_stdout(site, *args) for args in reads]
    before = counts(site)

    writes = [["poll"], ["approve", OPEN], ["reject", OPEN, "--reason", "no_signature"]]
    writes += [["send"], ["cancel", OPEN, "--note", "test"]]
    results = in_namespace(site, READ_ONLY, [*reads, *writes])
    for args, want, got in zip(reads, expected, results, strict=False):
        assert got["code"] == 0 and "Traceback" not in got["stderr"], (args, got)
        assert got["stdout"] == want, args
    for args, got in zip(writes, results[len(reads) :], strict=True):
        _refused(got, "var/sikm.db", "read-only file system", args)

    # verify at the checkpoint, on the first day of validity
    site.now = f"{valid_from}T12:00:00+07:00"
    (verdict,) = in_namespace(site, READ_ONLY, [["verify", str(pdf), "--json"]])
    site.now = NOW
    assert verdict["code"] == 0 and json.loads(verdict["stdout"])["valid"] is True, verdict

    assert site.show(OPEN)["status"] == "under_review"  # nothing was changed
    _after_recovery(site, before)


# ---------------------------------------------------------------- full var/


@needs_mounts
def test_full_var_reads_work_and_writes_are_refused(site: Site) -> None:
    expected = [_stdout(site, *args) for args in READS]
    before = counts(site)
    back = site.root / "back"
    (back / "var").mkdir(parents=True)

    commands = [*READS, ["poll"], ["approve", OPEN], ["send"]]
    results = in_namespace(site, FULL, commands, LEAVE="0", BACK=str(back))
    assert (back / "temp-files-left").read_text() == ""
    for args, want, got in zip(READS, expected, results, strict=False):
        assert got["code"] == 0 and got["stdout"] == want, (args, got)
    for got in results[len(READS) :]:
        _refused(got, "var/sikm.db", "no space left on device")
    restore(site, back)
    _after_recovery(site, before)


def restore(site: Site, back: Path) -> None:
    """Put the var/ copied out of the tmpfs back in place of the site's var/."""
    shutil.rmtree(site.root / "var")
    shutil.move(back / "var", site.root / "var")


# ---------------------------------------------------------------- the pieces


def test_system_errors_become_one_storage_error(tmp_path: Path) -> None:
    full = disk.from_os_error(OSError(errno.ENOSPC, "No space left on device", "x"), tmp_path)
    assert isinstance(full, StorageError) and full.cause == "no space left on device"
    assert disk.from_os_error(OSError(errno.EROFS, "Read-only", str(tmp_path / "a"))) is not None
    assert disk.from_os_error(OSError(errno.ENOENT, "gone", "x")) is None  # not the disk
    db = tmp_path / "sikm.db"
    db.touch()
    err = disk.from_sqlite_error(sqlite3.OperationalError("database or disk is full"), db)
    assert err is not None and err.cause == "no space left on device"
    assert disk.from_sqlite_error(sqlite3.OperationalError("database is locked"), db) is None
    assert disk.from_sqlite_error(sqlite3.OperationalError("no such table: x"), db) is None
    chained = RuntimeError("wrapped")
    chained.__cause__ = OSError(errno.EDQUOT, "quota", str(db))
    found = disk.as_storage_error(chained)
    assert found is not None and found.cause == "disk quota exceeded"
    monkey = pytest.MonkeyPatch()
    with monkey.context() as m:
        m.chdir(tmp_path)
        assert disk.shown(db) == "sikm.db"


def test_file_store_removes_its_temp_file_when_the_disk_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sikm_mailbot.store.files import FileStore

    store = FileStore(tmp_path / "files")
    good = store.put(b"kept")

    def no_space(*_a: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sikm_mailbot.store.files.os.replace", no_space)
    with pytest.raises(StorageError, match="files: no space left on device"):
        store.put(b"new bytes")
    assert not list((tmp_path / "files").rglob(".tmp-*"))
    assert store.get(good) == b"kept"


def test_file_transport_stops_the_flush_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from sikm_mailbot.outbox.transports import FileTransport
    from sikm_mailbot.store.models import OutboxMessage

    def no_space(*_a: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sikm_mailbot.outbox.transports.os.replace", no_space)
    msg = OutboxMessage(message_id="<m1@x>", raw=b"Subject: x\r\n\r\nx", to_addr="a@example.com")
    msg.created_at = datetime(2020, 5, 20, tzinfo=UTC)
    transport = FileTransport(tmp_path / "outbox")
    with pytest.raises(StorageError, match="outbox: no space left on device"):
        transport.send(msg)
    assert not list((tmp_path / "outbox").iterdir())


def test_log_file_that_cannot_be_written_falls_back_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sikm_mailbot.config import load_settings
    from sikm_mailbot.wiring import setup_logging

    cfg = tmp_path / "config.toml"
    # /dev/full: every write says "no space left on device", as a full disk does.
    cfg.write_text('[logging]\nfile = "/dev/full"\n')
    try:
        setup_logging(load_settings(cfg))
        logging.getLogger("sikm_mailbot.test").warning("first")
        logging.getLogger("sikm_mailbot.test").warning("second")
        err = capsys.readouterr().err
        assert err.count("log file /dev/full: no space left on device") == 1, err
        assert "Traceback" not in err and "first" in err and "second" in err
        # a log file in a folder that cannot be made: one warning, then stderr only
        (tmp_path / "afile").write_text("")
        cfg.write_text('[logging]\nfile = "afile/sikm.log"\n')
        setup_logging(load_settings(cfg))
        logging.getLogger("sikm_mailbot.test").warning("third")
        err = capsys.readouterr().err
        assert "log file" in err and "logging to stderr only" in err and "third" in err
    finally:
        for handler in logging.getLogger().handlers:
            handler.close()
        logging.basicConfig(force=True, handlers=[logging.NullHandler()])


def test_read_only_store_sees_commits_still_in_the_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opened read-only (mode=ro when a WAL holds commits, immutable=1 without one), the
    store shows every committed row, and a write is refused as a StorageError."""
    from sqlalchemy import text

    from sikm_mailbot.store import db

    url = f"sqlite:///{tmp_path / 'sikm.db'}"
    db.open_store(url).dispose()
    writer = sqlite3.connect(tmp_path / "sikm.db")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT INTO counter (name, value) VALUES ('seen', 7)")
    writer.commit()  # the row lives in sikm.db-wal only while the writer is open
    assert (tmp_path / "sikm.db-wal").stat().st_size > 0
    monkeypatch.setattr(db.disk, "write_blocker", lambda _p: "read-only file system")
    engine = db.open_store(url)
    assert engine.url.query.get("mode") == "ro"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM counter WHERE name='seen'")).scalar() == 7
        with pytest.raises(StorageError, match="sikm.db: read-only file system"):
            conn.execute(text("INSERT INTO counter (name, value) VALUES ('x', 1)"))
    engine.dispose()
    writer.close()  # the last connection checkpoints and removes the WAL
    engine = db.open_store(url)
    assert engine.url.query.get("immutable") == "1"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM counter WHERE name='seen'")).scalar() == 7
