"""Hostile mail for the drills: byte mutations, hypothesis strategies, bad PDFs and images.

Everything is generated here from seeds; nothing is downloaded. The hostile files
are small on disk and large (or endless) once a parser believes them.
"""

from __future__ import annotations

import base64
import io
import random
import re
import zlib
from collections.abc import Callable
from functools import cache

from hypothesis import strategies as st

# --------------------------------------------------------------------------- hostile files


def _pdf(
    objects: list[bytes], *, root: int = 1, xref: bool = True, trailer_extra: bytes = b""
) -> bytes:
    """A PDF from numbered object bodies (1-based), with a correct xref unless told not to."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    start = len(out)
    if xref:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\n" % (len(objects) + 1, root, trailer_extra)
    out += b"startxref\n%d\n%%%%EOF\n" % (start if xref else 999999)
    return bytes(out)


def _page_pdf(content: bytes, *, filter_: bytes = b"") -> bytes:
    stream = b"<< /Length %d %s>>\nstream\n" % (len(content), filter_) + content + b"\nendstream"
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            stream,
        ]
    )


def bomb_pdf(megabytes: int = 300) -> bytes:
    """A page whose FlateDecode content inflates to ``megabytes`` MB of spaces."""
    z = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    data = b"".join(z.compress(chunk) for _ in range(megabytes)) + z.flush()
    return _page_pdf(data, filter_=b"/Filter /FlateDecode ")


def recursive_pdf() -> bytes:
    """Pages, fields and parents that refer to themselves and to each other."""
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 /Parent 2 0 R >>",
            b"<< /Type /Page /Parent 3 0 R /Kids [3 0 R] /Contents 3 0 R /Resources 3 0 R >>",
            b"<< /A 4 0 R /B [4 0 R 4 0 R] >>",
            b"<< /FT /Tx /T (nama) /Kids [5 0 R 6 0 R] /Parent 6 0 R >>",
            b"<< /FT /Tx /T (nik) /Kids [5 0 R] /Parent 5 0 R /V 6 0 R >>",
        ]
    )


def deep_array_pdf(depth: int = 200_000) -> bytes:
    """An object nested ``depth`` arrays deep (parsers that recurse run out of stack)."""
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Deep 3 0 R >>",
            b"<< /Type /Pages /Kids [] /Count 0 >>",
            b"[" * depth + b"]" * depth,
        ]
    )


def bad_xref_pdf() -> bytes:
    """A plain one-page PDF whose xref table and startxref point into nowhere."""
    good = _page_pdf(b"BT /F1 12 Tf 72 712 Td (Formulir SIKM) Tj ET")
    good = re.sub(rb"\d{10} 00000 n", b"9999999999 00000 n", good)
    return re.sub(rb"startxref\n\d+", b"startxref\n123456789", good)


def no_xref_pdf() -> bytes:
    """Objects and a trailer but no xref at all, and garbage after %%EOF."""
    return _page_pdf(b"0 0 m 10 10 l S").replace(b"xref\n", b"xrex\n") + b"\x00" * 1000


def operator_flood_pdf(ops: int = 400_000) -> bytes:
    """A page with ``ops`` tiny line segments (slow for layout analysis)."""
    content = b"".join(
        b"%d %d m %d %d l S\n" % (i % 500, i % 700, i % 500 + 1, i % 700) for i in range(ops)
    )
    return _page_pdf(zlib.compress(content, 9), filter_=b"/Filter /FlateDecode ")


def slow_pdf(variant: int = 0, megabytes: int = 40) -> bytes:
    """A ~80 KB page whose content inflates to ``megabytes`` MB of line segments.

    About two seconds of parsing each; ``variant`` makes the bytes (and sha256) differ.
    """
    z = zlib.compressobj(9)
    chunk = b"0 0 m 1 1 l S\n" * (1 << 16)
    parts = [z.compress(b"%% variant %d\n" % variant)]
    parts += [z.compress(chunk) for _ in range(megabytes * (1 << 20) // len(chunk))]
    return _page_pdf(b"".join(parts) + z.flush(), filter_=b"/Filter /FlateDecode ")


def encrypted_pdf() -> bytes:
    """A real one-page PDF encrypted with an unknown user password (AES-256)."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    buf = io.BytesIO()
    pdf.save(buf, encryption=pikepdf.Encryption(user="rahasia", owner="lebih-rahasia", R=6))
    return buf.getvalue()


