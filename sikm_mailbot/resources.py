"""Files that ship with the package: the e-mail templates and the blank forms.

The repository keeps them in its top-level ``templates/`` folder; the wheel carries
the same folder inside the package as ``sikm_mailbot/templates`` (mapped at build
time), so an installed bot finds them wherever it runs from.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from sikm_mailbot.errors import InstallError


@cache
def templates_root() -> Path:
    """The folder holding ``email/`` and ``forms/`` (inside the package when installed)."""
    packaged = Path(str(files("sikm_mailbot"))) / "templates"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[1] / "templates"  # editable install
    if checkout.is_dir():
        return checkout
    raise InstallError(f"the bot's templates are missing (looked in {packaged} and {checkout})")


def email_templates_dir() -> Path:
    """The Jinja2 e-mail templates."""
    return templates_root() / "email"


def blank_forms() -> list[tuple[str, bytes]]:
    """The blank application form and statement, as (file name, PDF bytes), sorted by name."""
    folder = templates_root() / "forms"
    forms = [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.pdf"))]
    if not forms:  # a broken install: fail loudly (retried, then shunted), never mail nothing
        raise InstallError(f"no blank forms in {folder}: run `python -m sikm_mailbot.forms`")
    return forms
