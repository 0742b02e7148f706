"""ImapSource against a real Dovecot (tests/dovecot.py), with a cutting proxy for faults."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from sikm_mailbot.mail.sources.base import MessageRef, SourceError
from sikm_mailbot.mail.sources.imap import ImapSource
from tests.dovecot import Dovecot, FlakyProxy, free_port


def make_message(n: int, body_size: int = 200) -> bytes:
    """A small RFC 5322 message with CRLF line ends (so RFC822.SIZE == len)."""
    line = (f"Permohonan SIKM nomor {n} dari contoh.example.org " * 4)[:76]
    body = "\r\n".join(line for _ in range(max(1, body_size // 78)))
    return (
        f"From: Pemohon {n} <pemohon{n}@example.org>\r\n"
        f"To: sikm@example.net\r\n"
        f"Subject: SIKM application {n}\r\n"
        f"Message-ID: <test-{n}@example.org>\r\n"
        f"\r\n{body}\r\n"
    ).encode()


class Sleeps(list[float]):
    """An injectable sleep that records the requested delays and does not wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source_for(box: Dovecot, host: str | None = None, port: int | None = None, **kw) -> ImapSource:
    """An ImapSource for the test user (plain IMAP on loopback), no real backoff sleeps."""
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("timeout", 5.0)
    return ImapSource(
        host=host or box.host,
        port=port or box.port,
        username=box.user,
        password=box.password,
        security="none",
        **kw,
    )


def via(proxy: FlakyProxy, box: Dovecot, **kw) -> ImapSource:
    return source_for(box, host=proxy.host, port=proxy.port, **kw)


def test_list_new_returns_new_messages_with_sizes_and_no_bodies(
    imap_inbox: Dovecot, flaky_proxy: FlakyProxy
) -> None:
    raws = [make_message(i, 300 * (i + 1)) for i in range(3)]
    for raw in raws:
        imap_inbox.append(raw)
    with via(flaky_proxy, imap_inbox) as src:
        refs = src.list_new(0)
        assert [r.size for r in refs] == [len(r) for r in raws]
        assert [int(r.uid) for r in refs] == imap_inbox.uids()
        assert {r.uidvalidity for r in refs} == {imap_inbox.uidvalidity()} == {src.uidvalidity()}
        assert [r.uid for r in src.list_new(int(refs[0].uid))] == [r.uid for r in refs[1:]]
    assert b"BODY" not in bytes(flaky_proxy.upstream).upper()
    assert b"RFC822.SIZE" in bytes(flaky_proxy.upstream)


def test_watermark_filters_the_highest_uid_despite_star(imap_inbox: Dovecot) -> None:
    for i in range(3):
        imap_inbox.append(make_message(i))
    top = max(imap_inbox.uids())
    with source_for(imap_inbox) as src:
        assert src.list_new(after_uid=top) == []
        assert src.list_new(after_uid=top + 100) == []  # `UID 104:*` still matches UID 3
        imap_inbox.append(make_message(9))
        assert [r.uid for r in src.list_new(after_uid=top)] == [str(top + 1)]


