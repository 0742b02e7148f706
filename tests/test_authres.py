"""Sender authentication: only the office MTA's own Authentication-Results count."""

from __future__ import annotations

import pytest

from sikm_mailbot.mail.authres import Auth, authenticate, strip_comments, trusted_headers

OURS = "mx.sikm.example.org"


def verdict(headers: list[str], sender: str = "budi@example.com", authserv: str = OURS) -> Auth:
    return authenticate(headers, sender, authserv).state


def test_without_a_configured_id_nothing_is_trusted() -> None:
    assert verdict([f"{OURS}; dmarc=pass header.from=example.com"], authserv="") is Auth.unknown
    assert verdict([f"{OURS}; dmarc=fail header.from=example.com"], authserv="") is Auth.unknown


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"{OURS}; dmarc=pass (p=none) header.from=example.com", Auth.passed),
        (f"{OURS}; dmarc=fail header.from=example.com", Auth.failed),
        (f"{OURS}; spf=pass smtp.mailfrom=budi@example.com", Auth.passed),
        (f"{OURS}; spf=pass smtp.mailfrom=bounce@other.example.net", Auth.unknown),
        (f"{OURS}; dkim=pass header.d=mail.example.com", Auth.passed),
        (f"{OURS}; dkim=pass header.d=evil.example.net", Auth.unknown),
        (f"{OURS}; spf=softfail smtp.mailfrom=example.com", Auth.failed),
        (f"{OURS}; dkim=fail header.d=example.com; spf=none", Auth.failed),
        (f"{OURS}; dkim=fail header.d=x.example; dmarc=pass", Auth.passed),
        (f"{OURS}; none", Auth.unknown),
        (f"{OURS.upper()} 1; dmarc=pass", Auth.passed),
    ],
)
def test_results_of_the_office_mta(header: str, expected: Auth) -> None:
    assert verdict([header]) is expected


def test_the_senders_own_header_is_a_claim() -> None:
    # Written by the sender, claiming a pass under another server's name.
    assert verdict(["mx.evil.example.net; dmarc=pass; spf=pass smtp.mailfrom=example.com"]) is (
        Auth.unknown
    )
    # Written by the sender under OUR name, below a relay's header: not trusted.
    forged_below = ["relay.example.net; spf=pass", f"{OURS}; dmarc=pass header.from=example.com"]
    assert verdict(forged_below) is Auth.unknown
    assert trusted_headers(forged_below, OURS) == []


def test_every_header_of_the_office_block_counts() -> None:
    block = [f"{OURS}; spf=pass smtp.mailfrom=example.com", f"{OURS}; dmarc=fail"]
    result = authenticate(block, "budi@example.com", OURS)
    assert result.failed and result.details == ("spf=pass", "dmarc=fail")


def test_comments_and_semicolons_inside_them() -> None:
    assert strip_comments("a (b; (c) d) e") == "a  e"
    assert verdict([f"{OURS} (our mx; v2); dmarc=fail (p=reject; dis=none)"]) is Auth.failed


@pytest.mark.parametrize("junk", ["", ";;;", "=", f"{OURS}; =pass", "(((", "\\"])
def test_junk_never_raises(junk: str) -> None:
    assert verdict([junk]) in set(Auth)


def test_a_dmarc_pass_for_another_domain_is_no_pass() -> None:
    # The MTA read a malformed From: as evil.example.net's; ours reads example.com.
    header = f"{OURS}; dmarc=pass header.from=evil.example.net"
    assert verdict([header], sender="budi@example.com") is Auth.unknown


def test_a_failure_beats_a_pass() -> None:
    assert verdict([f"{OURS}; dmarc=pass", f"{OURS}; dmarc=fail"]) is Auth.failed
    assert verdict([f"{OURS}; dmarc=fail header.from=example.com; dmarc=pass"]) is Auth.failed
