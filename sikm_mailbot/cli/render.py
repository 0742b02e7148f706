"""Human-readable `sikm show`: the application document as Rich panels and tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from sikm_mailbot.domain.vocabulary import FORM_LABELS


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