def test_fetch_in_batches_returns_exact_bytes_and_leaves_unseen(
    imap_inbox: Dovecot, flaky_proxy: FlakyProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sikm_mailbot")
    raws = [make_message(i, 500 + 97 * i) for i in range(7)]
    for raw in raws:
        imap_inbox.append(raw)
    with via(flaky_proxy, imap_inbox, batch_size=3) as src:
        refs = src.list_new(0)
        got = list(src.fetch(refs))
    assert [ref for ref, _ in got] == refs
    assert [raw for _, raw in got] == raws
    sent = bytes(flaky_proxy.upstream).upper()
    assert sent.count(b"BODY.PEEK[]") == 3  # 7 messages in batches of 3
    assert b"BODY[]" not in sent.replace(b"BODY.PEEK[]", b"")
    assert all(b"\\Seen" not in flags for flags in imap_inbox.flags().values())
    assert "Permohonan SIKM" not in caplog.text  # our logs never carry message contents


def test_fetch_skips_messages_already_gone(imap_inbox: Dovecot) -> None:
    imap_inbox.append(make_message(1))
    with source_for(imap_inbox) as src:
        ref = src.list_new(0)[0]
        ghost = MessageRef(uid="999", size=10, uidvalidity=ref.uidvalidity)
        assert [r for r, _ in src.fetch([ghost, ref])] == [ref]


def test_finish_moves_and_creates_folders_and_is_idempotent(imap_inbox: Dovecot) -> None:
    raws = [make_message(i) for i in range(3)]
    for raw in raws:
        imap_inbox.append(raw)
    with source_for(imap_inbox) as src:
        a, b, c = src.list_new(0)
        src.finish(a, "processed")
        src.finish(b, "quarantine")
        src.finish(a, "processed")  # already gone: no error, no duplicate
        assert imap_inbox.folder_messages("Processed") == [raws[0]]
        assert imap_inbox.folder_messages("Quarantine") == [raws[1]]
        assert imap_inbox.folder_messages("INBOX") == [raws[2]]
        # A person deletes the folder while the bot runs: it is made again.
        imap_inbox.delete_folder("Processed")
        src.finish(c, "processed")
    assert imap_inbox.folder_messages("Processed") == [raws[2]]
    assert imap_inbox.uids("INBOX") == []


@pytest.mark.parametrize("which", ["host_without_move", "host_bare"])
def test_finish_without_move_capability(imap_inbox: Dovecot, which: str) -> None:
    raws = [make_message(i) for i in range(2)]
    for raw in raws:
        imap_inbox.append(raw)
    with source_for(imap_inbox, host=getattr(imap_inbox, which)) as src:
        assert not src._client.has_capability("MOVE")  # the fallback path really runs
        first, _ = src.list_new(0)
        src.finish(first, "quarantine")
        src.finish(first, "quarantine")
    assert imap_inbox.folder_messages("Quarantine") == [raws[0]]
    assert imap_inbox.folder_messages("INBOX") == [raws[1]]  # expunged, not just \Deleted


def test_uidvalidity_change_makes_old_refs_inert(imap_inbox: Dovecot) -> None:
    original = make_message(1)
    imap_inbox.append(original)
    src = source_for(imap_inbox)
    src.open()
    old_ref = src.list_new(0)[0]
    src.close()

    new_validity = imap_inbox.reset_inbox()
    assert new_validity != old_ref.uidvalidity
    newcomer = make_message(2)
    imap_inbox.append(newcomer)
    assert imap_inbox.uids() == [int(old_ref.uid)]  # same UID, different message

    with src:
        assert src.uidvalidity() == new_validity
        src.finish(old_ref, "processed")  # must not touch the newcomer
        assert list(src.fetch([old_ref])) == []
        assert imap_inbox.folder_messages("INBOX") == [newcomer]
        assert imap_inbox.uids("Processed") == []
        (fresh,) = src.list_new(0)
        assert fresh.uidvalidity == new_validity


def test_reconnects_when_connection_cut_mid_fetch(
    imap_inbox: Dovecot, flaky_proxy: FlakyProxy
) -> None:
    raws = [make_message(i, 40_000) for i in range(5)]
    for raw in raws:
        imap_inbox.append(raw)
    sleeps = Sleeps()
    with via(flaky_proxy, imap_inbox, batch_size=2, sleep=sleeps, backoff_base=0.25) as src:
        refs = src.list_new(0)
        flaky_proxy.cut_after(60_000)  # inside the second message of the first batch
        got = list(src.fetch(refs))
        assert flaky_proxy.cuts == 1
        assert src.reconnects == 1
        assert sleeps == [0.25]
        # A cut between calls heals too.
        flaky_proxy.cut()
        assert [r.uid for r in src.list_new(0)] == [r.uid for r in refs]
    assert [raw for _, raw in got] == raws
    assert flaky_proxy.accepted == 3


def test_gives_up_after_max_reconnects_with_a_clear_error(imap_inbox: Dovecot) -> None:
    sleeps = Sleeps()
    dead_port = free_port()
    src = source_for(imap_inbox, port=dead_port, max_reconnects=3, sleep=sleeps)
    with pytest.raises(SourceError) as err:
        src.list_new(0)
    msg = str(err.value)
    assert f"127.0.0.1:{dead_port}" in msg and "'INBOX'" in msg and "3 reconnect" in msg
    assert "ConnectionRefusedError" in msg
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff


def test_backoff_is_capped(imap_inbox: Dovecot) -> None:
    sleeps = Sleeps()
    src = source_for(imap_inbox, port=free_port(), max_reconnects=8, backoff_base=1.0, sleep=sleeps)
    with pytest.raises(SourceError):
        src.open()
    assert sleeps == [1, 2, 4, 8, 16, 30, 30, 30]


def test_login_refused_names_host_and_user_not_password(
    imap_inbox: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    src = ImapSource(
        host=imap_inbox.host,
        port=imap_inbox.port,
        username=imap_inbox.user,
        password="wrong-Pa55word",
        security="none",
        sleep=sleeps,
    )
    with pytest.raises(SourceError) as err:
        src.open()
    msg = str(err.value)
    assert imap_inbox.user in msg and imap_inbox.host in msg
    assert "AUTHENTICATIONFAILED" in msg and "b'" not in msg
    assert "wrong-Pa55word" not in msg
    assert "wrong-Pa55word" not in caplog.text
    assert sleeps == []  # a refused login is not retried


def test_missing_folder_is_a_clear_error(imap_inbox: Dovecot) -> None:
    src = source_for(imap_inbox, folder="NoSuchFolder")
    with pytest.raises(SourceError, match="NoSuchFolder"):
        src.open()
    assert src.reconnects == 0


def test_wait_for_mail_wakes_on_new_mail(imap_inbox: Dovecot) -> None:
    with source_for(imap_inbox) as src:
        timer = threading.Timer(0.3, imap_inbox.append, args=(make_message(1),))
        timer.start()
        started = time.monotonic()
        assert src.wait_for_mail(5.0) is True
        elapsed = time.monotonic() - started
        timer.join()
        assert elapsed < 3.0
        # The connection is usable right after IDLE ended.
        assert len(src.list_new(0)) == 1


def test_wait_for_mail_times_out(imap_inbox: Dovecot) -> None:
    with source_for(imap_inbox) as src:
        started = time.monotonic()
        assert src.wait_for_mail(1.0) is False
        assert 0.9 <= time.monotonic() - started < 3.0
        assert src.list_new(0) == []


def test_wait_for_mail_survives_a_cut_during_idle(
    imap_inbox: Dovecot, flaky_proxy: FlakyProxy
) -> None:
    with via(flaky_proxy, imap_inbox) as src:
        timer = threading.Timer(0.3, flaky_proxy.cut)
        timer.start()
        started = time.monotonic()
        # After a reconnect it answers True: mail may have come while it was away.
        assert src.wait_for_mail(5.0) is True
        assert time.monotonic() - started < 3.0
        assert src.reconnects == 1
        timer.join()
        assert src.list_new(0) == []


def test_wait_for_mail_without_idle_returns_false_at_once(imap_inbox: Dovecot) -> None:
    with source_for(imap_inbox, host=imap_inbox.host_bare) as src:
        started = time.monotonic()
        assert src.wait_for_mail(5.0) is False
        assert time.monotonic() - started < 0.5


def test_close_never_raises(imap_inbox: Dovecot, flaky_proxy: FlakyProxy) -> None:
    src = via(flaky_proxy, imap_inbox)
    src.open()
    flaky_proxy.cut()
    src.close()
    src.close()


def test_large_mailbox_watermark_sends_no_fetch(
    imap_inbox: Dovecot, flaky_proxy: FlakyProxy
) -> None:
    raws = [make_message(i, 1000) for i in range(5000)]
    imap_inbox.write_maildir(raws)
    total = sum(len(r) for r in raws)
    with via(flaky_proxy, imap_inbox) as src:
        refs = src.list_new(0)
        assert len(refs) == 5000 and sum(r.size for r in refs) == total
        assert flaky_proxy.bytes_down < total / 5  # sizes only, not 5 MB of bodies
        top = max(int(r.uid) for r in refs)

        flaky_proxy.reset_counters()
        assert src.list_new(after_uid=top) == []
        assert b"FETCH" not in bytes(flaky_proxy.upstream).upper()
        assert flaky_proxy.bytes_down < 2_000

        imap_inbox.append(make_message(5001))
        flaky_proxy.reset_counters()
        (newest,) = src.list_new(after_uid=top)
        sent = bytes(flaky_proxy.upstream).upper()
        assert b"RFC822.SIZE" in sent and b"BODY" not in sent
        assert flaky_proxy.bytes_down < 2_000
        assert int(newest.uid) == top + 1


def tls_source(box: Dovecot, security: str, **kw) -> ImapSource:
    port = box.tls_port if security == "ssl" else box.port
    kw.setdefault("sleep", Sleeps())
    return ImapSource(
        host=box.host,
        port=port,
        username=box.user,
        password=box.password,
        security=security,  # type: ignore[arg-type]
        timeout=5.0,
        **kw,
    )


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_with_the_servers_ca_works(imap_inbox: Dovecot, security: str) -> None:
    raw = make_message(1)
    imap_inbox.append(raw)
    with tls_source(imap_inbox, security, ca_file=imap_inbox.ca_file) as src:
        assert [body for _, body in src.fetch(src.list_new(0))] == [raw]


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_certificate_is_checked_by_default(imap_inbox: Dovecot, security: str) -> None:
    sleeps = Sleeps()
    src = tls_source(imap_inbox, security, sleep=sleeps)
    with pytest.raises(SourceError, match="certificate") as err:
        src.open()
    assert imap_inbox.host in str(err.value)
    assert sleeps == []  # a bad certificate is not retried
    # Opting out (test servers only) connects.
    with tls_source(imap_inbox, security, verify_tls=False) as src:
        assert src.list_new(0) == []
