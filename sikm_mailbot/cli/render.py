"""Human-readable output: the documents the library returns, as Rich tables and lines.

Each ``print_*`` takes exactly what the matching ``--json`` prints, so the two
views never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

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


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A plain Rich table on stdout."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


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
    table = Table(title=f"SIKM — {doc['date']} (WIB)")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, key in STATS_ROWS:
        table.add_row(label, str(doc[key]))
    Console().print(table)


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
    typer.echo(
        f"fetched {report['fetched']}, new {report['new']}, duplicate {report['duplicate']}, "
        f"quarantined {report['quarantined']}, resumed {report['resumed']}, "
        f"failed {report['failed']}"
    )
    for outcome, n in report["outcomes"].items():
        typer.echo(f"  {outcome}: {n}")


def print_counts(report: dict[str, Any]) -> None:
    """`sikm send`: ``sent 2, retried 0, ...`` on one line."""
    typer.echo(", ".join(f"{k} {v}" for k, v in report.items()))


def _kv_table(title: str, values: dict[str, Any], sources: dict[str, str]) -> Table:
    table = Table(title=title, show_header=True, title_justify="left")
    table.add_column("Field")
    table.add_column("Value")
    table.add_column("Read from", style="dim")
    for key, value in values.items():
        table.add_row(FORM_LABELS.get(key, key), str(value or "—"), sources.get(key, ""))
    return table


def print_application(doc: dict[str, Any], console: Console | None = None) -> None:
    """Print everything an officer needs to decide on one application."""
    c = console or Console()
    c.print(
        f"[bold]{doc['id']}[/bold]  {doc['status']} ({doc['status_name']})  "
        f"category={doc['category'] or '?'} trip={doc['trip_type'] or '?'}"
    )
    c.print(
        f"received {doc['created_at']}  due {doc['due_at'] or '—'}  "
        f"age {doc['age_working_hours']} working hours"
        + ("  [red]OVERDUE[/red]" if doc["overdue"] else "")
    )
    c.print(f"applicant email {doc['applicant_email']}  (sender {doc['sender_email']})")
    if doc["flags"]:
        c.print(f"[yellow]flags: {', '.join(doc['flags'])}[/yellow]")
    sources = doc.get("field_sources", {})
    c.print(_kv_table("Applicant", doc["applicant"], sources))
    if any(doc["guarantor"].values()):
        c.print(_kv_table("Guarantor", doc["guarantor"], sources))
    if doc["missing"]:
        c.print("[red]Missing documents:[/red] " + ", ".join(doc["missing"]))
    if doc["problems"]:
        t = Table(title="Problems", title_justify="left")
        for col in ("Field", "Code", "Message"):
            t.add_column(col)
        for p in doc["problems"]:
            t.add_row(p["field"], p["code"], p["message_en"])
        c.print(t)
    t = Table(title="Attachments", title_justify="left")
    for col in ("#", "Kind", "File", "Type", "Size", "Problem / what was read"):
        t.add_column(col)
    for a in doc["attachments"]:
        note = a["problem"] and f"{a['problem']}: {a['reason']}" or ""
        if a["fields"]:
            note = f"form ({a['field_source']}): {len(a['fields'])} fields"
        elif not note and a["text_excerpt"]:
            note = a["text_excerpt"][:80].replace("\n", " ")
        elif not note and a["width"]:
            note = f"{a['width']}x{a['height']} image"
        origin = f" [dim]({a['origin']})[/dim]" if a["origin"] else ""
        t.add_row(
            str(a["id"]),
            a["kind"],
            a["filename"] + origin,
            a["detected_type"],
            f"{a['size']:,}",
            note,
        )
    c.print(t)
    t = Table(title="History", title_justify="left")
    for col in ("When (UTC)", "Who", "What", "Detail"):
        t.add_column(col)
    for e in doc["history"]:
        what = e["action"]
        if e["to_status"]:
            what += f" {e['from_status'] or ''}→{e['to_status']}"
        t.add_row((e["at"] or "")[:19], e["actor"], what, e["detail"])
    c.print(t)
    if doc["mail"]:
        t = Table(title="Mail sent", title_justify="left")
        for col in ("Kind", "To", "Status", "Error"):
            t.add_column(col)
        for m in doc["mail"]:
            t.add_row(m["kind"], m["to"], m["status"], m["last_error"])
        c.print(t)


def print_verdict(doc: dict[str, Any]) -> None:
    """`sikm verify`: VALID/INVALID, who the permit is for, where the code was read."""
    verdict = "VALID" if doc["valid"] else "INVALID"
    typer.echo(f"{verdict} — {doc['message_en']} / {doc['message_id']}")
    if doc["holder"]:
        typer.echo(f"  Permit / Nomor:    {doc['permit_number']}")
        typer.echo(f"  Name / Nama:       {doc['holder']['name']}")
        typer.echo(f"  NIK:               ************{doc['holder']['nik_last4']}")
        route = doc["route"]
        typer.echo(f"  Route / Rute:      {route['origin']} -> {route['destination']}")
        typer.echo(f"  Valid / Berlaku:   {doc['valid_from']} .. {doc['valid_until']}")
        typer.echo(f"  Trip / Perjalanan: {doc['trip_type']}, {doc['category']}")
    typer.echo(f"  Read from:         {doc['source']} ({doc['token_from'] or 'no code found'})")
    sig = doc["pdf_signature"]
    if sig is not None:
        note = "" if doc["pdf_signature_required"] else " (not required: scanned/unsigned PDF)"
        signer = f", {sig['signer']}" if sig.get("signer") else ""
        typer.echo(f"  PDF signature:     {sig['reason']}{signer}{note}")
