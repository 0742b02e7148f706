"""Human-readable output: the documents the library returns, as Rich tables and lines.

Each ``print_*`` takes exactly what the matching ``--json`` prints, so the two
views never disagree.

Values come from citizens' mail, so they are printed as text, never obeyed: Rich
markup is off (every value is a ``Text``), so is emoji replacement and
highlighting, and :func:`~sikm_mailbot.domain.safe_text.visible` shows any
control or bidi character still in the store as a symbol. Plain lines go through
:func:`say`, which does the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sikm_mailbot.domain.safe_text import visible
from sikm_mailbot.domain.vocabulary import FORM_LABELS

# `sikm stats` rows: the office's own bilingual labels, in its report's order.
STATS_ROWS = (
    ("Diterima / received (total)", "received"),
    ("Menunggu kelengkapan / incomplete", "incomplete"),
    ("Penelitian / in review", "in_review"),
    ("Menunggu penjamin / waiting for guarantor", "awaiting_guarantor"),
    ("Ditolak / rejected", "rejected"),
    ("Diterbitkan / issued", "issued"),
    ("Dibatalkan / cancelled", "cancelled"),
    ("Masuk hari ini / today's intake", "today_intake"),
    ("Lewat target / past one working day", "overdue"),
)


def plain_console() -> Console:
    """A console that prints what it is given as text: no markup, emoji or highlighting."""
    return Console(markup=False, emoji=False, highlight=False)


def text(value: object, style: str = "") -> Text:
    """One value as printable text: ``None`` empty, unsafe characters shown as symbols."""
    if isinstance(value, Text):
        return Text(visible(value.plain), style=value.style)
    return Text(visible("" if value is None else str(value)), style=style)


def line(*parts: object | tuple[object, str]) -> Text:
    """A line of values, each plain or ``(value, style)``, every one as :func:`text`."""
    out = Text()
    for part in parts:
        out.append_text(text(*part) if isinstance(part, tuple) else text(part))
    return out


def say(message: str, *, err: bool = False) -> None:
    """A plain line (stdout, or stderr) with unsafe characters shown as symbols."""
    typer.echo(visible(message), err=err)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain Rich table on stdout; every cell is text, never markup."""
    table = Table(title=text(title))
    for column in columns:
        table.add_column(text(column))
    for row in rows:
        table.add_row(*(text(cell) for cell in row))
    plain_console().print(table)


def print_queue(rows: list[dict[str, Any]]) -> None:
    """`sikm list`: one line per application, the age in working hours (! = overdue)."""

    def age(r: dict[str, Any]) -> str:
        hours = "" if r["age_working_hours"] is None else f"{r['age_working_hours']:.1f}"
        return hours + (" !" if r["overdue"] else "")

    print_table(
        f"{len(rows)} application(s)",
        ("ID", "Status", "Category", "Name", "NIK", "Age (wh)", "Missing", "Flags"),
        (
            (
                r["id"],
                r["status"],
                r["category"] or "?",
                r["name"],
                r["nik"],
                age(r),
                ", ".join(r["missing"]),
                ", ".join(r["flags"]),
            )
            for r in rows
        ),
    )


def print_stats(doc: dict[str, Any]) -> None:
    """`sikm stats`: the office's counts, one row each."""
    table = Table(title=text(f"SIKM — {doc['date']} (WIB)"))
    table.add_column("")
    table.add_column("count", justify="right")
    for label, key in STATS_ROWS:
        table.add_row(text(label), text(doc[key]))
    plain_console().print(table)


def print_mail(rows: list[dict[str, Any]]) -> None:
    """`sikm mail`: recorded messages, newest first, with where each ended."""
    print_table(
        f"{len(rows)} message(s), newest first",
        ("Id", "From", "Subject", "Outcome", "Reason / application"),
        (
            (
                str(d["ledger_id"]),
                d["from"],
                d["subject"][:50],
                d["outcome"] or d["stage"],
                d["application_id"] or d["reason"] or d["error"],
            )
            for d in rows
        ),
    )


def print_outbox(rows: list[dict[str, Any]]) -> None:
    """`sikm outbox`: outgoing mail, newest first, with the server's last words."""
    print_table(
        f"{len(rows)} mail(s), newest first",
        ("Application", "Kind", "To", "Status", "Tries", "Error"),
        (
            (
                d["application_id"] or "",
                d["kind"],
                d["to"],
                d["status"],
                str(d["attempts"]),
                d["last_error"],
            )
            for d in rows
        ),
    )


