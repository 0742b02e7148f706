#!/usr/bin/env python3
"""Document reading accuracy and time on the generated citizen-document corpus (issue 13).

    .venv/bin/python bench/documents.py [--quick] [--corpus DIR] [--seed N] [--no-save]

Builds the corpus with fixtures/documents/build.py (or reuses ``--corpus DIR`` when it
holds a manifest.json), wraps each file in a mail of its own and reads it through the
real path (``read_message``: MIME, sandbox child, classification). Reports document-kind
accuracy (goal ≥ 95 %), field accuracy on printed/typed values (goal ≥ 90 %), reading
time per page (median, p95; goal ≤ 2 s) and a per-variant breakdown. Writes
bench/results/documents-YYYY-MM-DD[-LABEL].json. It measures whatever the bot does today.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for a fresh clone

from bench import _common as C  # noqa: E402
from fixtures.documents.build import MANIFEST, build  # noqa: E402
from fixtures.documents.compare import same  # noqa: E402
from sikm_mailbot.mail.extract import Limits, ReadAttachment, read_message  # noqa: E402

QUICK_VARIANTS = {"text_pdf", "scan_pdf", "whatsapp", "docx"}
GOALS = {"kind_accuracy": 0.95, "field_accuracy": 0.90, "seconds_per_page": 2.0}
MIME = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".heic": "image/heic",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".odt": "application/vnd.oasis.opendocument.text",
}


def wrap(filename: str, data: bytes, n: int) -> bytes:
    """A plain citizen mail carrying one attachment (the body names no field)."""
    msg = EmailMessage()
    msg["From"] = f"Pemohon {n} <pemohon{n}@example.com>"
    msg["To"] = "sikm@sikm.example.org"
    msg["Subject"] = "Permohonan SIKM"
    msg["Message-ID"] = f"<doc-bench-{n}@example.com>"
    msg["Date"] = "Tue, 01 Dec 2026 08:00:00 +0700"
    msg.set_content("Selamat pagi, terlampir dokumen permohonan SIKM saya. Terima kasih.")
    maintype, subtype = MIME.get(Path(filename).suffix.lower(), "application/octet-stream").split(
        "/"
    )
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def predicted_kinds(att: ReadAttachment) -> list[str]:
    """The kinds the bot gave the file's pages: per page when it says so, else the file's."""
    pages = getattr(att, "page_kinds", None)
    return [str(k) for k in pages] if pages else [att.kind]


def score(entry: dict[str, Any], att: ReadAttachment | None) -> dict[str, Any]:
    """Kinds and fields right for one file (multiset match of kinds over its pages)."""
    expected = [p["kind"] for p in entry["pages"]]
    # A kind counts only for a file that was read: a refused .docx named "formulir" is not.
    got = predicted_kinds(att) if att is not None and not att.problem else []
    kinds_ok = sum((Counter(expected) & Counter(got)).values())
    fields = att.fields if att is not None else {}
    f_total = f_ok = 0
    for page in entry["pages"]:
        for key, want in (page.get("fields") or {}).items():
            f_total += 1
            f_ok += same(key, fields.get(key), want)
    return {
        "kinds_expected": expected,
        "kinds_got": got,
        "kinds_ok": kinds_ok,
        "fields_total": f_total,
        "fields_ok": f_ok,
        "problem": att.problem if att is not None else "no attachment read",
        "reason": att.reason if att is not None else "",
    }


def run(corpus: Path) -> dict[str, Any]:
    """Read every file of the corpus; per-file rows plus the totals."""
    manifest = json.loads((corpus / MANIFEST).read_text())
    limits = Limits()
    read_message(wrap("warm.txt", b"Nama Lengkap: A\n", 0), limits)  # start the sandbox child
    rows = []
    for n, entry in enumerate(manifest["files"], start=1):
        raw = wrap(entry["file"], (corpus / entry["file"]).read_bytes(), n)
        t0 = time.perf_counter()
        msg = read_message(raw, limits)
        seconds = time.perf_counter() - t0
        att = msg.attachments[0] if msg.attachments else None
        rows.append(
            {
                "file": entry["file"],
                "variant": entry["variant"],
                "pages": len(entry["pages"]),
                "seconds": round(seconds, 4),
                "seconds_per_page": round(seconds / len(entry["pages"]), 4),
                **score(entry, att),
            }
        )
    return {
        "seed": manifest["seed"],
        "files": rows,
        "totals": totals(rows),
        "by_variant": {
            v: totals([r for r in rows if r["variant"] == v])
            for v in sorted({r["variant"] for r in rows})
        },
    }


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    pages = sum(r["pages"] for r in rows)
    kinds_ok = sum(r["kinds_ok"] for r in rows)
    f_total = sum(r["fields_total"] for r in rows)
    f_ok = sum(r["fields_ok"] for r in rows)
    per_page = [r["seconds_per_page"] for r in rows for _ in range(r["pages"])]
    return {
        "files": len(rows),
        "pages": pages,
        "kinds_ok": kinds_ok,
        "kind_accuracy": round(kinds_ok / pages, 4) if pages else None,
        "fields_total": f_total,
        "fields_ok": f_ok,
        "field_accuracy": round(f_ok / f_total, 4) if f_total else None,
        "seconds_per_page_median": round(C.median(per_page), 4),
        "seconds_per_page_p95": round(C.pct(per_page, 95), 4),
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def report(result: dict[str, Any]) -> str:
    """The per-variant table, the totals against the goals, and the misread files."""
    head = [
        "variant",
        "files",
        "pages",
        "kinds ok",
        "kind acc",
        "fields ok",
        "field acc",
        "s/page p50",
        "s/page p95",
    ]
    rows = []
    for name, t in [*result["by_variant"].items(), ("ALL", result["totals"])]:
        rows.append(
            [
                name,
                t["files"],
                t["pages"],
                t["kinds_ok"],
                _pct(t["kind_accuracy"]),
                f"{t['fields_ok']}/{t['fields_total']}",
                _pct(t["field_accuracy"]),
                t["seconds_per_page_median"],
                t["seconds_per_page_p95"],
            ]
        )
    t = result["totals"]
    lines = [
        C.table(head, rows),
        "",
        f"goals: kind ≥ 95 % (now {_pct(t['kind_accuracy'])}), fields ≥ 90 % "
        f"(now {_pct(t['field_accuracy'])}), ≤ 2 s/page "
        f"(p95 now {t['seconds_per_page_p95']:.2f} s)",
        "",
        "misread files (expected → got; problem/reason):",
    ]
    for r in result["files"]:
        if r["kinds_ok"] < r["pages"] or r["fields_ok"] < r["fields_total"]:
            lines.append(
                f"  {r['file']}: {','.join(r['kinds_expected'])} → {','.join(r['kinds_got'])}"
                f"; fields {r['fields_ok']}/{r['fields_total']}; {r['problem'] or ''} "
                f"{r['reason'][:90]}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"only {sorted(QUICK_VARIANTS)}")
    parser.add_argument("--corpus", type=Path, help="build into / reuse this folder")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    parser.add_argument("--label", help="results file documents-DATE-LABEL.json (e.g. a commit)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sikm-docs-") as tmp:
        corpus = args.corpus or Path(tmp)
        t0 = time.perf_counter()
        if not (corpus / MANIFEST).exists():
            build(corpus, args.seed, QUICK_VARIANTS if args.quick else None)
        built = time.perf_counter() - t0
        result = run(corpus)
    print(
        f"corpus: {result['totals']['files']} files, {result['totals']['pages']} pages "
        f"(built in {built:.1f} s, seed {result['seed']})\n"
    )
    print(report(result))
    if not args.no_save:
        name = f"documents-{date.today():%Y-%m-%d}" + (f"-{args.label}" if args.label else "")
        path = C.write_result(name, {"goals": GOALS, **result}, args.quick)
        print(f"\nwrote {path.relative_to(C.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