def png_header_bomb(side: int = 100_000) -> bytes:
    """A PNG whose header claims ``side`` x ``side`` pixels with a few bytes of data."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


def png_pixel_bomb(side: int = 12_000) -> bytes:
    """A real 1-bit PNG of ``side`` x ``side`` white pixels (small file, 144 MP image)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (side, side), 1).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def jpeg_bad(side: int = 800) -> bytes:
    """A JPEG cut in the middle of its scan, with its SOF claiming 65000 x 65000 pixels."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (side, side), (200, 10, 10)).save(buf, format="JPEG")
    data = buf.getvalue()
    sof = data.find(b"\xff\xc0")
    data = data[: sof + 5] + b"\xfd\xe8\xfd\xe8" + data[sof + 9 :]
    return data[: len(data) // 2]


def png_bad_crc() -> bytes:
    """A small real PNG with every CRC wrong."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 400), (1, 2, 3)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[29:33] = b"\x00\x00\x00\x00"
    return bytes(data)


def webp_liar() -> bytes:
    """A RIFF/WEBP header whose chunk sizes lie."""
    return b"RIFF\xff\xff\xff\x7fWEBPVP8 \xff\xff\xff\x7f" + b"\x9d\x01\x2a" + b"\xff" * 64


@cache
def hostile_files() -> dict[str, tuple[str, bytes]]:
    """name → (content type, bytes) of every hostile file (built once)."""
    return {
        "bomb.pdf": ("application/pdf", bomb_pdf()),
        "recursive.pdf": ("application/pdf", recursive_pdf()),
        "deep.pdf": ("application/pdf", deep_array_pdf()),
        "bad-xref.pdf": ("application/pdf", bad_xref_pdf()),
        "no-xref.pdf": ("application/pdf", no_xref_pdf()),
        "flood.pdf": ("application/pdf", operator_flood_pdf()),
        "encrypted.pdf": ("application/pdf", encrypted_pdf()),
        "header-bomb.png": ("image/png", png_header_bomb()),
        "pixel-bomb.png": ("image/png", png_pixel_bomb()),
        "bad.jpg": ("image/jpeg", jpeg_bad()),
        "bad-crc.png": ("image/png", png_bad_crc()),
        "liar.webp": ("image/webp", webp_liar()),
    }


# --------------------------------------------------------------------------- byte mutations

_B64_RUN = re.compile(rb"((?:[A-Za-z0-9+/=]{40,}\r?\n){4})(?:[A-Za-z0-9+/=]{40,}\r?\n)+")
_BOUNDARY = re.compile(rb'boundary="?([^";\r\n]+)"?', re.IGNORECASE)
_CHARSET = re.compile(rb'charset="?([^";\r\n\s]*)"?', re.IGNORECASE)
_CTE = re.compile(rb"(?im)^Content-Transfer-Encoding:[^\r\n]*")
BAD_CHARSETS = [
    b"x-unknown",
    b"utf-7",
    b"utf-16",
    b"iso-2022-jp",
    b"",
    b"../../etc/passwd",
    b"utf-8\x00",
    b"\xff\xfe",
    b"cp1252;;",
    b"unicode-1-1-utf-7",
]
BAD_CTES = [
    b"base64",
    b"quoted-printable",
    b"x-uuencode",
    b"8bit",
    b"binary",
    b"base-64",
    b"\x00",
    b"7bit 8bit",
]


def shrink(raw: bytes, keep_magic: bool = False) -> bytes:
    """The same MIME shape with tiny attachments (cheap to read).

    ``keep_magic``: cut each long base64 run to its first 4 lines, so PDFs and
    photos still look like PDFs and photos (and go to the sandbox, broken); else
    replace the run with 24 bytes of text.
    """
    if keep_magic:
        return _B64_RUN.sub(rb"\1", raw)
    return _B64_RUN.sub(b"U2lzYSBsYW1waXJhbiBkaXBvdG9uZy4K\n", raw)


def _truncate(raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randint(0, len(raw))]


def _wrong_boundary(raw: bytes, rng: random.Random) -> bytes:
    found = _BOUNDARY.findall(raw[:200_000])
    if not found:
        return raw + b"\n--nowhere--\n"
    b = rng.choice(found)
    choice = rng.randrange(4)
    if choice == 0:  # the header names another boundary
        return raw.replace(b"boundary=", b"boundary=x", 1)
    if choice == 1:  # the closing delimiter is missing
        return raw.replace(b"--" + b + b"--", b"", 1)
    if choice == 2:  # an inner part reuses the outer boundary
        return raw.replace(b"--" + b, b"--" + found[0], rng.randint(1, 5))
    return raw.replace(b"boundary=", b'boundary=""; x=', 1)