def print_poll(report: dict[str, Any]) -> None:
    """`sikm poll`: the counts on one line, then one line per outcome."""
    say(
        f"fetched {report['fetched']}, new {report['new']}, duplicate {report['duplicate']}, "
        f"quarantined {report['quarantined']}, resumed {report['resumed']}, "
        f"failed {report['failed']}"
    )
    for outcome, n in report["outcomes"].items():
        say(f"  {outcome}: {n}")


def print_counts(report: dict[str, Any]) -> None:
    """`sikm send`: ``sent 2, retried 0, ...`` on one line."""
    say(", ".join(f"{k} {v}" for k, v in report.items()))


def _kv_table(title: str, values: dict[str, Any], sources: dict[str, str]) -> Table:
    table = Table(title=text(title), show_header=True, title_justify="left")
    table.add_column("Field")
    table.add_column("Value")
    table.add_column("Read from", style="dim")
    for key, value in values.items():
        table.add_row(text(FORM_LABELS.get(key, key)), text(value or "—"), text(sources.get(key)))
    return table


def _table(title: str, columns: Sequence[str]) -> Table:
    """A titled, left-aligned section table of ``print_application``."""
    t = Table(title=text(title), title_justify="left")
    for col in columns:
        t.add_column(text(col))
    return t


def print_application(doc: dict[str, Any], console: Console | None = None) -> None:
    """Print everything an officer needs to decide on one application."""
    c = console or plain_console()
    c.print(
        line(
            (doc["id"], "bold"),
            f"  {doc['status']} ({doc['status_name']})  ",
            f"category={doc['category'] or '?'} trip={doc['trip_type'] or '?'}",
        )
    )
    c.print(
        line(
            f"received {doc['created_at']}  due {doc['due_at'] or '—'}  ",
            f"age {doc['age_working_hours']} working hours",
            ("  OVERDUE", "red") if doc["overdue"] else "",
        )
    )
    c.print(line(f"applicant email {doc['applicant_email']}  (sender {doc['sender_email']})"))
    if doc["flags"]:
        c.print(text(f"flags: {', '.join(doc['flags'])}", "yellow"))
    sources = doc.get("field_sources", {})
    c.print(_kv_table("Applicant", doc["applicant"], sources))
    if any(doc["guarantor"].values()):
        c.print(_kv_table("Guarantor", doc["guarantor"], sources))
    if doc["missing"]:
        c.print(line(("Missing documents:", "red"), " " + ", ".join(doc["missing"])))
    if doc["problems"]:
        t = _table("Problems", ("Field", "Code", "Message"))
        for p in doc["problems"]:
            t.add_row(text(p["field"]), text(p["code"]), text(p["message_en"]))
        c.print(t)
    t = _table("Attachments", ("#", "Kind", "File", "Type", "Size", "Problem / what was read"))
    for a in doc["attachments"]:
        note = a["problem"] and f"{a['problem']}: {a['reason']}" or ""
        if a["fields"]:
            note = f"form ({a['field_source']}): {len(a['fields'])} fields"
        elif not note and a["text_excerpt"]:
            note = a["text_excerpt"][:80].replace("\n", " ")
        elif not note and a["width"]:
            note = f"{a['width']}x{a['height']} image"
        origin = (f" ({a['origin']})", "dim") if a["origin"] else ""
        t.add_row(
            text(a["id"]),
            text(a["kind"]),
            line(a["filename"], origin),
            text(a["detected_type"]),
            text(f"{a['size']:,}"),
            text(note),
        )
    c.print(t)
    t = _table("History", ("When (UTC)", "Who", "What", "Detail"))
    for e in doc["history"]:
        what = e["action"]
        if e["to_status"]:
            what += f" {e['from_status'] or ''}→{e['to_status']}"
        t.add_row(text((e["at"] or "")[:19]), text(e["actor"]), text(what), text(e["detail"]))
    c.print(t)
    if doc["mail"]:
        t = _table("Mail sent", ("Kind", "To", "Status", "Error"))
        for m in doc["mail"]:
            t.add_row(text(m["kind"]), text(m["to"]), text(m["status"]), text(m["last_error"]))
        c.print(t)
