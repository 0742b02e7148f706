"""The permit commands of `sikm`: `keys init|rotate|export|list`, `verify`, `revoke`.

Thin: the work is in ``permits.keys``, ``permits.verify`` and
``permits.revocations``. Add them to the main Typer app with :func:`register`.
Library imports stay inside the commands: a checkpoint device running
`sikm verify --trust` never loads the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sikm_mailbot.cli.common import State, emit, emit_json, guarded, state
from sikm_mailbot.config import load_settings
from sikm_mailbot.domain.safe_text import visible
from sikm_mailbot.errors import PermitError, RefusedError, UsageError

if TYPE_CHECKING:
    from sikm_mailbot.permits.keys import KeyStore, TrustList

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
        raise UsageError(f"no permit keys in {store.directory}: run `sikm keys init` first")
    return store


@contextmanager
def _key_files(what: str, hint: str = "") -> Iterator[None]:
    """A key store or file-system failure while doing ``what``: a usage error (exit 2)."""
    from sikm_mailbot.permits.keys import KeyStoreError

    try:
        yield
    except (KeyStoreError, OSError) as exc:
        raise UsageError(f"{what}: {exc}{hint}") from exc


def _trust_from_store(st: State, now: datetime) -> TrustList:
    from sikm_mailbot.permits.revocations import list_revocations

    store = _initialised_store(st)
    revoked = list_revocations(st.app.engine)
    env = st.settings.permits.passphrase_env
    with _key_files("cannot load the permit keys", f" (passphrase from ${env})"):
        return store.trust_list(revoked, now)


# ---- keys ------------------------------------------------------------------------


@keys_app.command("init")
@guarded()
def keys_init(
    ctx: typer.Context,
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="Office name (default: permits.issuer).")
    ] = None,
) -> None:
    """Make the first signing key (ECDSA P-256 + self-signed certificate) and checkpoint key."""
    st = state(ctx)
    store = _store(st)
    if store.is_initialised():
        raise RefusedError(
            f"permit keys already exist in {store.directory}; use `sikm keys rotate`"
        )
    with _key_files("cannot create the permit keys"):
        info = store.init(issuer or st.settings.permits.issuer, _now(st))
    typer.echo(f"signing key {info.kid_hex} (valid until {info.not_after:%Y-%m-%d})")
    typer.echo(f"checkpoint key {info.checkpoint_kid.hex() if info.checkpoint_kid else '?'}")
    typer.echo(f"in {store.directory}")
    if not store.passphrase:
        env = st.settings.permits.passphrase_env
        typer.echo(f"note: private keys are not passphrase-protected (set ${env})", err=True)


@keys_app.command("rotate")
@guarded()
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
    st = state(ctx)
    store = _initialised_store(st)
    with _key_files("cannot rotate"):
        if checkpoint:
            kid = store.rotate_checkpoint(_now(st)).hex()
            typer.echo(f"new checkpoint key {kid}; export the trust list to checkpoint devices")
        else:
            info = store.rotate_signing(_now(st))
            typer.echo(f"new signing key {info.kid_hex}; export the trust list to devices")


@keys_app.command("export")
@guarded()
def keys_export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Trust list to write (JSON).")],
) -> None:
    """Write the trust list for checkpoint devices (keys + revocations), mode 0600.

    It holds the checkpoint keys that open sealed QR codes: copy it only to
    checkpoint devices, never publish it.
    """
    from sikm_mailbot.permits.revocations import list_revocations

    st = state(ctx)
    store = _initialised_store(st)
    revoked = list_revocations(st.app.engine)
    with _key_files("cannot export the trust list"):
        store.export_trust_list(file, revoked, _now(st), st.settings.permits.encrypt_qr)
    typer.echo(f"trust list written to {file} ({len(revoked)} revoked permit(s))")
    typer.echo(
        "note: it holds the checkpoint keys that open sealed QR codes: "
        "copy it only to checkpoint devices",
        err=True,
    )


@keys_app.command("list")
@guarded()
def keys_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The keys in the key store: kid, kind, status, validity."""
    store = _initialised_store(state(ctx))
    rows = [
        {k: v for k, v in r.as_dict().items() if k not in ("key_file", "cert_file")}
        for r in store.records()
    ]
    if as_json:
        emit_json({"issuer": store.issuer(), "directory": str(store.directory), "keys": rows})
        return
    typer.echo(f"{store.issuer()} — {store.directory}")
    for r in rows:
        typer.echo(
            f"  {r['kid']}  {r['kind']:<10} {r['status']:<7} "
            f"{r['not_before'][:10]} .. {r['not_after'][:10]}"
        )