def _bad_charset(raw: bytes, rng: random.Random) -> bytes:
    bad = rng.choice(BAD_CHARSETS)
    if _CHARSET.search(raw):
        return _CHARSET.sub(b'charset="' + bad + b'"', raw, count=rng.randint(1, 3))
    return raw.replace(
        b"Content-Type: text/plain", b'Content-Type: text/plain; charset="' + bad + b'"', 1
    )


def _bad_encoding(raw: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return _CTE.sub(
            b"Content-Transfer-Encoding: " + rng.choice(BAD_CTES), raw, count=rng.randint(1, 4)
        )
    # broken base64: stray characters, lost padding, a line cut in half
    lines = raw.split(b"\n")
    for _ in range(rng.randint(1, 20)):
        i = rng.randrange(len(lines))
        if len(lines[i]) >= 40:
            cut = rng.randrange(len(lines[i]))
            lines[i] = (
                lines[i][:cut]
                + rng.choice([b"!", b"=", b"==", b"\x00", b"*", b""])
                + lines[i][cut + 1 :]
            )
    return b"\n".join(lines)


def _deep_nesting(raw: bytes, rng: random.Random) -> bytes:
    depth = rng.choice([10, 50, 100, 200, 500, 1000])  # 1000 levels: about 0.3 s
    kind = rng.choice(["multipart", "rfc822"])
    head = b"From: nest@example.com\nSubject: nested\nMIME-Version: 1.0\n"
    if kind == "rfc822":
        wrap = b"Content-Type: message/rfc822\n\n"
        return head + wrap * depth + raw
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth)
    )
    closing = b"".join(b"\n--b%d--\n" % i for i in reversed(range(depth)))
    return head + opening + raw + closing


def _huge_header(raw: bytes, rng: random.Random) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:
        extra = b"X-Huge: " + b"A" * rng.choice([10_000, 100_000, 1_000_000]) + b"\n"
    elif choice == 1:
        extra = b"".join(b"X-Many-%d: v\n" % i for i in range(rng.choice([1000, 5_000])))
    elif choice == 2:
        extra = b"Subject: " + b"\n ".join([b"=?utf-8?b?QUFB?="] * rng.choice([500, 2000])) + b"\n"
    else:
        extra = (
            b"To: "
            + b", ".join(b"r%d@example.com" % i for i in range(rng.choice([100, 10_000])))
            + b"\n"
        )
    return extra + raw


def _nul_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 50)):
        data.insert(rng.randint(0, len(data)), 0)
    if rng.random() < 0.3:
        data[: min(len(data), 200)] = data[: min(len(data), 200)].replace(b":", b"\x00:")
    return bytes(data)


def _flip(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 64)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _line_endings(raw: bytes, rng: random.Random) -> bytes:
    return rng.choice(
        [
            raw.replace(b"\n", b"\r"),
            raw.replace(b"\n", b"\r\r\n"),
            raw.replace(b"\r\n", b"\n").replace(b"\n", b"\n\r"),
        ]
    )


def _dup_headers(raw: bytes, rng: random.Random) -> bytes:
    dup = (
        b"From: a@example.com\nFrom: <>\nMessage-ID: <x@y>\n"
        b"Content-Type: multipart/mixed\nContent-Type: text/html\n"
    )
    return dup + raw


def _encoded_words(raw: bytes, rng: random.Random) -> bytes:
    junk = rng.choice(
        [
            b"=?utf-8?q?=FF=FE?=",
            b"=?x-bad?b?!!!?=",
            b"=?utf-8?b?" + base64.b64encode(bytes(rng.randrange(256) for _ in range(30))) + b"?=",
            b"=?iso-8859-1?q?a=?=",
            b"=??=",
        ]
    )
    raw = re.sub(rb"(?im)^Subject:", b"Subject: " + junk, raw, count=1)
    return re.sub(rb'filename="', b'filename="' + junk, raw, count=2)


def _splice(raw: bytes, rng: random.Random, other: bytes) -> bytes:
    a, b = sorted(rng.randrange(len(other) + 1) for _ in range(2))
    at = rng.randint(0, len(raw))
    return raw[:at] + other[a : min(b, a + 50_000)] + raw[at:]


MUTATORS: list[Callable[[bytes, random.Random], bytes]] = [
    _truncate,
    _wrong_boundary,
    _bad_charset,
    _bad_encoding,
    _deep_nesting,
    _huge_header,
    _nul_bytes,
    _flip,
    _line_endings,
    _dup_headers,
    _encoded_words,
]


# Deep nesting and huge headers cost the stdlib parser up to a second each: fewer of them.
WEIGHTS = [1.0 if op not in (_deep_nesting, _huge_header) else 0.4 for op in MUTATORS]


