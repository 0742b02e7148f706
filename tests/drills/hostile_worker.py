"""One share of the hostile-input drill, run in its own process (spawned, so it has its
own sandbox child and its own store): generate the share's messages from the seed,
read them through the real intake in batches, check every row, report numbers.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.intake.driver import Intake
from sikm_mailbot.sandbox import shared_sandbox
from sikm_mailbot.store.ledger import dedupe_key, summarize_headers
from sikm_mailbot.store.models import LedgerEntry
from sikm_mailbot.wiring import App, make_source, source_key
from tests.drills.common import FIXTURES, check_sqlite, realmail, rss_kib, tag
from tests.drills.hostile import messages, mutate, shrink
from tests.fixture_table import fixed_clock
from tests.mailgen import drop_into_maildir

PARSE_TIMEOUT = 5.0
BATCH = 500


def config(poll_interval: float = 60) -> str:
    """A drill site's config: short parse limits, no reply cap, DEBUG log to a file."""
    return (
        f"[intake]\nparse_timeout = {PARSE_TIMEOUT}\nparse_cpu_seconds = 4\n"
        f"poll_interval = {poll_interval}\n"
        "[outbox]\nreplies_per_hour = 100000\n"
        "[logging]\nlevel = 'DEBUG'\nfile = 'var/sikm.log'\n"
    )


class Timed:
    """The reading pipeline with a stopwatch on each message (prepare + apply)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds: list[float] = []
        self._prepare = 0.0

    def prepare(self, raw: bytes, entry: LedgerEntry) -> Any:
        """Time the reading (MIME, sandboxed attachments)."""
        start = time.perf_counter()
        try:
            return self.inner.prepare(raw, entry)
        finally:
            self._prepare = time.perf_counter() - start

    def apply(self, session: Session, entry: LedgerEntry, prepared: Any) -> Any:
        """Time the database work; record prepare + apply."""
        start = time.perf_counter()
        try:
            return self.inner.apply(session, entry, prepared)
        finally:
            self.seconds.append(self._prepare + time.perf_counter() - start)


def office(root: Path, poll_interval: float = 60) -> tuple[App, Intake, Timed]:
    """A site in ``root`` with the real intake and a timed reading pipeline."""
    (root / "config.toml").write_text(config(poll_interval))
    s = load_settings(root / "config.toml")
    app = App(s, now=fixed_clock("2020-05-20"))
    timed = Timed(app.pipeline())
    intake = Intake(app.engine, app.files, make_source(s), source_key(s), pipeline=timed)
    return app, intake, timed


def hypothesis_corpus(n: int, seed: int) -> list[bytes]:
    """``n`` messages drawn from the hypothesis strategy (generation only, no shrinking)."""
    out: list[bytes] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(messages())
    def collect(raw: bytes) -> None:
        out.append(raw)

    collect()
    return out


def mutation_corpus(
    n: int, rng: random.Random, whole_share: float = 0.01
) -> Iterator[tuple[bytes, str]]:
    """``n`` byte mutations of fixtures and real mail: mostly with tiny attachments, some
    with broken PDFs and photos (cut to 4 lines), a few whole (``whole_share``)."""
    whole = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml")) if p.stat().st_size < 1e6]
    whole += [p.read_bytes() for p in realmail() if p.stat().st_size < 1e6]
    slim = [shrink(r) for r in whole]
    broken = [shrink(r, keep_magic=True) for r in whole]
    for _ in range(n):
        roll = rng.random()
        pool = whole if roll < whole_share else broken if roll < 5 * whole_share else slim
        source = rng.choice(pool)
        # A Message-ID of its own first: else every mutation of one fixture would be
        # recognised as a copy of the first and never read.
        yield mutate(tag(source, f"H{rng.randrange(1 << 40):x}"), rng, slim)


def distinct(raws: list[bytes]) -> int:
    """How many different messages the ledger should see (its own dedupe rule)."""
    return len({dedupe_key(r, summarize_headers(r)) for r in raws})


def check_final(app: App) -> Counter:
    """Every ledger row final, moved, with a reason where it was not applied; no errors."""
    with Session(app.engine) as s:
        rows = s.exec(select(LedgerEntry)).all()
    bad = [
        (r.id, r.stage, r.outcome, r.error[:80])
        for r in rows
        if r.stage not in ("done", "quarantined") or not r.moved or r.error
    ]
    assert not bad, f"{len(bad)} messages not finished cleanly, e.g. {bad[:5]}"
    unexplained = [r.id for r in rows if r.outcome in ("ignored", "quarantined") and not r.reason]
    assert not unexplained
    return Counter(r.outcome for r in rows)


def read_share(seed: int, share: int, n_hypothesis: int, n_mutations: int) -> dict[str, Any]:
    """Generate and read one share; assert as it goes; return the numbers."""
    started = time.monotonic()
    rng = random.Random(seed * 1009 + share)
    corpus = [(m, "hypothesis") for m in hypothesis_corpus(n_hypothesis, seed + share)]
    corpus += list(mutation_corpus(n_mutations, rng))
    rng.shuffle(corpus)
    generated = time.monotonic() - started
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None  # fsync is free there
    root = Path(tempfile.mkdtemp(prefix="sikm-hostile-", dir=base))
    try:
        app, intake, timed = office(root)
        inbox = root / "var/mail/inbox"
        rss: list[int] = []
        taken: Counter = Counter()
        for i in range(0, len(corpus), BATCH):
            batch = corpus[i : i + BATCH]
            for raw, _ in batch:
                drop_into_maildir(inbox, raw)
            report = intake.poll()
            assert report.failed == 0, report.as_dict()
            assert report.fetched == len(batch)
            taken.update(new=report.new, duplicate=report.duplicate)
            rss.append(rss_kib())
        assert taken["new"] + taken["duplicate"] == len(corpus)
        assert taken["new"] == distinct([raw for raw, _ in corpus])
        assert not list((inbox / "new").iterdir()) and not list((inbox / "cur").iterdir())
        assert len(timed.seconds) == taken["new"]
        outcomes = check_final(app)
        check_sqlite(root / "var/sikm.db")
        box = shared_sandbox(timed.inner.limits)
        child_limit = ""
        if box.pid is not None:
            limits = Path(f"/proc/{box.pid}/limits").read_text().splitlines()
            child_limit = next(line for line in limits if line.startswith("Max address space"))
        return {
            "messages": len(corpus),
            "kinds": Counter(k.split("+")[0] for _, k in corpus),
            "new": taken["new"],
            "duplicate": taken["duplicate"],
            "outcomes": outcomes,
            "seconds": timed.seconds,
            "rss_kib": rss,
            "generated_s": generated,
            "total_s": time.monotonic() - started,
            "child_limit": child_limit,
            "parse_memory_mb": app.settings.intake.parse_memory_mb,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