# ---- verify ----------------------------------------------------------------------


def _line(label: str, value: object) -> None:
    """One ``label: value`` row; ``value`` may come from the file or token, so shown
    with its control and bidi characters made visible (plain echo: no markup)."""
    typer.echo(f"  {label:<19}{visible(str(value))}")


def print_verdict(doc: dict[str, Any]) -> None:
    """`sikm verify`: the verdict, who the permit is for, and what was verified."""
    verdict = "VALID" if doc["valid"] else "INVALID"
    typer.echo(visible(f"{verdict} — {doc['message_en']} / {doc['message_id']}"))
    if doc["holder"]:
        route = doc["route"]
        _line("Permit / Nomor:", doc["permit_number"])
        _line("Name / Nama:", doc["holder"]["name"])
        _line("NIK:", f"************{doc['holder']['nik_last4']}")
        _line("Route / Rute:", f"{route['origin']} -> {route['destination']}")
        _line("Valid / Berlaku:", f"{doc['valid_from']} .. {doc['valid_until']}")
        _line("Trip / Perjalanan:", f"{doc['trip_type']}, {doc['category']}")
    _line("Read from:", f"{doc['source']} ({doc['token_from'] or 'no code found'})")
    if doc.get("page_note_en"):
        _line("Page / Halaman:", f"{doc['page_note_en']} / {doc['page_note_id']}")
    sig = doc["pdf_signature"]
    if sig is not None:
        signer = f", {sig['signer']}" if sig.get("signer") else ""
        _line("PDF signature:", f"{sig['reason']}{signer}")


@guarded()
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
    """Check a permit offline: exit 0 valid, 1 invalid (reason on stderr).

    `page_verified` (JSON) is true only when the office signature covers the whole
    PDF; otherwise only the QR code's data (the name) is genuine, not the page.
    """
    from sikm_mailbot.permits.keys import TrustList
    from sikm_mailbot.permits.verify import sealing_required, verify_input

    st = state(ctx)
    if trust_file is not None:
        # A checkpoint device: no database, no key store. Skip wiring the App (its
        # store imports cost ~0.4 s) and read only the settings for the clock skew.
        settings, now = load_settings(st.config_path), datetime.now(UTC)
        trust = TrustList.load(trust_file)
        # Whether the office seals: the trust list says so; an older list does not.
        seals = settings.permits.encrypt_qr if trust.sealed is None else trust.sealed
    else:
        settings, now = st.settings, _now(st)
        trust = _trust_from_store(st, now)
        seals = settings.permits.encrypt_qr
    skew = timedelta(seconds=settings.permits.clock_skew_seconds)
    sealed = sealing_required(seals, trust)
    result = verify_input(target, trust, now, None, skew, password=password, require_sealed=sealed)
    emit(result.as_dict(), as_json, print_verdict)
    if not result.valid:
        raise PermitError(f"invalid permit ({result.reason}): {result.messages[0]}")


# ---- revoke ----------------------------------------------------------------------


@guarded()
def revoke(
    ctx: typer.Context,
    permit: Annotated[str, typer.Argument(metavar="PERMIT", help="Permit number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    officer: Annotated[str | None, typer.Option("--officer", help="Who revokes.")] = None,
) -> None:
    """Revoke a permit: verify refuses it from now on (export the trust list to devices)."""
    from sikm_mailbot.permits.revocations import revoke as revoke_permit

    st = state(ctx)
    number = revoke_permit(st.app.engine, permit, reason=reason, now=_now(st), officer=officer)
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