def mutate(raw: bytes, rng: random.Random, pool: list[bytes]) -> tuple[bytes, str]:
    """One to three random mutations of ``raw``; returns the bytes and their names."""
    names = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        if rng.random() < 0.08:
            raw, name = _splice(raw, rng, rng.choice(pool)), "splice"
        else:
            op = rng.choices(MUTATORS, WEIGHTS)[0]
            raw, name = op(raw, rng), op.__name__.strip("_")
        names.append(name)
    return raw, "+".join(names)


# --------------------------------------------------------------------------- hypothesis

_header_name = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Reply-To",
        "Return-Path",
        "Date",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "MIME-Version",
        "Auto-Submitted",
        "Precedence",
        "List-Id",
        "X-Loop",
        "Authentication-Results",
    ]
) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
_value = st.one_of(
    st.text(max_size=120),
    st.sampled_from(
        [
            "",
            "<>",
            "auto-replied",
            "bulk",
            "multipart/report; report-type=delivery-status",
            "Permohonan SIKM",
            "STATUS SIKM-2020-000001",
            "FORMULIR",
            "Re: [SIKM-2020-000001]",
            "=?utf-8?b?U0lLTQ==?=",
            "=?bogus?q?x?=",
            "warga@example.com",
            "a@b@c",
            '"x" <>',
        ]
    ),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)
_ctype = st.sampled_from(
    [
        "text/plain",
        "text/html",
        "application/pdf",
        "image/jpeg",
        "image/png",
        "application/octet-stream",
        "message/rfc822",
        "message/delivery-status",
        "text/rfc822-headers",
        "application/zip",
        "x/y",
        "",
    ]
)
_charset = st.sampled_from(
    ["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "utf-16", "x-bogus", "", "utf-7"]
)
_cte = st.sampled_from(
    ["", "7bit", "8bit", "base64", "quoted-printable", "binary", "x-uue", "BASE64"]
)
_payload = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"Nama Lengkap: Budi\nNIK: 3171010101900001\nKategori Pemohon: resident_out\n",
            b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<</Root 1 0 R>>",
            b"\xff\xd8\xff\xe0" + b"0" * 200,
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
            b"PK\x03\x04" + b"\x00" * 40,
            b"SETUJU",
            b"TOLAK",
        ]
    ),
)


def _headers(draw: st.DrawFn) -> bytes:
    pairs = draw(st.lists(st.tuples(_header_name, _value), max_size=12))
    out = b""
    for name, value in pairs:
        out += (
            name.encode("utf-8", "surrogatepass")
            + b": "
            + value.encode("utf-8", "surrogatepass")
            + draw(st.sampled_from([b"\r\n", b"\n"]))
        )
    return out


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0) -> bytes:
    """One MIME entity: headers (some hostile) and a leaf payload or nested parts."""
    ctype = draw(_ctype)
    head = _headers(draw)
    multipart = depth < 6 and draw(st.integers(0, 3)) == 0
    if multipart:
        boundary = draw(
            st.sampled_from(["b", "", "a b", "--", "x" * 80, "same"]) | st.text(max_size=10)
        )
        kids = draw(st.lists(mime_part(depth + 1), max_size=4))
        sub = draw(st.sampled_from(["mixed", "alternative", "report", "related"]))
        head += f'Content-Type: multipart/{sub}; boundary="{boundary}"\r\n'.encode(
            "utf-8", "surrogatepass"
        )
        closing = draw(st.booleans())
        body = b"".join(
            b"--" + boundary.encode("utf-8", "surrogatepass") + b"\r\n" + k + b"\r\n" for k in kids
        )
        if closing:
            body += b"--" + boundary.encode("utf-8", "surrogatepass") + b"--\r\n"
        return head + b"\r\n" + body
    if ctype:
        name = draw(st.text(max_size=20))
        line = f'Content-Type: {ctype}; charset={draw(_charset)}; name="{name}"\r\n'
        head += line.encode("utf-8", "surrogatepass")
    cte = draw(_cte)
    payload = draw(_payload)
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\r\n".encode()
        if cte.lower() == "base64" and draw(st.booleans()):
            payload = base64.encodebytes(payload)
    if draw(st.integers(0, 9)) == 0:
        head += b"Content-Disposition: attachment; filename*=utf-8''%FF%FE%00.pdf\r\n"
    return head + b"\r\n" + payload


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A whole message: a From line most of the time, then one MIME entity."""
    top = b""
    if draw(st.integers(0, 4)):
        top += (
            b"From: "
            + draw(
                st.sampled_from([b"warga@example.com", b"MAILER-DAEMON@example.net", b"<>", b"x"])
            )
            + b"\r\n"
        )
    return top + draw(mime_part())
