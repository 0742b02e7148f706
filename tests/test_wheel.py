"""The wheel works on its own: built from the checkout, installed into a fresh venv, run elsewhere.

One module-scoped build and install (dependencies from PyPI or pip's cache), then the
installed ``sikm`` is run from an empty folder on the built-in default (Maildir in
./var, replies as .eml files): a FORMULIR mail gets the two blank forms, a complete
application is acknowledged, approved, its permit mailed, and ``sikm verify`` accepts
the mailed PDF. Nothing here may import the checkout: no PYTHONPATH, cwd outside it.

Never skipped: a wheel that cannot be built or installed is a failure (CI=true too).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "emails"
BLANK_FORMS = REPO / "templates" / "forms"

# The fixtures were written on 20 May 2020: pin the clock so the file is complete,
# and verify on a day inside the permit's validity (22-29 May).
INTAKE_NOW = "2020-05-20T09:00:00+07:00"
CHECKPOINT_NOW = "2020-05-23T09:00:00+07:00"

BUILD_TIMEOUT = 600  # build isolation fetches the backend
INSTALL_TIMEOUT = 1200  # every dependency, from PyPI when the cache is cold
COMMAND_TIMEOUT = 180

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    """The built wheel and the venv it was installed into."""

    wheel: Path
    venv: Path

    @property
    def sikm(self) -> Path:
        return self.venv / "bin" / "sikm"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that could reach the checkout or a config."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
        and not k.startswith("SIKM_")
    }
    env.update(extra)
    return env


def _run(
    args: list[str | Path], cwd: Path, timeout: int = COMMAND_TIMEOUT, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a command; the result is returned whatever the exit code."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    """stdout of a command that must succeed; else fail with what it said."""
    assert done.returncode == 0, (
        f"`{' '.join(done.args)}` exited {done.returncode}\n"
        f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from the checkout and install it into a brand-new venv."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    _ok(
        _run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", dist, REPO],
            cwd=root,
            timeout=BUILD_TIMEOUT,
        )
    )
    (wheel,) = dist.glob("sikm_mailbot-*.whl")
    venv = root / "venv"
    _ok(_run([sys.executable, "-m", "venv", venv], cwd=root))
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    _ok(_run([*pip, "install", "-q", wheel], cwd=root, timeout=INSTALL_TIMEOUT))
    return Installed(wheel=wheel, venv=venv)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An empty working folder outside the checkout: the built-in default applies."""
    folder = tmp_path / "desk"
    folder.mkdir()
    assert REPO not in folder.resolve().parents
    return folder


def _deliver(site: Path, fixture: str) -> None:
    """Put a fixture mail into the default Maildir the way an MDA does (tmp, then new)."""
    inbox = site / "var" / "mail" / "inbox"
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    tmp = inbox / "tmp" / f"{fixture}.eml"
    tmp.write_bytes((FIXTURES / f"{fixture}.eml").read_bytes())
    tmp.rename(inbox / "new" / tmp.name)


def _sikm(installed: Installed, site: Path, *args: str, now: str = INTAKE_NOW) -> str:
    return _ok(_run([installed.sikm, *args], cwd=site, SIKM_NOW=now))


