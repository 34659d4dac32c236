"""The fast path of ``setkey -f``: the commonest statement shape compiled straight to bytes.

A script of 100k ``add SRC DST esp SPI -E ALG 0xKEY [-A ALG 0xKEY];`` lines spends most of its time scanning,
parsing, compiling and encoding statements that differ only in their SPI, addresses and keys. For such a
statement (:data:`ADD`: numeric IPv4 addresses, no options, hexadecimal keys, blanks and newlines only), the
first one of each shape (protocol, algorithms, key lengths) goes the general way, and its message becomes the
shape's template: the fields are found in it and, from then on, patched in. Anything else — another form, a
comment, an SPI in the reserved range, a statement the general path warned about or refused — takes the
general path, so every diagnostic stays the general path's. tests/lang/test_fastpath.py checks that the
bytes are the general encoder's for generated statements.
"""

from __future__ import annotations

import re
import socket
import struct

from setkey_tui.pfkey.constants import ExtType
from setkey_tui.pfkey.platform import Platform

_B = r"[ \t\n]"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_KEY = r"0x((?:[0-9a-fA-F]{2})+)"
ADD = re.compile(
    rf"{_B}*add{_B}+({_IPV4}){_B}+({_IPV4}){_B}+(esp|ah){_B}+(0x[0-9a-fA-F]{{1,8}}|[1-9][0-9]{{0,9}})"
    rf"(?:{_B}+-E{_B}+([a-z0-9][a-z0-9-]*){_B}+{_KEY})?(?:{_B}+-A{_B}+([a-z0-9][a-z0-9-]*){_B}+{_KEY})?{_B}*;"
)
"""An ``add`` the fast path may take: groups src, dst, protocol, SPI, enc alg, enc key, auth alg, auth key."""

Shape = tuple[str, str | None, int, str | None, int]


class _Template:
    """A shape's message and where its fields are in it."""

    __slots__ = ("data", "spi", "src", "dst", "ekey", "akey")

    def __init__(self, data: bytes, spi: int, src: int, dst: int, ekey: int, akey: int) -> None:
        self.data, self.spi, self.src, self.dst, self.ekey, self.akey = data, spi, src, dst, ekey, akey


class FastAdd:
    """The templates of one script run (one platform, pid and kernel algorithm table)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._templates: dict[Shape, _Template] = {}
        self._canon = platform.ext_from_wire
        self._ext_header = struct.Struct(platform.byteorder + "HH").unpack_from
        self._u16 = struct.Struct(platform.byteorder + "H").unpack_from

    @staticmethod
    def shape(m: re.Match[str]) -> Shape:
        """What the template depends on: the protocol, the algorithms and the key lengths."""
        return (m[3], m[5], len(m[6] or ""), m[7], len(m[8] or ""))

    @staticmethod
    def spi(m: re.Match[str]) -> int | None:
        """The statement's SPI when the fast path may send it (not in the reserved range 0-255, whose
        ``add`` gets a warning, and within 32 bits), else None."""
        spi = int(m[4], 0)
        return spi if 255 < spi <= 0xFFFFFFFF else None

    def message(self, m: re.Match[str]) -> bytes | None:
        """The statement's message, or None when its shape has no template yet (or its SPI is refused)."""
        t = self._templates.get((m[3], m[5], len(m[6] or ""), m[7], len(m[8] or "")))
        if t is None:
            return None
        spi = int(m[4], 0)
        if not 255 < spi <= 0xFFFFFFFF:
            return None
        buf = bytearray(t.data)
        buf[t.spi : t.spi + 4] = spi.to_bytes(4, "big")
        buf[t.src : t.src + 4] = socket.inet_aton(m[1])
        buf[t.dst : t.dst + 4] = socket.inet_aton(m[2])
        if m[6]:
            key = bytes.fromhex(m[6])
            buf[t.ekey : t.ekey + len(key)] = key
        if m[8]:
            key = bytes.fromhex(m[8])
            buf[t.akey : t.akey + len(key)] = key
        return bytes(buf)

    def learn(self, m: re.Match[str], wire: list[bytes]) -> bool:
        """Make the template of ``m``'s shape from the messages the general path made for it (one ADD with
        one SA, two IPv4 addresses and the keys, each field found where it must be); False when they do not
        fit."""
        if len(wire) != 1 or self.spi(m) is None:
            return False
        data = wire[0]
        found: dict[int, int] = {}
        off, n = 16, len(data)
        while off + 4 <= n:
            elen, etype = self._ext_header(data, off)
            if elen == 0:
                return False
            canon = self._canon.get(etype)
            if canon is None or canon in found:
                return False
            found[canon] = off
            off += elen * 8
        if off != n or ExtType.SA not in found:
            return False
        spi = found[ExtType.SA] + 4
        src = found.get(ExtType.ADDRESS_SRC, -1) + 12
        dst = found.get(ExtType.ADDRESS_DST, -1) + 12
        ekey = found.get(ExtType.KEY_ENCRYPT, -9) + 8
        akey = found.get(ExtType.KEY_AUTH, -9) + 8
        checks = [(spi, int(m[4], 0).to_bytes(4, "big")), (src, socket.inet_aton(m[1])),
                  (dst, socket.inet_aton(m[2]))]
        for at, text in ((ekey, m[6]), (akey, m[8])):
            if (at >= 0) != bool(text):
                return False
            if text:
                key = bytes.fromhex(text)
                if self._u16(data, at - 4)[0] != len(key) * 8 or at + len(key) > n:
                    return False
                checks.append((at, key))
        if any(at < 16 or data[at : at + len(value)] != value for at, value in checks):
            return False
        self._templates[self.shape(m)] = _Template(data, spi, src, dst, ekey, akey)
        return True


