"""A full or read-only ``var/`` (issue 12, the last row): the drill cases.

Before: every command, ``list`` and ``show`` included, died with a traceback. Now,
in a real mount namespace (see tests/test_disk_faults.py, which also runs the
read-only and the full scenario command by command): reading works, writing exits 1
with one line naming the path and the cause, and nothing is half-written — also when
the disk fills up in the middle of a poll, at each of the three places it can: before
the database is opened, while the file store writes the mail, while SQLite commits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.desk_helpers import Site
from tests.test_disk_faults import (  # noqa: F401 - fixtures
    FULL,
    READ_ONLY,
    REPO,
    built,
    counts,
    in_namespace,
    integrity,
    needs_mounts,
    restore,
    site,
)

pytestmark = [pytest.mark.drill, needs_mounts]
NO_SPACE = "no space left on device"


def _real_process(office: Site, mount: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m sikm_mailbot.cli ARGS`` as its own process, after ``mount`` ran in a
    fresh mount namespace: its real stderr, not a captured stream."""
    cli = " ".join([sys.executable, "-m", "sikm_mailbot.cli", *args])
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{mount} && exec {cli}"],
        capture_output=True,
        text=True,
        cwd=office.root,
        env={**os.environ, "SIKM_NOW": office.now, "VAR": str(office.root / "var")},
        timeout=120,
    )


READ_ONLY_MOUNT = 'mount --bind "$VAR" "$VAR" && mount -o remount,bind,ro "$VAR"'
FULL_MOUNT = (  # a copy of var/ on a tmpfs, then filled up
    'held=$(mktemp -d) && cp -a "$VAR/." "$held/" && mount -t tmpfs -o size=16m tmpfs "$VAR" '
    '&& cp -a "$held/." "$VAR/" && { dd if=/dev/zero of="$VAR/.filler" bs=4k 2>/dev/null; true; }'
)


@pytest.mark.parametrize(
    ("mount", "cause"),
    [(READ_ONLY_MOUNT, "read-only file system"), (FULL_MOUNT, NO_SPACE)],
    ids=["read-only", "full"],
)
def test_real_process_reads_and_is_refused_in_one_line(
    site: Site,  # noqa: F811
    mount: str,
    cause: str,
) -> None:
    listed = _real_process(site, mount, "list", "--json")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert "SIKM-2020-000002" in [row["id"] for row in json.loads(listed.stdout)]
    for args in (["poll"], ["approve", "SIKM-2020-000002"]):
        refused = _real_process(site, mount, *args)
        assert refused.returncode == 1, (args, refused.stderr)
        assert refused.stderr == f"sikm: var/sikm.db: {cause}\n", (args, refused.stderr)


@pytest.mark.parametrize("leave_kib", [300, 500, 650])
def test_disk_filling_up_during_a_poll(site: Site, leave_kib: int) -> None:  # noqa: F811
    """Room for little: the poll stops with one line, no temp file is left, the store
    is whole, the mail stays in the inbox and is read exactly once when there is room."""
    before = counts(site)
    back = site.root / "back"
    (back / "var").mkdir(parents=True)
    (result,) = in_namespace(site, FULL, [["poll"]], LEAVE=str(leave_kib), BACK=str(back))
    assert (back / "temp-files-left").read_text() == ""  # no half-written file
    assert result["code"] == 1 and "Traceback" not in result["stderr"], result
    line = result["stderr"].strip().splitlines()[-1]
    assert line in (f"sikm: var/files: {NO_SPACE}", f"sikm: var/sikm.db: {NO_SPACE}"), result
    restore(site, back)
    assert integrity(site) == "ok"
    apps, ledger, outbox = counts(site)
    # At most the mail's ledger row got in (recorded, to be resumed); never half an
    # application: it and its reply are one transaction.
    assert (apps, outbox) == (before[0], before[2]) and ledger - before[1] in (0, 1)
    report = site.sikm("poll", "--json")
    assert report["failed"] == 0 and report["new"] + report["resumed"] == 1, report
    apps, ledger, outbox = counts(site)
    assert (apps, ledger) == (before[0] + 1, before[1] + 1) and outbox > before[2]
    assert not list((site.inbox / "new").iterdir())
