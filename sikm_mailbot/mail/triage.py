"""What kind of message is this? Pure functions on headers, subjects and text.

Nothing here touches the network or the store. ``headers`` is a mapping of
lower-cased header name → value, or → a list of values when the header occurs
more than once (Received); names in another case are
tolerated. Values may still be folded (CRLF + whitespace); every function here
unfolds them first.

Loop safety follows RFC 3834 and the rules mature ticket systems use (see
LIBRARY-NOTES.md, "Mail loops"): a mail that is itself automatic is never
answered, so two robots can never talk to each other forever.

Sender authentication is not read here: only :mod:`sikm_mailbot.mail.authres`
reads it, from the office MTA's own ``Authentication-Results``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from email.utils import getaddresses, parseaddr
from typing import Literal

Headers = Mapping[str, "str | Sequence[str]"]

# Local parts of addresses that never read replies (matched on the whole local part
# or as a prefix for the noreply family, e.g. "noreply-alerts@").
_ROBOT_LOCAL_EXACT = {"mailer-daemon", "postmaster"}
_ROBOT_LOCAL_PREFIX = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply)", re.IGNORECASE)
_PRECEDENCE_NO_REPLY = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
_SUPPRESS_TOKENS = {"all", "autoreply", "dr"}
_AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-loop")

# Reply/forward prefixes in the mail clients citizens use (id, en, de, fr, nl, …).
_SUBJECT_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|bls|balas|tr|tl|aw|wg|sv|vs|antw|rif|r)\s*(\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)


def _values(headers: Headers, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), unfolded, as strings."""
    out: list[str] = []
    for key, value in headers.items():
        if key.lower() != name:
            continue
        items = [value] if isinstance(value, str) else list(value)
        out.extend(re.sub(r"\r?\n[ \t]+", " ", str(v)).strip() for v in items)
    return out


def _first(headers: Headers, name: str) -> str:
    vals = _values(headers, name)
    return vals[0] if vals else ""


def _local_part(addr: str) -> str:
    address = parseaddr(addr)[1] or addr.strip()
    return address.rsplit("@", 1)[0].strip().lower() if "@" in address else address.lower()


def _is_robot_sender(addr: str) -> bool:
    local = _local_part(addr)
    return bool(local) and (local in _ROBOT_LOCAL_EXACT or bool(_ROBOT_LOCAL_PREFIX.match(local)))


def _sender_addresses(headers: Headers, from_addr: str, return_path: str) -> list[str]:
    """Every address the mail claims to come from: the given sender, each address in
    From (a display name that looks like an address fools ``parseaddr``), Return-Path."""
    values = [from_addr, *_values(headers, "from"), return_path, _first(headers, "return-path")]
    found = [a for _, a in getaddresses([v for v in values if v]) if a]
    return list(dict.fromkeys(a.lower() for a in found))


def _is_null_path(return_path: str) -> bool:
    """True for the SMTP null reverse-path ``<>`` (an empty string means "not known")."""
    return return_path.strip().replace(" ", "") == "<>"


def _content_type(headers: Headers) -> tuple[str, str]:
    """(type/subtype, report-type) of the top-level Content-Type, lower-cased."""
    value = _first(headers, "content-type").lower()
    ctype = value.split(";", 1)[0].strip()
    m = re.search(r"report-type\s*=\s*\"?([a-z0-9._-]+)", value)
    return ctype, (m.group(1) if m else "")


def is_bounce(headers: Headers) -> bool:
    """True when the mail is a delivery failure report (a bounce).

    A bounce is a ``multipart/report; report-type=delivery-status`` (RFC 3464), a
    mail with ``X-Failed-Recipients`` (Exim), or a mail from mailer-daemon/postmaster
    with the null return path.
    """
    ctype, report_type = _content_type(headers)
    if ctype == "multipart/report" and report_type == "delivery-status":
        return True
    if _values(headers, "x-failed-recipients"):
        return True
    from_ = _first(headers, "from")
    return _is_null_path(_first(headers, "return-path")) and _local_part(from_) in (
        _ROBOT_LOCAL_EXACT
    )