SPDADD = re.compile(
    rf"{_B}*spdadd{_B}+({_IPV4}){_B}+({_IPV4}){_B}+any{_B}+-P{_B}+(in|out|fwd)"
    rf"{_B}+(none|discard|ipsec(?:[ ]+[a-z0-9][a-z0-9.:/\-]*)+)[ ]*;"
)
"""An ``spdadd`` the fast path may take: groups src, dst, direction, policy text (single blanks inside)."""


class FastSpdAdd:
    """The ``spdadd`` templates of one script run: each shape's messages (one, or two with the ``fwd`` copy)
    with the source and destination found in each, and the priority setkey remembers for the shape."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._templates: dict[tuple[str, str], tuple[list[tuple[bytes, int, int]], int]] = {}
        self._canon = platform.ext_from_wire
        self._ext_header = struct.Struct(platform.byteorder + "HH").unpack_from

    def messages(self, m: re.Match[str]) -> tuple[list[bytes], int] | None:
        """The statement's messages and the policy's priority, or None when its shape has no template."""
        t = self._templates.get((m[3], m[4]))
        if t is None:
            return None
        src, dst = socket.inet_aton(m[1]), socket.inet_aton(m[2])
        out = []
        for data, at_src, at_dst in t[0]:
            buf = bytearray(data)
            buf[at_src : at_src + 4] = src
            buf[at_dst : at_dst + 4] = dst
            out.append(bytes(buf))
        return out, t[1]

    def learn(self, m: re.Match[str], wire: list[bytes], priority: int) -> bool:
        """Make the template of ``m``'s shape from the general path's messages (each with the statement's
        two IPv4 addresses found where they must be); False when they do not fit."""
        src, dst = socket.inet_aton(m[1]), socket.inet_aton(m[2])
        parts = []
        for data in wire:
            found: dict[int, int] = {}
            off, n = 16, len(data)
            while off + 4 <= n:
                elen, etype = self._ext_header(data, off)
                canon = self._canon.get(etype)
                if elen == 0 or canon is None or canon in found:
                    return False
                found[canon] = off
                off += elen * 8
            if off != n or ExtType.ADDRESS_SRC not in found or ExtType.ADDRESS_DST not in found:
                return False
            at_src, at_dst = found[ExtType.ADDRESS_SRC] + 12, found[ExtType.ADDRESS_DST] + 12
            if data[at_src : at_src + 4] != src or data[at_dst : at_dst + 4] != dst:
                return False
            parts.append((data, at_src, at_dst))
        if not parts:
            return False
        self._templates[(m[3], m[4])] = (parts, priority)
        return True
