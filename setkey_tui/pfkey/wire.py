"""Struct layouts of PF_KEY v2 and the per-platform extension codec (bytes ↔ typed extensions).

Nothing here reads a socket: :class:`WireCodec` turns one extension's bytes into a named tuple and back.
Every bounds check raises :class:`DecodeError` with the absolute byte offset; no ``struct.error`` or
``IndexError`` escapes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from typing import Any

from setkey_tui.pfkey.constants import (
    ADDRESS_EXTS,
    IDENTITY_EXTS,
    KEY_EXTS,
    LIFETIME_EXTS,
    NAT_T_PORT_EXTS,
    SUPPORTED_EXTS,
    ExtType,
    enum_name,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Alg,
    Comb,
    Extension,
    FilterExt,
    IdentityExt,
    IpsecRequest,
    KeyExt,
    KMAddressExt,
    KMPrivateExt,
    LifetimeExt,
    NatTFragExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    ProposalExt,
    RawExt,
    SA2Ext,
    SAExt,
    SAReplayExt,
    SecCtxExt,
    SensitivityExt,
    Sockaddr,
    SPIRangeExt,
    SupportedExt,
)
from setkey_tui.pfkey.platform import AF_INET, Platform

# An extension encoder, in a table keyed by the extension class it takes.
_Encoder = Callable[[Any], bytes]


class DecodeError(ValueError):
    """Malformed PF_KEY bytes: ``offset`` is where in the message, ``reason`` what was wrong."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"malformed PF_KEY message at byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


class EncodeError(ValueError):
    """A message or extension that cannot be put on the wire (a value out of its field's range)."""


# Minimum body sizes (bytes, including the 4-byte sadb_ext header) per canonical extension type.
MIN_SIZE: dict[int, int] = {
    ExtType.SA: 16,
    ExtType.LIFETIME_CURRENT: 32,
    ExtType.LIFETIME_HARD: 32,
    ExtType.LIFETIME_SOFT: 32,
    ExtType.ADDRESS_SRC: 8,
    ExtType.ADDRESS_DST: 8,
    ExtType.ADDRESS_PROXY: 8,
    ExtType.KEY_AUTH: 8,
    ExtType.KEY_ENCRYPT: 8,
    ExtType.IDENTITY_SRC: 16,
    ExtType.IDENTITY_DST: 16,
    ExtType.SENSITIVITY: 16,
    ExtType.PROPOSAL: 8,
    ExtType.SUPPORTED_AUTH: 8,
    ExtType.SUPPORTED_ENCRYPT: 8,
    ExtType.SPIRANGE: 16,
    ExtType.X_KMPRIVATE: 8,
    ExtType.X_POLICY: 16,
    ExtType.X_SA2: 16,
    ExtType.X_NAT_T_TYPE: 8,
    ExtType.X_NAT_T_SPORT: 8,
    ExtType.X_NAT_T_DPORT: 8,
    ExtType.X_NAT_T_OA: 8,
    ExtType.X_SEC_CTX: 8,
    ExtType.X_KMADDRESS: 8,
    ExtType.X_FILTER: 40,
    ExtType.X_NAT_T_OAR: 8,
    ExtType.X_NAT_T_FRAG: 8,
    ExtType.X_SA_REPLAY: 8,
    ExtType.X_NEW_ADDRESS_SRC: 8,
    ExtType.X_NEW_ADDRESS_DST: 8,
}

_ZPAD = tuple(b"\0" * i for i in range(8))
_BE_U16 = struct.Struct(">H")
_BE_U32 = struct.Struct(">I")


