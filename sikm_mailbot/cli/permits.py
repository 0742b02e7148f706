"""The permit commands of `sikm`: `keys init|rotate|export|list`, `verify`, `revoke`.

Thin: the work is in ``permits.keys``, ``permits.verify`` and ``permits.issue``. Add
them to the main Typer app with :func:`register` (``register(app)`` in ``cli.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sikm_mailbot.cli.common import State, emit_json, fail, state
from sikm_mailbot.config import ConfigError, load_settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from sikm_mailbot.permits.keys import KeyStore, TrustList
    from sikm_mailbot.permits.verify import VerifyResult

_REGISTERED = "_sikm_permit_commands"

keys_app = typer.Typer(
    name="keys",
    help="The office's permit keys: make, rotate, list, export the trust list.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# ---- helpers -------------------------------------------------------------------


def _now(st: State) -> datetime:
    now = st.app.now()
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _store(st: State) -> KeyStore:
    from sikm_mailbot.permits.issue import open_key_store

    return open_key_store(st.settings)


def _initialised_store(st: State) -> KeyStore:
    store = _store(st)
    if not store.is_initialised():
        fail(2, f"no permit keys in {store.directory}: run `sikm keys init` first")
    return store


def _session(st: State) -> Session:
    from sqlmodel import Session

    return Session(st.app.engine, expire_on_commit=False)


def revocations(session: Session) -> list[dict[str, Any]]:
    """The revoked permits, as the trust list carries them."""
    from sqlmodel import select

    from sikm_mailbot.store.models import Permit

    rows = session.exec(
        select(Permit).where(Permit.revoked_at.is_not(None))  # type: ignore[union-attr]
    ).all()
    return [
        {
            "permit": p.number,
            "reason": p.revoke_reason,
            "revoked_at": p.revoked_at.isoformat() if p.revoked_at else None,
        }
        for p in rows
    ]


def _trust_from_store(st: State, now: datetime) -> TrustList:
    from sikm_mailbot.permits.keys import KeyStoreError

    store = _initialised_store(st)
    with _session(st) as session:
        revoked = revocations(session)
    try:
        return store.trust_list(revoked, now)
    except KeyStoreError as exc:
        env = st.settings.permits.passphrase_env
        fail(2, f"cannot load the permit keys: {exc} (passphrase from ${env})")


# ---- keys ------------------------------------------------------------------------


@keys_app.command("init")
def keys_init(
    ctx: typer.Context,
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="Office name (default: permits.issuer).")
    ] = None,
) -> None:
    """Make the first signing key (ECDSA P-256 + self-signed certificate) and checkpoint key."""
    from sikm_mailbot.permits.keys import KeyStoreError

    st = state(ctx)
    store = _store(st)
    if store.is_initialised():
        fail(1, f"permit keys already exist in {store.directory}; use `sikm keys rotate`")
    try:
        info = store.init(issuer or st.settings.permits.issuer, _now(st))
    except (KeyStoreError, OSError) as exc:
        fail(2, f"cannot create the permit keys: {exc}")
    typer.echo(f"signing key {info.kid_hex} (valid until {info.not_after:%Y-%m-%d})")
    typer.echo(f"checkpoint key {info.checkpoint_kid.hex() if info.checkpoint_kid else '?'}")
    typer.echo(f"in {store.directory}")
    if not store.passphrase:
        env = st.settings.permits.passphrase_env
        typer.echo(f"note: private keys are not passphrase-protected (set ${env})", err=True)


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    checkpoint: Annotated[
        bool,
        typer.Option(
            "--checkpoint/--signing", help="Rotate the checkpoint key (default: signing)."
        ),
    ] = False,
) -> None:
    """Add a new active key; the previous one is retired (still verifies, never signs)."""
    from sikm_mailbot.permits.keys import KeyStoreError

    st = state(ctx)
    store = _initialised_store(st)
    try:
        if checkpoint:
            kid = store.rotate_checkpoint(_now(st)).hex()
            typer.echo(f"new checkpoint key {kid}; export the trust list to checkpoint devices")
        else:
            info = store.rotate_signing(_now(st))
            typer.echo(f"new signing key {info.kid_hex}; export the trust list to devices")
    except (KeyStoreError, OSError) as exc:
        fail(2, f"cannot rotate: {exc}")


@keys_app.command("export")
def keys_export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Trust list to write (JSON).")],
) -> None:
    """Write the trust list for checkpoint devices (keys + revocations), mode 0600.

    It holds the checkpoint keys that open sealed QR codes: copy it only to
    checkpoint devices, never publish it.
    """
    from sikm_mailbot.permits.keys import KeyStoreError

    st = state(ctx)
    store = _initialised_store(st)
    now = _now(st)
    with _session(st) as session:
        revoked = revocations(session)
    try:
        store.export_trust_list(file, revoked, now)
    except (KeyStoreError, OSError) as exc:
        fail(2, f"cannot export the trust list: {exc}")
    typer.echo(f"trust list written to {file} ({len(revoked)} revoked permit(s))")
    typer.echo(
        "note: it holds the checkpoint keys that open sealed QR codes: "
        "copy it only to checkpoint devices",
        err=True,
    )


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The keys in the key store: kid, kind, status, validity."""
    from sikm_mailbot.permits.keys import KeyStoreError

    st = state(ctx)
    store = _initialised_store(st)
    try:
        records, issuer = store.records(), store.issuer()
    except KeyStoreError as exc:
        fail(2, str(exc))
    rows = [
        {k: v for k, v in r.as_dict().items() if k not in ("key_file", "cert_file")}
        for r in records
    ]
    if as_json:
        emit_json({"issuer": issuer, "directory": str(store.directory), "keys": rows})
        return
    typer.echo(f"{issuer} — {store.directory}")
    for r in rows:
        typer.echo(
            f"  {r['kid']}  {r['kind']:<10} {r['status']:<7} "
            f"{r['not_before'][:10]} .. {r['not_after'][:10]}"
        )