def no_reply_reason(
    headers: Headers,
    from_addr: str,
    return_path: str | Sequence[str],
    *,
    own_addresses: Iterable[str] = (),
) -> str | None:
    """Why this mail must not be answered, as a short sentence for the ledger; None = may answer.

    ``from_addr`` is the sender's address (a bare address or a From value);
    ``return_path`` the envelope sender when known: ``"<>"`` is the null path of
    bounces and auto-replies, ``""`` means unknown (the Return-Path header is used
    then). ``own_addresses`` are our addresses: mail from them, or an ``X-Loop``
    naming them, is our own mail coming back.
    """
    own = {a.strip().lower() for a in own_addresses if a.strip()}
    if not isinstance(return_path, str):  # a repeated header given as a list: the first
        return_path = next(iter(return_path), "") if return_path else ""
    if not isinstance(from_addr, str):
        from_addr = next(iter(from_addr), "") if from_addr else ""
    ctype, report_type = _content_type(headers)
    if is_bounce(headers):
        return "Delivery failure report (bounce): never answered."
    if ctype == "multipart/report":
        kind = report_type or "unknown"
        return f"Automatic report ({kind}), e.g. a read receipt: never answered."

    sender = (parseaddr(from_addr)[1] or from_addr).strip().lower()
    if sender and sender in own:
        return "Sent from our own address: our own mail came back."
    for loop in _values(headers, "x-loop"):
        named = {a.lower() for _, a in getaddresses([loop]) if a}
        if named & own:
            return "X-Loop names our own address: our own mail came back."

    auto = _first(headers, "auto-submitted")
    if auto and auto.split(";", 1)[0].strip().lower() != "no":
        return f"Auto-Submitted: {auto[:60]} (automatic mail, RFC 3834)."
    if _is_null_path(return_path) or (
        not return_path.strip() and _is_null_path(_first(headers, "return-path"))
    ):
        return "Empty return path <> (bounce or automatic reply)."
    for addr in _sender_addresses(headers, from_addr, return_path):
        if _is_robot_sender(addr):
            return (
                f"Sender {_local_part(addr)}@… is an automatic address that does not read replies."
            )
    precedence = _first(headers, "precedence").lower()
    if precedence in _PRECEDENCE_NO_REPLY:
        return f"Precedence: {precedence} (bulk or list mail)."
    for name in ("list-id", "list-unsubscribe"):
        if _first(headers, name):
            return f"{name.title()} header present (mailing-list or newsletter mail)."
    for value in _values(headers, "x-auto-response-suppress"):
        tokens = {t.strip().lower() for t in re.split(r"[,;\s]+", value) if t.strip()}
        if tokens & _SUPPRESS_TOKENS:
            return f"X-Auto-Response-Suppress: {value[:60]} (sender asks for no automatic reply)."
    for name in _AUTO_HEADERS:
        if _values(headers, name):
            return f"{name.title()} header present (automatic reply or loop marker)."
    return None


def find_tracking_number(text: str, prefix: str = "SIKM") -> str | None:
    """The first tracking number in ``text``, normalised to ``SIKM-YYYY-NNNNNN``; else None.

    Tolerant of what people type: ``[SIKM-2020-000123]``, ``sikm 2020 123``,
    ``SIKM/2020/000123``. Never matches inside a longer word or number.
    """
    if not text:
        return None
    pattern = re.compile(
        rf"(?<![A-Za-z0-9]){re.escape(prefix)}\s*[-–_/ ]?\s*(20\d\d)\s*[-–_/ ]\s*(\d{{1,6}})(?!\d)",
        re.IGNORECASE,
    )
    m = pattern.search(text)
    if not m or int(m.group(2)) == 0:
        return None
    return f"{prefix.upper()}-{m.group(1)}-{int(m.group(2)):06d}"


def clean_subject(subject: str) -> str:
    """The subject without Re:/Fwd:/Balas: prefixes and surrounding space."""
    return _SUBJECT_PREFIX.sub("", subject or "").strip()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


_FORMS_WORDS = {"formulir", "form", "forms", "formular"}
# Words that show a mail is about this service, for mail with no form and no documents.
_SERVICE_WORDS = ("sikm", "izin keluar", "surat izin", "formulir", "permohonan", "keluar masuk")


def has_form_values(fields: Mapping[str, str]) -> bool:
    """Whether typed values look like a form, not a signature ("Email: …") in any mail."""
    return len([k for k, v in fields.items() if v and k != "email"]) >= 2


def about_service(subject: str, body_new_text: str) -> bool:
    """Whether the subject or the new text mentions this service (SIKM, the permit, the form)."""
    text = f"{subject}\n{body_new_text}".lower()
    return any(word in text for word in _SERVICE_WORDS)


Command = Literal["forms", "status"]


