"""setkey's two hex layouts: the -h/-H dump of whole messages and ``ipsec_hexdump`` for keys and addresses."""

from __future__ import annotations


def hexdump(data: bytes) -> str:
    """The -h/-H layout: ``%08x: `` offset, ``%02x `` per byte, 16 bytes a line (trailing blank kept)."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        lines.append(f"{off:08x}: " + "".join(f"{b:02x} " for b in chunk) + "\n")
    return "".join(lines)


def key_hex(data: bytes) -> str:
    """``ipsec_hexdump``: a blank before every 4 bytes, a newline before every 32 (``' 00112233 44556677'``)."""
    if len(data) <= 32:
        return " " + data.hex(" ", -4) if data else ""
    return "\n".join(" " + data[i : i + 32].hex(" ", -4) for i in range(0, len(data), 32))
