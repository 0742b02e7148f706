"""The fixture table end to end through the real intake: Maildir and Dovecot."""

from __future__ import annotations

from pathlib import Path

import pytest

from sikm_mailbot.mail.sources.imap import ImapSource
from sikm_mailbot.mail.sources.maildir import MaildirSource
from tests.fixture_table import check, fixture_names, run_fixture, site_settings
from tests.mailgen import drop_into_maildir

NAMES = fixture_names()


def test_corpus_is_there() -> None:
    assert len(NAMES) >= 30


@pytest.mark.parametrize("name", NAMES)
def test_fixture_through_maildir(name: str, tmp_path: Path) -> None:
    settings = site_settings(tmp_path)
    inbox = tmp_path / "var/mail/inbox"
    result = run_fixture(
        name, settings, lambda: MaildirSource(inbox), lambda raw: drop_into_maildir(inbox, raw)
    )
    check(name, result)


@pytest.mark.parametrize("name", NAMES)
def test_fixture_through_dovecot(name: str, tmp_path: Path, imap_inbox) -> None:
    settings = site_settings(
        tmp_path,
        f"[inbox]\nkind='imap'\nhost='{imap_inbox.host}'\nport={imap_inbox.port}\n"
        f"security='none'\nusername='{imap_inbox.user}'\npassword='{imap_inbox.password}'\n",
    )

    def source() -> ImapSource:
        return ImapSource(
            host=imap_inbox.host,
            port=imap_inbox.port,
            username=imap_inbox.user,
            password=imap_inbox.password,
            security="none",
        )

    result = run_fixture(name, settings, source, imap_inbox.append)
    check(name, result)
    assert imap_inbox.uids("INBOX") == []