class WireCodec:
    """Encoder and decoder of extensions for one :class:`Platform`."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        o = platform.byteorder
        self.hdr = struct.Struct(o + "BBBBHHII")
        self.ext_hdr = struct.Struct(o + "HH")
        self.s_sa = struct.Struct(o + "HH4sBBBBI")
        self.s_lifetime = struct.Struct(o + "HHIQQQ")
        self.s_address = struct.Struct(o + "HHBBH")
        self.s_key = struct.Struct(o + "HHHH")
        self.s_ident = struct.Struct(o + "HHHHQ")
        self.s_sens = struct.Struct(o + "HHIBBBBI")
        self.s_prop = struct.Struct(o + "HHB3s")
        self.s_comb = struct.Struct(o + "BBHHHHHIIIQQQQQQ")
        self.s_supported = struct.Struct(o + "HHI")
        self.s_alg = struct.Struct(o + "BBHHH")
        self.s_spirange = struct.Struct(o + "HHIII")
        self.s_u32 = struct.Struct(o + "HHI")
        self.s_policy = struct.Struct(o + "HHHBBII")
        self.s_req16 = struct.Struct(o + "HHBBHII")
        self.s_req8 = struct.Struct(o + "HHBBH")
        self.s_sa2 = struct.Struct(o + "HHBBHII")
        self.s_natt_type = struct.Struct(o + "HHB3s")
        self.s_natt_port = struct.Struct(o + "HH2sH")
        self.s_sec_ctx = struct.Struct(o + "HHBBH")
        self.s_filter = struct.Struct(o + "HH16s16sHBB")
        self.s_u16x2 = struct.Struct(o + "HHHH")
        self.s_family = struct.Struct(o + "H")
        self.s_sin6_scope = struct.Struct(o + "I")
        self.ext_from_wire = platform.ext_from_wire
        self.ext_to_wire = platform.ext_to_wire
        # sadb_address + sockaddr_in in one go (Linux layout: the family is a host-order u16).
        self._addr4 = None if platform.bsd_sockaddr else struct.Struct(o + "HHBBHH2s4s8x").pack
        self._encoders = self._encoder_table()
        self._decoders: dict[int, Callable[[bytes, int, int, int], Extension]] = {}
        for ctype in MIN_SIZE:
            dec = self._decoder_for(ctype)
            if ctype in self.ext_to_wire and dec is not None:
                self._decoders[self.ext_to_wire[ctype]] = dec

    # ----------------------------------------------------------------------------------------------- sockaddr
    def decode_sockaddr(self, buf: bytes, off: int, end: int) -> tuple[Sockaddr, int]:
        """Decode the sockaddr at ``off`` (not beyond ``end``); returns it and its size in bytes."""
        if end - off < 2:
            raise DecodeError(off, f"sockaddr needs at least 2 bytes, {max(end - off, 0)} left")
        p = self.platform
        if p.bsd_sockaddr:
            sa_len, family = buf[off], buf[off + 1]
        else:
            sa_len, family = 0, self.s_family.unpack_from(buf, off)[0]
        size = 16 if family == AF_INET else 28 if family == p.af_inet6 else 0
        if not size:
            raise DecodeError(
                off, f"sockaddr family {family} is neither AF_INET (2) nor AF_INET6 ({p.af_inet6})"
            )
        if p.bsd_sockaddr:
            if sa_len < size:
                raise DecodeError(off, f"sockaddr sa_len {sa_len} is shorter than {size} for family {family}")
            if sa_len == size:
                sa_len = 0
            else:
                size = sa_len
        if off + size > end:
            raise DecodeError(off, f"sockaddr of family {family} needs {size} bytes, only {end - off} left")
        port = _BE_U16.unpack_from(buf, off + 2)[0]
        if family == AF_INET:
            rest = buf[off + 8 : off + size]  # sin_zero, and on BSD whatever sa_len adds
            return Sockaddr(
                family,
                port,
                buf[off + 4 : off + 8],
                0,
                0,
                sa_len,
                rest if rest.count(0) != len(rest) else b"",
            ), size
        flowinfo = _BE_U32.unpack_from(buf, off + 4)[0]
        scope = self.s_sin6_scope.unpack_from(buf, off + 24)[0]
        rest = buf[off + 28 : off + size]
        return Sockaddr(
            family,
            port,
            buf[off + 8 : off + 24],
            flowinfo,
            scope,
            sa_len,
            rest if rest.count(0) != len(rest) else b"",
        ), size

    def encode_sockaddr(self, sa: Sockaddr) -> bytes:
        """The wire form of ``sa`` (16 or 28 bytes, or ``sa_len`` on BSD)."""
        p = self.platform
        n = len(sa.addr)
        if n == 4:
            if sa.family != AF_INET:
                raise EncodeError(f"a 4-byte address needs family AF_INET (2), not {sa.family}")
            natural = 16
        elif n == 16:
            if sa.family != p.af_inet6:
                raise EncodeError(
                    f"a 16-byte address needs family AF_INET6 ({p.af_inet6}) on {p.name}, not {sa.family}"
                )
            natural = 28
        else:
            raise EncodeError(f"sockaddr address must be 4 or 16 bytes, not {n}")
        size = natural
        if p.bsd_sockaddr and sa.sa_len:
            if not natural <= sa.sa_len <= 0xFF:
                raise EncodeError(f"sa_len {sa.sa_len} is outside {natural}..255")
            size = sa.sa_len
        # ``zero``: the bytes after the address (IPv4 sin_zero; BSD: up to sa_len), empty when all zero.
        tail_len = size - (8 if n == 4 else 28)
        if sa.zero and len(sa.zero) != tail_len:
            raise EncodeError(
                f"a sockaddr of {size} bytes has {tail_len} bytes after the address, not {len(sa.zero)}"
            )
        head = bytes((size, sa.family)) if p.bsd_sockaddr else self.s_family.pack(sa.family)
        port = _BE_U16.pack(sa.port)
        if n == 16:
            body = head + port + _BE_U32.pack(sa.flowinfo) + sa.addr + self.s_sin6_scope.pack(sa.scope_id)
        else:
            body = head + port + sa.addr
        return body + (sa.zero or b"\0" * tail_len)

    # ----------------------------------------------------------------------------------------------- helpers
    @staticmethod
    def _tail(buf: bytes, start: int, content_end: int, end: int) -> bytes:
        tail = buf[content_end:end]
        if len(tail) == (-(content_end - start)) % 8 and tail.count(0) == len(tail):
            return b""
        return tail

    # ----------------------------------------------------------------------------------------------- decoders
    def _decoder_for(self, ctype: int) -> Callable[[bytes, int, int, int], Extension] | None:
        if ctype == ExtType.SA:
            return self._d_sa
        if ctype in LIFETIME_EXTS:
            return self._d_lifetime
        if ctype in ADDRESS_EXTS:
            return self._d_address
        if ctype in KEY_EXTS:
            return self._d_key
        if ctype in IDENTITY_EXTS:
            return self._d_ident
        if ctype in SUPPORTED_EXTS:
            return self._d_supported
        if ctype in NAT_T_PORT_EXTS:
            return self._d_natt_port
        others: dict[int, Callable[[bytes, int, int, int], Extension]] = {
            ExtType.SENSITIVITY: self._d_sens,
            ExtType.PROPOSAL: self._d_prop,
            ExtType.SPIRANGE: self._d_spirange,
            ExtType.X_KMPRIVATE: self._d_kmprivate,
            ExtType.X_POLICY: self._d_policy,
            ExtType.X_SA2: self._d_sa2,
            ExtType.X_NAT_T_TYPE: self._d_natt_type,
            ExtType.X_SEC_CTX: self._d_sec_ctx,
            ExtType.X_KMADDRESS: self._d_kmaddress,
            ExtType.X_FILTER: self._d_filter,
            ExtType.X_SA_REPLAY: self._d_sa_replay,
            ExtType.X_NAT_T_FRAG: self._d_natt_frag,
        }
        return others.get(ctype)

    def decode_ext(self, buf: bytes, start: int, end: int, wire_type: int) -> Extension:
        """Decode the extension occupying ``buf[start:end]`` (header included)."""
        dec = self._decoders.get(wire_type)
        if dec is None:
            return RawExt(wire_type, buf[start + 4 : end])
        ctype = self.ext_from_wire[wire_type]
        if end - start < MIN_SIZE[ctype]:
            raise DecodeError(
                start,
                f"{ExtType(ctype).name} extension is {end - start} bytes, needs at least {MIN_SIZE[ctype]}",
            )
        return dec(buf, start, end, ctype)

    # The decoders: ``b[s:e]`` is the extension (header included), ``ext_type`` its canonical type.

    def _d_sa(self, b: bytes, s: int, e: int, ext_type: int) -> SAExt:
        _, _, spi, replay, state, auth, enc, flags = self.s_sa.unpack_from(b, s)
        return SAExt(
            int.from_bytes(spi, "big"),
            replay,
            state,
            auth,
            enc,
            flags,
            ext_type,
            self._tail(b, s, s + 16, e) if e - s != 16 else b"",
        )

    def _d_lifetime(self, b: bytes, s: int, e: int, ext_type: int) -> LifetimeExt:
        _, _, alloc, nbytes, add, use = self.s_lifetime.unpack_from(b, s)
        return LifetimeExt(ext_type, alloc, nbytes, add, use, self._tail(b, s, s + 32, e) if e - s != 32 else b"")

    def _d_address(self, b: bytes, s: int, e: int, ext_type: int) -> AddressExt:
        _, _, proto, plen, res = self.s_address.unpack_from(b, s)
        sa, size = self.decode_sockaddr(b, s + 8, e)
        return AddressExt(ext_type, sa, proto, plen, res, self._tail(b, s, s + 8 + size, e))

    def _d_key(self, b: bytes, s: int, e: int, ext_type: int) -> KeyExt:
        _, _, bits, res = self.s_key.unpack_from(b, s)
        n = (bits + 7) >> 3
        if s + 8 + n > e:
            raise DecodeError(s, f"key of {bits} bits needs {n} bytes, the extension holds {e - s - 8}")
        return KeyExt(ext_type, bits, b[s + 8 : s + 8 + n], res, self._tail(b, s, s + 8 + n, e))

    def _d_ident(self, b: bytes, s: int, e: int, ext_type: int) -> IdentityExt:
        _, _, itype, res, ident = self.s_ident.unpack_from(b, s)
        return IdentityExt(ext_type, itype, ident, b[s + 16 : e], res)

    def _d_sens(self, b: bytes, s: int, e: int, ext_type: int) -> SensitivityExt:
        _, _, dpd, sl, slen, il, ilen, res = self.s_sens.unpack_from(b, s)
        return SensitivityExt(dpd, sl, slen, il, ilen, res, b[s + 16 : e])

    def _d_prop(self, b: bytes, s: int, e: int, ext_type: int) -> ProposalExt:
        _, _, replay, res = self.s_prop.unpack_from(b, s)
        combs = []
        off = s + 8
        while off + 72 <= e:
            combs.append(Comb._make(self.s_comb.unpack_from(b, off)))
            off += 72
        return ProposalExt(replay, tuple(combs), res, ext_type, b[off:e])

    def _d_supported(self, b: bytes, s: int, e: int, ext_type: int) -> SupportedExt:
        res = self.s_supported.unpack_from(b, s)[2]
        algs = []
        off = s + 8
        while off + 8 <= e:
            algs.append(Alg._make(self.s_alg.unpack_from(b, off)))
            off += 8
        return SupportedExt(ext_type, tuple(algs), res, b[off:e])

    def _d_spirange(self, b: bytes, s: int, e: int, ext_type: int) -> SPIRangeExt:
        _, _, lo, hi, res = self.s_spirange.unpack_from(b, s)
        return SPIRangeExt(lo, hi, res, ext_type, self._tail(b, s, s + 16, e))

    def _d_kmprivate(self, b: bytes, s: int, e: int, ext_type: int) -> KMPrivateExt:
        return KMPrivateExt(self.s_u32.unpack_from(b, s)[2], b[s + 8 : e])

    def _d_policy(self, b: bytes, s: int, e: int, ext_type: int) -> PolicyExt:
        _, _, ptype, pdir, res, pid, prio = self.s_policy.unpack_from(b, s)
        linux = self.platform.ipsecrequest_size == 16
        rsize = self.platform.ipsecrequest_size
        reqs = []
        off = s + 16
        while off < e:
            if e - off < rsize:
                if b.count(0, off, e) == e - off:
                    break
                raise DecodeError(
                    off, f"{e - off} bytes left in the policy, too few for an ipsec request ({rsize})"
                )
            if linux:
                rlen, proto, mode, level, r1, reqid, r2 = self.s_req16.unpack_from(b, off)
            else:
                rlen, proto, mode, level, reqid = self.s_req8.unpack_from(b, off)
                r1 = r2 = 0
            if rlen < rsize:
                raise DecodeError(off, f"ipsec request length {rlen} is shorter than its header ({rsize})")
            if off + rlen > e:
                raise DecodeError(
                    off, f"ipsec request length {rlen} runs past the policy's end ({e - off} left)"
                )
            src = dst = None
            if rlen > rsize:
                src, n1 = self.decode_sockaddr(b, off + rsize, off + rlen)
                dst, n2 = self.decode_sockaddr(b, off + rsize + n1, off + rlen)
                if rsize + n1 + n2 != rlen:
                    raise DecodeError(
                        off, f"ipsec request length {rlen} does not add up to {rsize} + {n1} + {n2}"
                    )
            reqs.append(IpsecRequest(proto, mode, level, reqid, src, dst, r1, r2))
            off += rlen
        return PolicyExt(
            ptype, pdir, pid, prio, tuple(reqs), res, ext_type, self._tail(b, s, off, e) if off != e else b""
        )

    def _d_sa2(self, b: bytes, s: int, e: int, ext_type: int) -> SA2Ext:
        _, _, mode, r1, r2, seq, reqid = self.s_sa2.unpack_from(b, s)
        return SA2Ext(mode, reqid, seq, r1, r2, ext_type, self._tail(b, s, s + 16, e) if e - s != 16 else b"")

    def _d_natt_type(self, b: bytes, s: int, e: int, ext_type: int) -> NatTTypeExt:
        _, _, ntype, res = self.s_natt_type.unpack_from(b, s)
        return NatTTypeExt(ntype, res, ext_type, self._tail(b, s, s + 8, e))

    def _d_natt_port(self, b: bytes, s: int, e: int, ext_type: int) -> NatTPortExt:
        _, _, port, res = self.s_natt_port.unpack_from(b, s)
        return NatTPortExt(ext_type, int.from_bytes(port, "big"), res, self._tail(b, s, s + 8, e))

    def _d_sec_ctx(self, b: bytes, s: int, e: int, ext_type: int) -> SecCtxExt:
        _, _, alg, doi, clen = self.s_sec_ctx.unpack_from(b, s)
        if s + 8 + clen > e:
            raise DecodeError(
                s, f"security context of {clen} bytes runs past the extension ({e - s - 8} left)"
            )
        return SecCtxExt(doi, alg, b[s + 8 : s + 8 + clen], ext_type, self._tail(b, s, s + 8 + clen, e))

    def _d_kmaddress(self, b: bytes, s: int, e: int, ext_type: int) -> KMAddressExt:
        res = self.s_u32.unpack_from(b, s)[2]
        local, n1 = self.decode_sockaddr(b, s + 8, e)
        remote, n2 = self.decode_sockaddr(b, s + 8 + n1, e)
        return KMAddressExt(local, remote, res, ext_type, self._tail(b, s, s + 8 + n1 + n2, e))

    def _d_filter(self, b: bytes, s: int, e: int, ext_type: int) -> FilterExt:
        _, _, sa, da, fam, spl, dpl = self.s_filter.unpack_from(b, s)
        return FilterExt(sa, da, fam, spl, dpl, ext_type, self._tail(b, s, s + 40, e))

    def _d_sa_replay(self, b: bytes, s: int, e: int, ext_type: int) -> SAReplayExt:
        return SAReplayExt(self.s_u32.unpack_from(b, s)[2], ext_type, self._tail(b, s, s + 8, e))

    def _d_natt_frag(self, b: bytes, s: int, e: int, ext_type: int) -> NatTFragExt:
        _, _, frag, res = self.s_u16x2.unpack_from(b, s)
        return NatTFragExt(frag, res, ext_type, self._tail(b, s, s + 8, e))

    # ----------------------------------------------------------------------------------------------- encoders
    def encode_ext(self, ext: Extension) -> bytes:
        """The wire form of one extension, header and padding included; :class:`EncodeError` for a value
        that does not fit its field or an extension the platform does not have."""
        return self.encode_exts((ext,))

    def encode_exts(self, exts: tuple[Extension, ...] | list[Extension]) -> bytes:
        """The wire form of several extensions, one after the other."""
        get = self._encoders.get
        out = []
        ext: object = None
        try:
            for ext in exts:
                enc = get(type(ext))
                if enc is None:
                    raise EncodeError(f"not a PF_KEY extension: {ext!r}")
                out.append(enc(ext))
        except (struct.error, OverflowError) as exc:
            raise EncodeError(f"{type(ext).__name__}: {exc}") from None
        return b"".join(out)

    def _wire(self, ctype: int) -> int:
        wire = self.ext_to_wire.get(ctype)
        if wire is None:
            raise EncodeError(f"extension {enum_name(ExtType, ctype)} does not exist on {self.platform.name}")
        return wire

    def _frame(self, wire_type: int, body: bytes, trailer: bytes) -> bytes:
        data = body + trailer
        data += b"\0" * ((-(len(data) + 4)) % 8)
        n = (len(data) + 4) >> 3
        if n > 0xFFFF:
            raise EncodeError(f"extension of {len(data) + 4} bytes is too long for PF_KEY")
        return self.ext_hdr.pack(n, wire_type) + data

    def _encoder_table(self) -> dict[type, _Encoder]:
        """The encoder of every extension class (each entry takes an extension of the class it is keyed by)."""

        def framed(body: _Encoder, trailer: bool = True) -> _Encoder:
            def enc(x: Any) -> bytes:
                tail = x.trailer if trailer else b""
                return self._frame(self._wire(x.ext_type), body(x), tail)

            return enc

        return {
            SAExt: self._e_sa,
            LifetimeExt: self._e_lifetime,
            AddressExt: self._e_address,
            KeyExt: self._e_key,
            SA2Ext: self._e_sa2,
            IdentityExt: framed(
                lambda x: self.s_ident.pack(0, 0, x.ident_type, x.reserved, x.id)[4:] + x.data, False
            ),
            SensitivityExt: framed(
                lambda x: (
                    self.s_sens.pack(
                        0, 0, x.dpd, x.sens_level, x.sens_len, x.integ_level, x.integ_len, x.reserved
                    )[4:]
                    + x.bitmaps
                ),
                False,
            ),
            ProposalExt: framed(
                lambda x: (
                    self.s_prop.pack(0, 0, x.replay, x.reserved)[4:]
                    + b"".join([self.s_comb.pack(*c) for c in x.combs])
                )
            ),
            SupportedExt: framed(
                lambda x: (
                    self.s_supported.pack(0, 0, x.reserved)[4:]
                    + b"".join([self.s_alg.pack(*a) for a in x.algs])
                )
            ),
            SPIRangeExt: framed(lambda x: self.s_spirange.pack(0, 0, x.min, x.max, x.reserved)[4:]),
            KMPrivateExt: framed(lambda x: self.s_u32.pack(0, 0, x.reserved)[4:] + x.data, False),
            PolicyExt: framed(
                lambda x: (
                    self.s_policy.pack(0, 0, x.policy_type, x.dir, x.reserved, x.id, x.priority)[4:]
                    + b"".join([self.encode_request(r) for r in x.requests])
                )
            ),
            NatTTypeExt: framed(lambda x: self.s_natt_type.pack(0, 0, x.type, x.reserved)[4:]),
            NatTPortExt: framed(
                lambda x: self.s_natt_port.pack(0, 0, x.port.to_bytes(2, "big"), x.reserved)[4:]
            ),
            SecCtxExt: framed(lambda x: self.s_sec_ctx.pack(0, 0, x.alg, x.doi, len(x.ctx))[4:] + x.ctx),
            KMAddressExt: framed(
                lambda x: (
                    self.s_u32.pack(0, 0, x.reserved)[4:]
                    + self.encode_sockaddr(x.local)
                    + self.encode_sockaddr(x.remote)
                )
            ),
            FilterExt: framed(
                lambda x: self.s_filter.pack(0, 0, x.saddr, x.daddr, x.family, x.splen, x.dplen)[4:]
            ),
            SAReplayExt: framed(lambda x: self.s_u32.pack(0, 0, x.replay)[4:]),
            NatTFragExt: framed(lambda x: self.s_u16x2.pack(0, 0, x.fraglen, x.reserved)[4:]),
            RawExt: lambda x: self._frame(x.wire_type, x.data, b""),
        }

    # The extensions of every SA message: packed in one go, header included, when they carry no trailer.
    def _e_sa(self, x: SAExt) -> bytes:
        wire = self._wire(x.ext_type)
        fields = (x.spi.to_bytes(4, "big"), x.replay, x.state, x.auth, x.encrypt, x.flags)
        if x.trailer:
            return self._frame(wire, self.s_sa.pack(0, 0, *fields)[4:], x.trailer)
        return self.s_sa.pack(2, wire, *fields)

    def _e_lifetime(self, x: LifetimeExt) -> bytes:
        wire = self._wire(x.ext_type)
        if x.trailer:
            body = self.s_lifetime.pack(0, 0, x.allocations, x.byte_count, x.addtime, x.usetime)[4:]
            return self._frame(wire, body, x.trailer)
        return self.s_lifetime.pack(4, wire, x.allocations, x.byte_count, x.addtime, x.usetime)

    def _e_address(self, x: AddressExt) -> bytes:
        sa = x.sockaddr
        if (
            self._addr4 is not None
            and sa.family == AF_INET
            and len(sa.addr) == 4
            and not sa.zero
            and not x.trailer
        ):
            return self._addr4(
                3,
                self._wire(x.ext_type),
                x.proto,
                x.prefixlen,
                x.reserved,
                AF_INET,
                sa.port.to_bytes(2, "big"),
                sa.addr,
            )
        return self._frame(
            self._wire(x.ext_type),
            self.s_address.pack(0, 0, x.proto, x.prefixlen, x.reserved)[4:]
            + self.encode_sockaddr(x.sockaddr),
            x.trailer,
        )

    def _e_key(self, x: KeyExt) -> bytes:
        n = len(x.key)
        if (x.bits + 7) >> 3 != n:
            raise EncodeError(f"a key of {x.bits} bits has {(x.bits + 7) >> 3} bytes, not {n}")
        if x.trailer:
            return self._frame(
                self._wire(x.ext_type), self.s_key.pack(0, 0, x.bits, x.reserved)[4:] + x.key, x.trailer
            )
        pad = -(8 + n) % 8
        head = self.s_key.pack((8 + n + pad) >> 3, self._wire(x.ext_type), x.bits, x.reserved)
        return head + x.key + _ZPAD[pad]

    def _e_sa2(self, x: SA2Ext) -> bytes:
        wire = self._wire(x.ext_type)
        fields = (x.mode, x.reserved1, x.reserved2, x.sequence, x.reqid)
        if x.trailer:
            return self._frame(wire, self.s_sa2.pack(0, 0, *fields)[4:], x.trailer)
        return self.s_sa2.pack(2, wire, *fields)

    def encode_request(self, r: IpsecRequest) -> bytes:
        """One ``sadb_x_ipsecrequest`` with its tunnel sockaddrs."""
        addrs = b""
        if r.src is not None or r.dst is not None:
            if r.src is None or r.dst is None:
                raise EncodeError("an ipsec request has both tunnel endpoints or neither")
            addrs = self.encode_sockaddr(r.src) + self.encode_sockaddr(r.dst)
        if self.platform.ipsecrequest_size == 16:
            head = self.s_req16.pack(
                16 + len(addrs), r.proto, r.mode, r.level, r.reserved1, r.reqid, r.reserved2
            )
        else:
            head = self.s_req8.pack(8 + len(addrs), r.proto, r.mode, r.level, r.reqid)
        return head + addrs


@cache
def codec_for(platform: Platform) -> WireCodec:
    """The (cached) codec of ``platform``."""
    return WireCodec(platform)
