"""Base45 (RFC 9285): bytes as text from the QR code alphanumeric character set.

Every two bytes become three characters (one trailing byte becomes two), and all
45 characters are in the QR alphanumeric mode, which packs 11 bits per two
characters; this is why the EU Digital COVID Certificate and our permits use it.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """The text is not valid Base45."""


def b45encode(data: bytes) -> str:
    """Encode ``data`` as Base45 text."""
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(ALPHABET[c] + ALPHABET[d] + ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(ALPHABET[c] + ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 ``text``; raise :class:`Base45Error` on any invalid input.

    Rejected: characters outside the alphabet (lower case included), a length
    of 3k+1, and groups whose value overflows (> 65535, or > 255 for a final pair).
    """
    if len(text) % 3 == 1:
        raise Base45Error("Base45 text length must not be 3k+1")
    try:
        values = [_VALUE[ch] for ch in text]
    except KeyError as exc:
        raise Base45Error(f"character {exc.args[0]!r} is not in the Base45 alphabet") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        if len(group) == 3:
            n = group[0] + group[1] * 45 + group[2] * 2025
            if n > 0xFFFF:
                raise Base45Error("Base45 triple out of range")
            out += n.to_bytes(2, "big")
        else:
            n = group[0] + group[1] * 45
            if n > 0xFF:
                raise Base45Error("Base45 final pair out of range")
            out.append(n)
    return bytes(out)