# ---- verify ----------------------------------------------------------------------


def _print_result(result: VerifyResult) -> None:
    d = result.as_dict()
    typer.echo(("VALID" if result.valid else "INVALID") + f" — {result.message}")
    if d["holder"]:
        typer.echo(f"  Permit / Nomor:    {d['permit_number']}")
        typer.echo(f"  Name / Nama:       {d['holder']['name']}")
        typer.echo(f"  NIK:               ************{d['holder']['nik_last4']}")
        typer.echo(f"  Route / Rute:      {d['route']['origin']} -> {d['route']['destination']}")
        typer.echo(f"  Valid / Berlaku:   {d['valid_from']} .. {d['valid_until']}")
        typer.echo(f"  Trip / Perjalanan: {d['trip_type']}, {d['category']}")
    typer.echo(f"  Read from:         {result.source} ({result.token_from or 'no code found'})")
    sig = result.pdf_signature
    if sig is not None:
        note = "" if result.signature_required else " (not required: scanned/unsigned PDF)"
        signer = f", {sig['signer']}" if sig.get("signer") else ""
        typer.echo(f"  PDF signature:     {sig['reason']}{signer}{note}")


def verify(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(metavar="FILE|TOKEN", help="Permit PDF, QR photo/screenshot, or SK1: code."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    trust_file: Annotated[
        Path | None,
        typer.Option("--trust", help="Exported trust list (checkpoint device; no database)."),
    ] = None,
    password: Annotated[
        str | None, typer.Option("--password", help="Password of an encrypted permit PDF.")
    ] = None,
) -> None:
    """Check a permit offline: exit 0 valid, 1 invalid (reason on stderr)."""
    from sikm_mailbot.permits.keys import TrustList, TrustListError
    from sikm_mailbot.permits.verify import VerifyInputError, verify_input

    st = state(ctx)
    if trust_file is not None:
        # A checkpoint device: no database, no key store. Skip wiring the App (its
        # store imports cost ~0.4 s) and read only the settings for the clock skew.
        try:
            settings = load_settings(st.config_path)
        except ConfigError as exc:
            fail(2, f"configuration error: {exc}")
        now = datetime.now(UTC)
        try:
            trust = TrustList.load(trust_file)
        except TrustListError as exc:
            fail(2, str(exc))
    else:
        settings, now = st.settings, _now(st)
        trust = _trust_from_store(st, now)
    skew = timedelta(seconds=settings.permits.clock_skew_seconds)
    try:
        result = verify_input(target, trust, now, None, skew, password=password)
    except VerifyInputError as exc:
        fail(2, str(exc))
    if as_json:
        emit_json(result.as_dict())
    else:
        _print_result(result)
    if not result.valid:
        fail(1, f"invalid permit ({result.reason}): {result.messages[0]}")


# ---- revoke ----------------------------------------------------------------------


def revoke(
    ctx: typer.Context,
    permit: Annotated[str, typer.Argument(metavar="PERMIT", help="Permit number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    officer: Annotated[str | None, typer.Option("--officer", help="Who revokes.")] = None,
) -> None:
    """Revoke a permit: verify refuses it from now on (export the trust list to devices)."""
    from sikm_mailbot.desk.decisions import officer_name
    from sikm_mailbot.store.audit import record_event
    from sikm_mailbot.store.models import Permit

    if not reason.strip():
        fail(2, "--reason must not be empty")
    st = state(ctx)
    who = officer_name(officer)
    now = _now(st)
    with _session(st) as session:
        row = session.get(Permit, permit.strip()) or session.get(Permit, permit.strip().upper())
        if row is None:
            fail(1, f"no permit {permit}")
        if row.revoked_at is not None:
            fail(1, f"permit {row.number} was already revoked by {row.revoked_by}")
        row.revoked_at, row.revoked_by, row.revoke_reason = now, who, reason.strip()
        session.add(row)
        record_event(
            session,
            row.application_id,
            "permit_revoked",
            at=now,
            actor=who,
            detail=reason.strip(),
            data={"permit": row.number},
        )
        session.commit()
        number = row.number
    typer.echo(f"permit {number} revoked; run `sikm keys export` for checkpoint devices")


# ---- registration ------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add `keys`, `verify` and `revoke` to ``app`` (a second call does nothing)."""
    if getattr(app, _REGISTERED, False):
        return
    app.add_typer(keys_app, name="keys")
    app.command("verify")(verify)
    app.command("revoke")(revoke)
    setattr(app, _REGISTERED, True)