def command_of(
    subject: str, body_new_text: str, has_attachments: bool, has_fields: bool
) -> Command | None:
    """A command mail: ``"forms"`` (send me the blank forms), ``"status"``, or None.

    A mail with attachments or form fields is a submission, never a command (so a
    reply "Re: Formulir SIKM" carrying a filled form is not mistaken for a request).
    FORMULIR as the first word of the subject or of the new body text, or a mail
    with nothing in it at all → forms. STATUS (or CEK STATUS) as the first word of
    the subject → status; the caller finds the tracking number with
    :func:`find_tracking_number` and answers by sender when there is none.
    """
    if has_attachments or has_fields:
        return None
    subj = _words(clean_subject(subject))
    body = _words(_first_line(_new_text(body_new_text)))
    if subj[:1] == ["status"] or subj[:2] == ["cek", "status"]:
        return "status"
    if subj[:1] and subj[0] in _FORMS_WORDS:
        return "forms"
    if not subj and body[:1] and body[0] in _FORMS_WORDS:
        return "forms"
    if not subj and not _words(body_new_text or ""):
        return "forms"
    return None


# Lines that start the quoted part of a reply in common clients (Gmail, Outlook,
# Apple Mail, Yahoo, in Indonesian and English).
_QUOTE_INTRO = re.compile(
    r"^\s*(-{2,}\s*(original message|pesan asli|forwarded message|pesan terusan)"
    r"|_{5,}"
    r"|(on|pada)\b.*\b(wrote|menulis)\s*:?\s*$"
    r"|(from|dari)\s*:\s)",
    re.IGNORECASE,
)


def _new_text(body: str) -> str:
    """The part of a reply the sender wrote now: quoted lines and what follows the quote
    intro ("On … wrote:", "-----Original Message-----", an Outlook "From:" block) removed."""
    kept: list[str] = []
    for line in (body or "").splitlines():
        if _QUOTE_INTRO.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


_NEGATIONS = {"tidak", "tdk", "tak", "gak", "ga", "nggak", "enggak", "belum", "kurang", "bukan"}
_FILLERS = {"saya", "kami", "ya", "iya", "baik", "dengan", "ini"}
_REFUSE_WORDS = {"tolak", "menolak", "ditolak"}
_CONFIRM_WORDS = {"setuju", "menyetujui", "disetujui"}

Answer = Literal["confirm", "refuse"]


def _answer_in(words: list[str], *, first_only: bool) -> Answer | None:
    """Read SETUJU/TOLAK from a list of words.

    ``first_only``: the answer must open the text (after fillers such as "Saya"),
    and the rest of the words must not say the opposite. Otherwise any occurrence
    counts. A negated "setuju" ("tidak setuju") is a refusal; words that both
    confirm and refuse are ambiguous (None) and an officer decides.
    """
    if first_only:
        start = 0
        while start < len(words) and words[start] in _FILLERS:
            start += 1
        head = words[start : start + 2]
        opening: Answer | None = None
        negated_confirm = len(head) == 2 and head[0] in _NEGATIONS and head[1] in _CONFIRM_WORDS
        if (head[:1] and head[0] in _REFUSE_WORDS) or negated_confirm:
            opening = "refuse"
        elif head[:1] and head[0] in _CONFIRM_WORDS:
            opening = "confirm"
        if opening is None:
            return None
        return opening if _answer_in(words, first_only=False) == opening else None
    confirms = refuses = False
    for i, word in enumerate(words):
        negated = i > 0 and words[i - 1] in _NEGATIONS
        if word in _REFUSE_WORDS and not negated:
            refuses = True
        elif word in _CONFIRM_WORDS:
            if negated:
                refuses = True
            else:
                confirms = True
    if confirms == refuses:
        return None
    return "confirm" if confirms else "refuse"


def guarantor_answer(subject: str, body_new_text: str) -> Answer | None:
    """The guarantor's answer: ``"confirm"`` (SETUJU), ``"refuse"`` (TOLAK), or None.

    The body counts only when SETUJU/TOLAK opens the new text (quoted text is
    ignored, so our own request quoted below never answers for them). "Tidak
    setuju" is a refusal. The subject counts when it contains the word (our own
    request subject contains neither). Body and subject disagreeing, or one line
    saying both, gives None so an officer decides; a wrong confirmation is the
    worst mistake here.
    """
    body = _answer_in(_words(_first_line(_new_text(body_new_text))), first_only=True)
    subj_words = _words(clean_subject(subject))
    subj = _answer_in(subj_words, first_only=False)
    if body and subj and body != subj:
        return None
    return body or subj
