"""Permit token: keys, COSE sign/seal, Base45, QR, and every refusal reason."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import stat
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cbor2
import pytest
import qrcode.util
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from sikm_mailbot.permits.base45 import ALPHABET, Base45Error, b45decode, b45encode
from sikm_mailbot.permits.keys import (
    KeyStore,
    KeyStoreError,
    TrustList,
    TrustListError,
)
from sikm_mailbot.permits.qr import decode_qr_image, make_qr_png, qr_modes, qr_version
from sikm_mailbot.permits.token import (
    PREFIX,
    PermitClaims,
    encrypt0,
    issue_token,
    sign1,
    to_text,
    verify_token,
)

NOW = datetime(2020, 5, 20, 3, 0, tzinfo=UTC)  # 10:00 WIB, Wednesday
DURING = datetime(2020, 5, 25, 5, 0, tzinfo=UTC)
CLAIMS = PermitClaims(
    permit_number="SIKM-2020-05-000123",
    name="Raden Ayu Kusumawardhani Setyaningrum Purbonegoro",
    nik_last4="7305",
    category="nonresident_in",
    trip_type="multiple",
    origin="Kabupaten Bandung Barat",
    destination="Jakarta Selatan",
    valid_from=date(2020, 5, 21),
    valid_until=date(2020, 6, 30),
)
PRIVATE_BITS = [b"Raden", b"Kusumawardhani", b"Setyaningrum", b"Purbonegoro", b"7305"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    ks = KeyStore(tmp_path_factory.mktemp("keys") / "store")
    ks.init("DPMPTSP DKI Jakarta", NOW)
    return ks


@pytest.fixture(scope="module")
def other_store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    ks = KeyStore(tmp_path_factory.mktemp("keys") / "other")
    ks.init("Somebody Else", NOW)
    return ks


@pytest.fixture(scope="module")
def trust(store: KeyStore) -> TrustList:
    return store.trust_list(now=NOW)


@pytest.fixture(scope="module")
def sealed(store: KeyStore) -> str:
    return issue_token(CLAIMS, store.active_signer(), store.active_checkpoint(), NOW)


@pytest.fixture(scope="module")
def signed_only(store: KeyStore) -> str:
    return issue_token(CLAIMS, store.active_signer(), None, NOW, encrypt=False)


def _stranger_view(token: str) -> list[bytes]:
    """Everything a stranger can get by Base45, zlib and CBOR decoding."""
    raw = b45decode(token[len(PREFIX) :])
    views = [token.encode(), raw]
    if raw[:1] == b"\x78":
        raw = zlib.decompress(raw)
        views.append(raw)
    views.append(repr(cbor2.loads(raw)).encode())
    return views


def _cose(token: str) -> bytes:
    raw = b45decode(token[len(PREFIX) :])
    return zlib.decompress(raw) if raw[:1] == b"\x78" else raw


# ---- round trip and privacy --------------------------------------------------


def test_sealed_round_trip_through_qr_png(store: KeyStore, trust: TrustList, sealed: str) -> None:
    assert sealed.startswith("SK1:")
    scanned = decode_qr_image(make_qr_png(sealed))
    assert scanned == sealed
    verdict = verify_token(scanned, trust, DURING)
    assert verdict.valid and verdict.reason_code == "ok"
    assert verdict.claims == CLAIMS
    assert verdict.sealed is True
    assert verdict.signer_kid == store.active_signer().kid.hex()
    assert verdict.issued_at == NOW
    json.dumps(verdict.as_dict())  # CLI --json ready


def test_stranger_reads_nothing_personal_from_sealed_token(sealed: str, signed_only: str) -> None:
    for view in _stranger_view(sealed):
        for bit in PRIVATE_BITS:
            assert bit not in view, bit
    # The same search does find them in a signed-only token, so the check can fail.
    joined = b"".join(_stranger_view(signed_only))
    assert all(bit in joined for bit in PRIVATE_BITS)


def test_signed_only_token_is_readable_and_verifies(trust: TrustList, signed_only: str) -> None:
    cwt = cbor2.loads(cbor2.loads(_cose(signed_only)).value[2])
    assert cwt[-65537][2] == CLAIMS.name
    verdict = verify_token(signed_only, trust, DURING)
    assert verdict.reason_code == "ok" and verdict.sealed is False
    assert verdict.claims == CLAIMS
    assert verify_token(signed_only, trust, DURING, require_sealed=True).reason_code == (
        "not_sealed"
    )


def test_exp_is_end_of_last_day_in_jakarta(trust: TrustList, sealed: str) -> None:
    last_second = datetime(2020, 6, 30, 23, 59, 59, tzinfo=UTC) - timedelta(hours=7)
    no_skew = timedelta(0)
    assert verify_token(sealed, trust, last_second, skew=no_skew).reason_code == "ok"
    after = last_second + timedelta(seconds=1)
    assert verify_token(sealed, trust, after, skew=no_skew).reason_code == "expired"
    first = datetime(2020, 5, 20, 17, 0, tzinfo=UTC)  # 21 May 00:00 WIB
    assert verify_token(sealed, trust, first, skew=no_skew).reason_code == "ok"
    early = first - timedelta(seconds=1)
    assert verify_token(sealed, trust, early, skew=no_skew).reason_code == "not_yet_valid"


def test_skew_tolerance(trust: TrustList, sealed: str) -> None:
    exp = datetime(2020, 6, 30, 16, 59, 59, tzinfo=UTC)
    assert verify_token(sealed, trust, exp + timedelta(minutes=4)).reason_code == "ok"
    assert verify_token(sealed, trust, exp + timedelta(minutes=6)).reason_code == "expired"
    nbf = datetime(2020, 5, 20, 17, 0, tzinfo=UTC)
    assert verify_token(sealed, trust, nbf - timedelta(minutes=4)).reason_code == "ok"
    assert verify_token(sealed, trust, nbf - timedelta(minutes=6)).reason_code == "not_yet_valid"


# ---- tampering ---------------------------------------------------------------


@pytest.mark.parametrize("which", ["sealed", "signed_only"])
def test_every_flipped_byte_is_refused(which: str, trust: TrustList, request) -> None:
    token = request.getfixturevalue(which)
    raw = _cose(token)  # flip inside the COSE structure (signed-only is zlib-packed)
    reasons = set()
    for pos in range(len(raw)):
        for mask in (0x01, 0x80):
            bad = bytearray(raw)
            bad[pos] ^= mask
            verdict = verify_token(to_text(bytes(bad)), trust, DURING)
            assert not verdict.valid, (pos, mask)
            assert verdict.claims is None or which == "signed_only"
            reasons.add(verdict.reason_code)
    assert "ok" not in reasons
    assert ("decrypt_failed" if which == "sealed" else "bad_signature") in reasons


def test_flipped_characters_are_refused(trust: TrustList, sealed: str) -> None:
    for pos in range(len(PREFIX), len(sealed)):
        ch = sealed[pos]
        swapped = ALPHABET[(ALPHABET.index(ch) + 1) % len(ALPHABET)]
        verdict = verify_token(sealed[:pos] + swapped + sealed[pos + 1 :], trust, DURING)
        assert not verdict.valid, pos


def _resign_with_header(store: KeyStore, token: str, header: dict, unprotected: dict) -> str:
    """Decrypt, swap the Sign1 headers keeping the signature, re-seal with the real key."""
    cp = store.active_checkpoint()
    enc = cbor2.loads(_cose(token))
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aad = cbor2.dumps(["Encrypt0", enc.value[0], b""])
    inner = cbor2.loads(AESGCM(cp.key).decrypt(enc.value[1][5], enc.value[2], aad))
    _, _, payload, signature = inner.value
    forged = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps(header), unprotected, payload, signature]))
    return to_text(encrypt0(forged, cp))


def test_alg_changed_in_protected_header(store: KeyStore, trust: TrustList, sealed: str) -> None:
    kid = store.active_signer().kid
    es384 = _resign_with_header(store, sealed, {1: -35, 4: kid}, {})
    assert verify_token(es384, trust, DURING).reason_code == "alg_not_allowed"
    # alg only in the UNPROTECTED header does not count
    moved = _resign_with_header(store, sealed, {4: kid}, {1: -7})
    assert verify_token(moved, trust, DURING).reason_code == "alg_not_allowed"
    # same header re-encoded: control, proves the helper itself keeps tokens valid
    same = _resign_with_header(store, sealed, {1: -7, 4: kid}, {})
    assert verify_token(same, trust, DURING).reason_code == "ok"


def test_encrypt0_alg_must_be_a256gcm(store: KeyStore, trust: TrustList, sealed: str) -> None:
    enc = cbor2.loads(_cose(sealed))
    forged = cbor2.CBORTag(16, [cbor2.dumps({1: 1}), dict(enc.value[1]), enc.value[2]])
    verdict = verify_token(to_text(cbor2.dumps(forged)), trust, DURING)
    assert verdict.reason_code == "alg_not_allowed"


# ---- keys --------------------------------------------------------------------


def test_other_office_signature(store: KeyStore, other_store: KeyStore, trust: TrustList) -> None:
    cp = store.active_checkpoint()
    theirs = issue_token(CLAIMS, other_store.active_signer(), cp, NOW)
    assert verify_token(theirs, trust, DURING).reason_code == "unknown_kid"
    # their key, but claiming our kid: the signature must fail
    ours_kid = store.active_signer().kid
    forger = (ours_kid, other_store.active_signer().private_key, None)
    payload = cbor2.loads(cbor2.loads(_cose(theirs_signed_only(other_store))).value[2])
    forged = to_text(encrypt0(sign1(cbor2.dumps(payload), forger), cp))
    assert verify_token(forged, trust, DURING).reason_code == "bad_signature"


def theirs_signed_only(other_store: KeyStore) -> str:
    return issue_token(CLAIMS, other_store.active_signer(), None, NOW, encrypt=False)


def test_checkpoint_key_reasons(
    store: KeyStore, other_store: KeyStore, trust: TrustList, sealed: str
) -> None:
    no_keys = dataclasses.replace(trust, checkpoint_keys={})
    assert verify_token(sealed, no_keys, DURING).reason_code == "no_checkpoint_key"
    wrong = dataclasses.replace(trust, checkpoint_keys=dict([other_store.active_checkpoint()]))
    assert verify_token(sealed, wrong, DURING).reason_code == "wrong_checkpoint_key"
    kid = store.active_checkpoint().kid
    same_kid_bad_key = dataclasses.replace(trust, checkpoint_keys={kid: b"\x00" * 32})
    assert verify_token(sealed, same_kid_bad_key, DURING).reason_code == "decrypt_failed"


def test_unknown_kid(trust: TrustList, sealed: str) -> None:
    assert verify_token(sealed, dataclasses.replace(trust, signers={}), DURING).reason_code == (
        "unknown_kid"
    )


def test_revoked(store: KeyStore, trust: TrustList, sealed: str) -> None:
    assert verify_token(sealed, trust, DURING, revoked={"SIKM-2020-05-000123"}).reason_code == (
        "revoked"
    )
    listed = store.trust_list(
        [{"permit": "SIKM-2020-05-000123", "reason": "guarantor withdrew", "revoked_at": "x"}]
    )
    verdict = verify_token(sealed, listed, DURING)
    assert verdict.reason_code == "revoked" and verdict.claims == CLAIMS
    assert verify_token(sealed, trust, DURING, revoked={"SIKM-OTHER"}).reason_code == "ok"


def test_rotation_keeps_old_tokens_valid(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "k")
    first = ks.init("DPMPTSP DKI Jakarta", NOW)
    old = issue_token(CLAIMS, ks.active_signer(), ks.active_checkpoint(), NOW)
    second = ks.rotate_signing(NOW + timedelta(days=1))
    new_cp = ks.rotate_checkpoint(NOW + timedelta(days=1))
    assert second.kid != first.kid and ks.active_signer().kid == second.kid
    assert ks.active_checkpoint().kid == new_cp != first.checkpoint_kid
    new = issue_token(CLAIMS, ks.active_signer(), ks.active_checkpoint(), NOW + timedelta(days=1))
    path = tmp_path / "trust.json"
    ks.export_trust_list(path, now=NOW)
    loaded = TrustList.load(path)
    assert verify_token(old, loaded, DURING).reason_code == "ok"
    new_verdict = verify_token(new, loaded, DURING)
    assert new_verdict.reason_code == "ok" and new_verdict.signer_kid == second.kid.hex()
    statuses = {r.kid: r.status for r in ks.records()}
    assert statuses[first.kid] == "retired" and statuses[second.kid] == "active"


def test_files_are_private_and_init_refuses_twice(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "k", passphrase=b"correct horse")
    ks.init("DPMPTSP DKI Jakarta", NOW)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o700
    secret_files = [p for p in (tmp_path / "k").iterdir() if not p.name.endswith(".crt.pem")]
    assert len(secret_files) == 3  # keys.json, signing key, checkpoint key
    for p in secret_files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    key_pem = next((tmp_path / "k").glob("signing-*.key.pem")).read_text()
    assert "ENCRYPTED PRIVATE KEY" in key_pem
    cp_file = next((tmp_path / "k").glob("checkpoint-*.json")).read_text()
    assert ks.active_checkpoint().key.hex() not in cp_file
    trust_path = tmp_path / "trust.json"
    ks.export_trust_list(trust_path)
    assert stat.S_IMODE(trust_path.stat().st_mode) == 0o600
    with pytest.raises(KeyStoreError, match="already initialised"):
        ks.init("DPMPTSP DKI Jakarta", NOW)
    with pytest.raises(KeyStoreError, match="passphrase"):
        KeyStore(tmp_path / "k", passphrase=b"wrong").active_signer()
    with pytest.raises(KeyStoreError, match="passphrase"):
        KeyStore(tmp_path / "k", passphrase=b"wrong").active_checkpoint()
    with pytest.raises(KeyStoreError, match="not initialised"):
        KeyStore(tmp_path / "nothing").active_signer()


def test_trust_list_file_tampering_is_detected(store: KeyStore, tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    store.export_trust_list(path)
    doc = json.loads(path.read_text())
    doc["checkpoint_keys"][0]["key_b64"] = "A" * 43 + "="
    path.write_text(json.dumps(doc))
    with pytest.raises(TrustListError):
        TrustList.load(path)
    path.write_text("not json")
    with pytest.raises(TrustListError):
        TrustList.load(path)


# ---- malformed input ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "bad_prefix"),
        ("HC1:ABC", "bad_prefix"),
        ("sk1:abc", "bad_prefix"),
        ("SK1:" + "A" * 5000, "too_large"),
        ("SK1:abc", "bad_base45"),
        ("SK1:A", "bad_base45"),
        ("SK1:GGW", "bad_base45"),  # 65536 overflows
        ("SK1:", "bad_cbor"),
        ("SK1:" + b45encode(b"\x78\x9c garbage"), "bad_zlib"),
        ("SK1:" + b45encode(zlib.compress(b"\x00" * 1_000_000)), "too_large"),
        ("SK1:" + b45encode(cbor2.dumps([1, 2, 3])), "bad_cbor"),
        ("SK1:" + b45encode(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b""]))), "bad_cbor"),
        ("SK1:" + b45encode(b"\x9f" * 500), "bad_cbor"),  # deep indefinite nesting
    ],
)
def test_malformed_tokens(trust: TrustList, text: str, reason: str) -> None:
    verdict = verify_token(text, trust, DURING)
    assert (verdict.valid, verdict.reason_code) == (False, reason)
    assert verdict.message_en and verdict.message_id


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_never_pass(data: bytes) -> None:
    trust = TrustList("x", NOW)
    for candidate in (data, b"\xd2" + data, b"\xd0" + data):
        verdict = verify_token(PREFIX + b45encode(candidate), trust, DURING)
        assert not verdict.valid


def test_issue_rejects_bad_claims(store: KeyStore) -> None:
    with pytest.raises(ValueError):
        issue_token(dataclasses.replace(CLAIMS, nik_last4="12345"), store.active_signer(), None,
                    NOW, encrypt=False)  # fmt: skip
    with pytest.raises(ValueError, match="checkpoint"):
        issue_token(CLAIMS, store.active_signer(), None, NOW)


# ---- Base45 and QR -----------------------------------------------------------


def test_base45_rfc9285_examples() -> None:
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45decode("QED8WEX0") == b"ietf!"
    for bad in ("GGW", "A", "abc", "BB8A"):
        with pytest.raises(Base45Error):
            b45decode(bad)


@given(st.binary(max_size=300))
def test_base45_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


def test_qr_is_alphanumeric_and_small(sealed: str, signed_only: str) -> None:
    assert qr_modes(sealed) == [qrcode.util.MODE_ALPHA_NUM]
    assert len(sealed) < 600
    assert qr_version(sealed) <= 18  # measured: 496 chars, version 17
    assert qr_version(signed_only) <= qr_version(sealed)
    with pytest.raises(ValueError):
        make_qr_png("sk1:lowercase")


def test_qr_decodes_from_a_phone_like_photo(sealed: str, tmp_path: Path) -> None:
    qr = Image.open(io.BytesIO(make_qr_png(sealed, box_size=6))).convert("L")
    canvas = Image.new("L", (qr.width + 400, qr.height + 300), 200)
    canvas.paste(qr, (180, 120))
    photo = canvas.resize((int(canvas.width * 1.7), int(canvas.height * 1.7)), Image.BILINEAR)
    photo = photo.rotate(4, resample=Image.BICUBIC, expand=True, fillcolor=190)
    photo = photo.filter(ImageFilter.GaussianBlur(1.6)).convert("RGB")
    path = tmp_path / "photo.jpg"
    photo.save(path, format="JPEG", quality=55)
    assert decode_qr_image(path) == sealed
    assert decode_qr_image(path.read_bytes()) == sealed


def test_qr_decode_of_junk_is_none(tmp_path: Path) -> None:
    assert decode_qr_image(b"not an image") is None
    assert decode_qr_image(tmp_path / "missing.png") is None
    blank = io.BytesIO()
    Image.new("RGB", (300, 300), "white").save(blank, format="PNG")
    assert decode_qr_image(blank.getvalue()) is None


# ---- committed test vectors ------------------------------------------------------


def _load_make_vectors():
    path = Path(__file__).parent / "make_vectors.py"
    spec = importlib.util.spec_from_file_location("sikm_make_vectors", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vectors_are_reproduced_and_verify() -> None:
    mv = _load_make_vectors()
    committed = json.loads(mv.VECTOR_PATH.read_text("utf-8"))
    assert committed == mv.build()  # byte-exact: CBOR, COSE and both SK1 strings
    trust = mv.vector_trust_list()
    clock = datetime.fromisoformat(committed["clock"]) + timedelta(days=2)
    for key in ("token_sealed", "token_signed_only"):
        verdict = verify_token(committed[key], trust, clock)
        assert verdict.reason_code == "ok", key
        assert verdict.claims.as_dict() == committed["claims"]
    assert bytes.fromhex(committed["cose_sign1_hex"]) == _cose(committed["token_signed_only"])
