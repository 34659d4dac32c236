"""Table rows straight from dump replies' bytes: one ``struct`` call per message, no full decode.

A dump of 100k SAs is 100k messages of a handful of layouts (which extensions, in which order, of which sizes).
The first message of a layout is walked extension by extension and a :class:`struct.Struct` is built for it that
reads, in one call, every extension header (checked against the layout, so a message of another shape is never
misread) and every field a row needs. The row keeps the message's bytes; the decoded message is made only when
someone asks for it (the detail screen, export). Anything unusual — an extension of an odd size, a BSD
sockaddr, an errno — returns None, and the caller builds the row from the decoded message instead.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from setkey_tui.mirror import SARow, SPRow
from setkey_tui.pfkey.constants import PF_KEY_V2, ExtType
from setkey_tui.pfkey.platform import AF_INET, Platform

LAYOUTS_MAX = 256  # message lengths whose layouts are kept, per kind; the table starts afresh when full
SHAPES_PER_LENGTH = 8  # layouts of one length (lifetimes present or not …); others are decoded instead

_SA, _CUR, _HARD, _SOFT, _SRC, _DST, _SA2, _POL = (ExtType.SA, ExtType.LIFETIME_CURRENT, ExtType.LIFETIME_HARD,
                                                   ExtType.LIFETIME_SOFT, ExtType.ADDRESS_SRC, ExtType.ADDRESS_DST,
                                                   ExtType.X_SA2, ExtType.X_POLICY)
_LIFETIME_TAGS: dict[int, str] = {_CUR: "c", _HARD: "h", _SOFT: "s"}
_SIZES: dict[int, int] = {_SA: 16, _CUR: 32, _HARD: 32, _SOFT: 32, _SA2: 16}


class _Layout:
    """How to read one message shape: the structs, what to check and where each field is."""

    __slots__ = ("native", "big", "check", "expected", "fields", "cuts", "get", "src_len", "dst_len", "size")

    def __init__(self, native: struct.Struct, big: struct.Struct, check: Callable[[Any], Any], expected: Any,
                 fields: dict[str, tuple[str, int]], cuts: dict[str, tuple[int, int]]) -> None:
        self.native = native
        self.big = big
        self.check = check
        self.expected = expected
        self.fields = fields  # name -> ("n" native | "b" big-endian, index in that struct's tuple)
        self.cuts = cuts  # name -> (start, end) of a byte range kept as bytes (address extensions)
        self.get: Callable[[tuple[Any, ...]], tuple[Any, ...]] = itemgetter(0)
        self.src_len = self.dst_len = 0  # 4 or 16 (0: absent)
        self.size = 0  # the length of the messages of this layout

    def getter(self, names: tuple[str, ...]) -> None:
        """Read ``names`` (absent ones as 0) in one call from ``native + big + (0,)``."""
        n_native = self.native.size and len(self.native.unpack(b"\0" * self.native.size))
        n_big = len(self.big.unpack(b"\0" * self.big.size))
        zero = n_native + n_big
        idx = []
        for name in names:
            where = self.fields.get(name)
            idx.append(zero if where is None else where[1] + (0 if where[0] == "n" else n_native))
        self.get = itemgetter(*idx)
        for tag in ("src", "dst"):
            n = 16 if f"{tag}addr6" in self.fields else 4 if f"{tag}addr" in self.fields else 0
            setattr(self, f"{tag}_len", n)


class _Builder:
    """Collects (offset, format, name) items for the native and big-endian structs of one layout."""

    def __init__(self, order: str) -> None:
        self.order = order
        self.native: list[tuple[int, str, str | None]] = []
        self.big: list[tuple[int, str, str | None]] = []

    def build(self, total: int, checks: list[tuple[str, Any]], cuts: dict[str, tuple[int, int]]) -> _Layout:
        fields: dict[str, tuple[str, int]] = {}
        structs = []
        for which, items, prefix in (("n", self.native, self.order), ("b", self.big, ">")):
            fmt = [prefix]
            pos = 0
            index = 0
            for off, code, name in sorted(items, key=lambda i: i[0]):
                if off < pos:
                    raise ValueError("overlapping fields")
                if off > pos:
                    fmt.append(f"{off - pos}x")
                fmt.append(code)
                pos = off + struct.calcsize(prefix + code)
                for k, sub in enumerate(_names(name, code)):
                    if sub is not None:
                        fields[sub] = (which, index + k)
                index += len(_names(name, code))
            if pos > total:
                raise ValueError("past the end")
            structs.append(struct.Struct("".join(fmt)))
        idx = [fields[name][1] for name, _ in checks]
        check = itemgetter(*idx) if len(idx) > 1 else (lambda t, i=idx[0]: (t[i],))
        return _Layout(structs[0], structs[1], check, tuple(v for _, v in checks), fields, cuts)


def _names(name: str | None, code: str) -> list[str | None]:
    """One name per value of ``code`` (``name`` may list several, comma-separated)."""
    n = len(struct.unpack("=" + code, b"\0" * struct.calcsize("=" + code)))
    names: list[str | None] = list(name.split(",")) if name else []
    return names + [None] * (n - len(names))


class RowScanner:
    """Builds :class:`SARow`/:class:`SPRow` from dump replies of one platform (Linux numbering and sockaddrs)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.order = platform.byteorder
        canonical = all(platform.ext_to_wire.get(t) == t for t in (_SA, _CUR, _HARD, _SOFT, _SRC, _DST, _SA2, _POL))
        self.usable = canonical and not platform.bsd_sockaddr and platform.ipsecrequest_size == 16
        self._sa: dict[int, list[_Layout]] = {}
        self._sp: dict[int, list[_Layout]] = {}
        # The layout the last message of each kind had: a dump is mostly one shape, tried first.
        self._last: dict[str, _Layout | None] = {"sa": None, "sp": None}
        self._hdr = struct.Struct(self.order + "HH")

    # -- layouts -------------------------------------------------------------------------------------
    def _exts(self, b: bytes) -> list[tuple[int, int, int]] | None:
        """(type, offset, size) of each extension, or None when the message is not well formed."""
        n = len(b)
        if n < 16 or b[0] != PF_KEY_V2 or b[2] != 0 or self._hdr.unpack_from(b, 4)[0] * 8 != n:
            return None
        out = []
        off = 16
        while off < n:
            if n - off < 4:
                return None
            elen, etype = self._hdr.unpack_from(b, off)
            size = elen * 8
            if size == 0 or off + size > n:
                return None
            out.append((etype, off, size))
            off += size
        return out

    def _address(self, bld: _Builder, b: bytes, off: int, size: int, tag: str, checks: list[tuple[str, Any]],
                 cuts: dict[str, tuple[int, int]]) -> bool:
        family = int.from_bytes(b[off + 8 : off + 10], "little" if self.order == "<" else "big")
        if size == 24 and family == AF_INET:
            bld.big.append((off + 10, "HI", f"{tag}port,{tag}addr"))
        elif size == 40 and family == self.platform.af_inet6:
            bld.big.append((off + 10, "H", f"{tag}port"))
            bld.native.append((off + 16, "16s", f"{tag}addr6"))
        else:
            return False
        bld.native.append((off + 4, "BB", f"{tag}proto,{tag}plen"))
        bld.native.append((off + 8, "H", f"{tag}fam"))
        checks.append((f"{tag}fam", family))
        cuts[tag] = (off, off + size)
        return True

    def _layout(self, b: bytes, kind: str) -> _Layout | None:
        exts = self._exts(b)
        if exts is None:
            return None
        bld = _Builder(self.order)
        checks: list[tuple[str, Any]] = []
        cuts: dict[str, tuple[int, int]] = {}
        seen: set[int] = set()
        bld.native.append((0, "BBBBH", "version,,errno,satype,len"))
        checks += [("version", PF_KEY_V2), ("errno", 0), ("len", len(b) // 8)]
        for i, (etype, off, size) in enumerate(exts):
            bld.native.append((off, "HH", f"l{i},t{i}"))
            checks += [(f"l{i}", size // 8), (f"t{i}", etype)]
            if etype in seen:
                continue  # only the first extension of a type counts, as Message.get does
            seen.add(etype)
            want = _SIZES.get(etype)
            if want is not None and size != want and (kind == "sa" or etype == _CUR):
                return None
            if etype == _SA and kind == "sa":
                bld.big.append((off + 4, "I", "spi"))
                bld.native.append((off + 9, "BBB", "state,auth,enc"))
            elif etype in (_CUR, _HARD, _SOFT) and (kind == "sa" or etype == _CUR):
                tag = _LIFETIME_TAGS[etype]
                bld.native.append((off + 8, "QQQ", f"{tag}bytes,{tag}add,{tag}use"))
            elif etype in (_SRC, _DST):
                if not self._address(bld, b, off, size, "src" if etype == _SRC else "dst", checks, cuts):
                    return None
            elif etype == _SA2 and kind == "sa":
                bld.native.append((off + 4, "B", "mode"))
                bld.native.append((off + 12, "I", "reqid"))
            elif etype == _POL and kind == "sp":
                if size < 16:
                    return None
                bld.native.append((off + 4, "HBxII", "ptype,dir,spid,prio"))
        need = {_SA, _DST} if kind == "sa" else {_SRC, _DST, _POL}
        if not need <= seen:
            return None
        try:
            lay = bld.build(len(b), checks, cuts)
        except (ValueError, struct.error):
            return None
        lay.getter(_SA_FIELDS if kind == "sa" else _SP_FIELDS)
        lay.size = len(b)
        return lay

    def _scan(self, b: bytes, kind: str) -> tuple[_Layout, tuple[Any, ...], tuple[Any, ...]] | None:
        """A message's layout and its values (native-order and big-endian fields); the last layout of the
        kind is tried first. None when the message does not scan."""
        lay = self._last[kind]
        if lay is not None and lay.size == len(b) and lay.check(nat := lay.native.unpack_from(b)) == lay.expected:
            return lay, nat, lay.big.unpack_from(b)
        got = self._values(b, self._sa if kind == "sa" else self._sp, kind)
        if got is not None:
            self._last[kind] = got[0]
        return got

    def _values(self, b: bytes, table: dict[int, list[_Layout]], kind: str) -> tuple[_Layout, tuple[Any, ...],
                                                                                      tuple[Any, ...]] | None:
        n = len(b)
        lays = table.get(n)
        if lays is not None:
            for lay in lays:
                nat = lay.native.unpack_from(b)
                if lay.check(nat) == lay.expected:
                    return lay, nat, lay.big.unpack_from(b)
        if not self.usable:
            return None
        if lays is None:
            if len(table) >= LAYOUTS_MAX:
                table.clear()
            lays = table[n] = []
        if len(lays) >= SHAPES_PER_LENGTH:
            return None
        made = self._layout(b, kind)
        if made is None:
            return None
        lays.append(made)
        nat = made.native.unpack_from(b)
        return made, nat, made.big.unpack_from(b)

    # -- rows ----------------------------------------------------------------------------------------
    def sa_row(self, b: bytes) -> SARow | None:
        """The SAD row of an SA message's bytes; None when it does not scan (decode it instead)."""
        got = self._scan(b, "sa")
        if got is None:
            return None
        lay, nat, big = got
        (satype, spi, state, auth, enc, mode, reqid, cbytes, cadd, cuse, sadd, hadd, hbytes, sa4, sa6, da4,
         da6) = lay.get(nat + big + (0,))
        row = _new(SARow)
        row._msg = None
        row._raw = b
        row._platform = self.platform
        row._search = None
        row.satype = satype
        row.spi = spi
        row.state = state
        row.auth = auth
        row.enc = enc
        row.mode = mode
        row.reqid = reqid
        row.bytes = cbytes
        row.addtime = cadd
        row.usetime = cuse
        row.soft_add = sadd
        row.hard_add = hadd
        row.hard_bytes = hbytes
        cuts = lay.cuts
        s = cuts.get("src")
        if s is None:
            row._src = None
            row.src_sort = (0, 0)
        else:
            row._src = b[s[0] : s[1]]
            row.src_sort = (4, sa4) if lay.src_len == 4 else (16, int.from_bytes(sa6, "big"))
        d = cuts["dst"]
        row._dst = b[d[0] : d[1]]
        row.key = (satype, 4, da4, spi) if lay.dst_len == 4 else (satype, 16, int.from_bytes(da6, "big"), spi)
        return row

    def sp_row(self, b: bytes) -> SPRow | None:
        """The SPD row of a policy message's bytes; None when it does not scan (decode it instead)."""
        got = self._scan(b, "sp")
        if got is None:
            return None
        lay, nat, big = got
        (sport, dport, upper, d, ptype, prio, spid, cadd, splen, dplen, sa4, sa6, da4,
         da6) = lay.get(nat + big + (0,))
        row = _new(SPRow)
        row._msg = None
        row._raw = b
        row._platform = self.platform
        row._search = None
        row._requests = None
        row.sport = sport
        row.dport = dport
        row.upper = upper
        row.dir = d
        row.action = ptype
        row.priority = prio
        row.spid = spid
        row.addtime = cadd
        if lay.src_len == 4 and lay.dst_len == 4:
            row.key = (4, sa4, splen, sport, 4, da4, dplen, dport, upper, d)
        else:
            src = (4, sa4) if lay.src_len == 4 else (16, int.from_bytes(sa6, "big"))
            dst = (4, da4) if lay.dst_len == 4 else (16, int.from_bytes(da6, "big"))
            row.key = (*src, splen, sport, *dst, dplen, dport, upper, d)
        return row


_new = object.__new__
_SA_FIELDS = ("satype", "spi", "state", "auth", "enc", "mode", "reqid", "cbytes", "cadd", "cuse", "sadd", "hadd",
              "hbytes", "srcaddr", "srcaddr6", "dstaddr", "dstaddr6")
_SP_FIELDS = ("srcport", "dstport", "srcproto", "dir", "ptype", "prio", "spid", "cadd", "srcplen", "dstplen",
              "srcaddr", "srcaddr6", "dstaddr", "dstaddr6")
