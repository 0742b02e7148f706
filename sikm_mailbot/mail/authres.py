"""Sender authentication, read from the office MTA's own ``Authentication-Results``.

RFC 8601: an ``Authentication-Results`` header is only as trustworthy as the host
that added it. The office's MTA stamps its results with its *authserv-id* (set in
``inbox.trusted_authserv_id``) and removes look-alikes from incoming mail; any other
such header, and every ``Received-SPF``, may have been written by the sender. So:

- without a configured id, authentication is *unknown* (the Maildir default);
- only headers carrying that id count, and only those above the first header of
  any other server (anything below it came from further down the trace);
- DMARC decides when present; otherwise a DKIM or SPF pass aligned with the
  ``From:`` domain passes, and any DKIM or SPF failure fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Auth(StrEnum):
    """What the office MTA says about the sender."""

    passed = "pass"
    failed = "fail"
    unknown = "unknown"  # no trusted result: no configured id, no header, or no verdict


@dataclass(frozen=True)
class AuthResult:
    """The verdict and the results it rests on, e.g. ``("dmarc=fail", "spf=softfail")``."""

    state: Auth
    details: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when the sender's domain is proven."""
        return self.state is Auth.passed

    @property
    def failed(self) -> bool:
        """True when the office MTA says the sender's domain was forged."""
        return self.state is Auth.failed


UNKNOWN = AuthResult(Auth.unknown)

_FAILS = {"fail", "softfail", "permerror"}
_METHOD = re.compile(r"^\s*([a-z0-9_-]+)(?:/[0-9]+)?\s*=\s*([a-z]+)", re.IGNORECASE)
_PROP = re.compile(r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom)\s*=\s*([^\s;]+)", re.I)


def strip_comments(value: str) -> str:
    """``value`` without RFC 5322 comments ``( … )``, nesting and escapes included."""
    out: list[str] = []
    depth = 0
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
            if depth:
                continue
        elif ch == "\\":
            escaped = True
            if depth:
                continue
        elif ch == "(":
            depth += 1
            continue
        elif ch == ")" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(ch)
    return "".join(out)


def _authserv_id(header: str) -> str:
    first = strip_comments(header).split(";", 1)[0].split()
    return first[0].lower() if first else ""


def _domain(value: str) -> str:
    return value.rsplit("@", 1)[-1].strip("<>\"' ").lower().rstrip(".")


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other."""
    if not domain or not from_domain:
        return False
    return (
        domain == from_domain
        or from_domain.endswith("." + domain)
        or domain.endswith("." + from_domain)
    )


def trusted_headers(headers: Sequence[str], authserv_id: str) -> list[str]:
    """The headers (topmost first) that the office MTA stamped, above any other server's."""
    wanted = authserv_id.strip().lower()
    if not wanted:
        return []
    ours: list[str] = []
    for header in headers:
        if _authserv_id(header) != wanted:
            break  # a relay's (or the sender's) header: nothing below it is ours to trust
        ours.append(header)
    return ours


def authenticate(headers: Sequence[str], from_addr: str, authserv_id: str) -> AuthResult:
    """The sender's authentication, from the ``Authentication-Results`` headers in order.

    ``headers`` are every ``Authentication-Results`` value, topmost first.
    """
    from_domain = _domain(from_addr)
    results: list[tuple[str, str, str]] = []  # (method, result, domain it speaks for)
    for header in trusted_headers(headers, authserv_id):
        for part in strip_comments(header).split(";")[1:]:
            m = _METHOD.match(part)
            if not m:
                continue
            method, result = m.group(1).lower(), m.group(2).lower()
            props = {k.lower(): _domain(v) for k, v in _PROP.findall(part)}
            domain = props.get("header.d") or props.get("header.i") or props.get("smtp.mailfrom")
            results.append((method, result, domain or props.get("header.from", "")))
    if not results:
        return UNKNOWN
    details = tuple(dict.fromkeys(f"{m}={r}" for m, r, _ in results))
    # DMARC speaks for the From: domain. A failure anywhere wins over a pass, and a
    # pass counts only for the domain our own parse of From: gives (an MTA that read
    # a malformed From: differently vouches for another mailbox).
    dmarc = [(r, d) for m, r, d in results if m == "dmarc"]
    if any(r in _FAILS for r, _ in dmarc):
        return AuthResult(Auth.failed, details)
    if any(r == "pass" and (not d or d == from_domain) for r, d in dmarc):
        return AuthResult(Auth.passed, details)
    if any(r == "pass" for r, _ in dmarc):
        return AuthResult(Auth.unknown, details)
    checks = [(r, d) for m, r, d in results if m in ("dkim", "spf")]
    if any(r == "pass" and _aligned(d, from_domain) for r, d in checks):
        return AuthResult(Auth.passed, details)
    if any(r in _FAILS for r, _ in checks):
        return AuthResult(Auth.failed, details)
    return AuthResult(Auth.unknown, details)
