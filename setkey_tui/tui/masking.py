"""Keys stay masked (``••••``) until the user reveals them for one entry: masking of every text form."""

from __future__ import annotations

from typing import Literal

from setkey_tui.pfkey.constants import ExtType
from setkey_tui.pfkey.extensions import KeyExt
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import Platform

DOT = "•"


def message_keys(msg: Message) -> list[bytes]:
    """The key material an SA message carries (auth and encryption keys)."""
    return [e.key for e in msg.extensions if isinstance(e, KeyExt) and e.key]


def mask_hex_text(text: str, keys: list[bytes]) -> str:
    """Replace the hex digits of every key found in ``text`` by ``•``; blanks and line breaks may sit between
    the digits (setkey prints keys in groups of 8 digits, 32 bytes a line)."""
    lowered = text.lower()
    # setkey prints keys in groups of 8 digits: a key whose first group is absent is not in the text
    keys = [k for k in keys if k and k.hex()[:8] in lowered]
    if not keys:
        return text
    pos = [i for i, c in enumerate(text) if c not in " \t\n"]
    squeezed = "".join([text[i] for i in pos]).lower()
    chars: list[str] | None = None
    for key in keys:
        digits = key.hex()
        start = squeezed.find(digits)
        while start >= 0:
            if chars is None:
                chars = list(text)
            for j in range(start, start + len(digits)):
                chars[pos[j]] = DOT
            start = squeezed.find(digits, start + len(digits))
    return text if chars is None else "".join(chars)


def key_byte_ranges(raw: bytes, platform: Platform) -> list[range]:
    """Byte ranges of key material inside a wire message (walks the extension headers)."""
    order: Literal["little", "big"] = "little" if platform.byteorder == "<" else "big"
    out: list[range] = []
    off = 16
    while off + 8 <= len(raw):
        elen = int.from_bytes(raw[off : off + 2], order) * 8
        etype = int.from_bytes(raw[off + 2 : off + 4], order)
        if elen <= 0:
            break
        if etype in (ExtType.KEY_AUTH, ExtType.KEY_ENCRYPT):
            bits = int.from_bytes(raw[off + 4 : off + 6], order)
            out.append(range(off + 8, min(off + 8 + (bits + 7) // 8, off + elen)))
        off += elen
    return out


def mask_hexdump(dump: str, ranges: list[range]) -> str:
    """Mask key bytes in a ``-h`` hex dump (``%08x: `` then ``%02x `` per byte)."""
    if not ranges:
        return dump
    lines = dump.split("\n")
    for n, line in enumerate(lines):
        if len(line) < 10 or line[8:10] != ": ":
            continue
        try:
            base = int(line[:8], 16)
        except ValueError:
            continue
        chars = list(line)
        for i in range(16):
            pos = 10 + 3 * i
            if pos + 2 > len(chars):
                break
            if any(base + i in r for r in ranges):
                chars[pos : pos + 2] = [DOT, DOT]
        lines[n] = "".join(chars)
    return "\n".join(lines)