def _replies(site: Path) -> dict[str, EmailMessage]:
    """Every .eml in the default outbox folder, by file name."""
    out = {}
    for path in sorted((site / "var" / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out[path.name] = msg
    return out


def _pdfs(msg: EmailMessage) -> dict[str, bytes]:
    return {
        part.get_filename() or "": part.get_content()
        for part in msg.iter_attachments()
        if part.get_content_type() == "application/pdf"
    }


# ---- what the wheel carries ---------------------------------------------------------------


def test_wheel_carries_templates_and_migrations(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = set(whl.namelist())
        for form in BLANK_FORMS.glob("*.pdf"):
            inside = f"sikm_mailbot/templates/forms/{form.name}"
            assert inside in names, f"{inside} missing from {installed.wheel.name}"
            assert whl.read(inside) == form.read_bytes()
        for template in (REPO / "templates" / "email").glob("*.j2"):
            assert f"sikm_mailbot/templates/email/{template.name}" in names
        assert "sikm_mailbot/store/migrations/env.py" in names
        assert "sikm_mailbot/store/migrations/script.py.mako" in names
        for version in (REPO / "sikm_mailbot/store/migrations/versions").glob("*.py"):
            assert f"sikm_mailbot/store/migrations/versions/{version.name}" in names
        assert not [n for n in names if n.startswith(("templates/", "tests/", "fixtures/"))]
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "sikm = sikm_mailbot.cli:app" in whl.read(entry_points).decode()


def test_installed_package_is_not_the_checkout(installed: Installed, site: Path) -> None:
    probe = (
        "import json, sikm_mailbot, sikm_mailbot.resources as r; "
        "print(json.dumps([sikm_mailbot.__file__, str(r.templates_root()), "
        "sikm_mailbot.__version__, [n for n, _ in r.blank_forms()]]))"
    )
    file, templates, version, forms = json.loads(_ok(_run([installed.python, "-c", probe], site)))
    site_packages = str(installed.venv / "lib")
    assert file.startswith(site_packages), file
    assert templates.startswith(site_packages) and templates.endswith("sikm_mailbot/templates")
    assert version == installed.wheel.name.split("-")[1]
    assert forms == sorted(p.name for p in BLANK_FORMS.glob("*.pdf"))


def test_version(installed: Installed, site: Path) -> None:
    done = _run([installed.sikm, "--version"], site)
    if done.returncode == 2 and "--version" in done.stderr:
        pytest.skip("`sikm --version` is not wired yet")
    out = _ok(done)
    assert installed.wheel.name.split("-")[1] in out


# ---- the installed bot at work ------------------------------------------------------------


def test_formulir_mail_gets_the_blank_forms(installed: Installed, site: Path) -> None:
    _deliver(site, "cmd_formulir")
    polled = json.loads(_sikm(installed, site, "poll", "--json"))
    assert (polled["new"], polled["outcomes"]) == (1, {"forms_request": 1}), polled
    sent = json.loads(_sikm(installed, site, "send", "--json"))
    assert (sent["sent"], sent["failed"]) == (1, 0), sent

    (reply,) = _replies(site).values()
    assert reply["Subject"].startswith("Formulir dan cara mengajukan SIKM")
    assert reply["To"] == "wulan.sari@example.org"
    blank = {p.name: p.read_bytes() for p in BLANK_FORMS.glob("*.pdf")}
    assert len(blank) == 2
    assert _pdfs(reply) == blank


def test_application_to_verified_permit(installed: Installed, site: Path) -> None:
    _deliver(site, "app_resident_out_single_complete")
    polled = json.loads(_sikm(installed, site, "poll", "--json"))
    assert (polled["new"], polled["outcomes"]) == (1, {"application": 1}), polled
    assert json.loads(_sikm(installed, site, "send", "--json"))["sent"] == 1

    ((ack_file, ack),) = _replies(site).items()
    tracking = "SIKM-2020-000001"
    assert ack["Subject"].startswith(f"[{tracking}] Permohonan SIKM diterima")
    assert ack["To"] == "budi.wirawan@example.com"
    (row,) = json.loads(_sikm(installed, site, "list", "--json"))
    assert (row["id"], row["status"]) == (tracking, "under_review")

    approved = _sikm(installed, site, "approve", tracking, "--officer", "Rina")
    assert f"{tracking}-P1" in approved
    assert json.loads(_sikm(installed, site, "send", "--json"))["sent"] == 1

    (permit_mail,) = [m for name, m in _replies(site).items() if name != ack_file]
    assert permit_mail["Subject"].startswith(f"[{tracking}] SIKM Anda sudah terbit")
    pdfs = _pdfs(permit_mail)
    assert list(pdfs) == [f"{tracking}-P1.pdf"]
    permit = site / f"{tracking}-P1.pdf"
    permit.write_bytes(pdfs[permit.name])

    verdict = json.loads(
        _sikm(installed, site, "verify", "--json", str(permit), now=CHECKPOINT_NOW)
    )
    assert verdict["valid"] is True, verdict
    assert verdict["permit_number"] == f"{tracking}-P1"
    assert verdict["holder"]["name"] == "BUDI SANTOSO WIRAWAN"
    assert verdict["pdf_signature"]["covers_whole_file"] is True
