"""The extension walk of a message, with inlined fast paths for the extensions every SA message carries.

An SA dump reply is SA, three lifetimes, two or three addresses, one or two keys and SA2; a policy dump reply
is a current lifetime, two addresses and an X_POLICY with its requests. Decoding those
through one method call per extension, a generic trailer check and the NamedTuple constructors costs more than
the parsing itself, so :func:`extension_walker` builds, per :class:`WireCodec`, a single loop that handles the
canonical forms of those extensions inline (exact size, canonical zero padding) and hands everything else —
any other type, any unusual size, non-zero padding, a BSD sockaddr — to :meth:`WireCodec.decode_ext`, which
does the full validation. Both paths give equal results; only the speed differs.

Extensions that a kernel repeats from message to message (hard and soft limits, SA2, addresses, the proxy)
are decoded once and then shared: the same immutable object stands for the same bytes, which saves the
decoding and, for a dump of 100k SAs kept in memory, a third of the objects the garbage collector tracks.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from setkey_tui.pfkey.constants import ExtType
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Extension,
    IpsecRequest,
    KeyExt,
    LifetimeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    Sockaddr,
)
from setkey_tui.pfkey.platform import AF_INET
from setkey_tui.pfkey.wire import DecodeError, WireCodec

_new = tuple.__new__
_ZPAD = tuple(b"\0" * i for i in range(8))
_ZERO8 = b"\0" * 8

# Kinds of fast path, by canonical extension type.
_LIFETIME, _ADDRESS, _KEY, _SA, _SA2, _POLICY = 1, 2, 3, 4, 5, 6
_KINDS = {
    ExtType.SA: _SA,
    ExtType.LIFETIME_CURRENT: _LIFETIME,
    ExtType.LIFETIME_HARD: _LIFETIME,
    ExtType.LIFETIME_SOFT: _LIFETIME,
    ExtType.ADDRESS_SRC: _ADDRESS,
    ExtType.ADDRESS_DST: _ADDRESS,
    ExtType.ADDRESS_PROXY: _ADDRESS,
    ExtType.KEY_AUTH: _KEY,
    ExtType.KEY_ENCRYPT: _KEY,
    ExtType.X_SA2: _SA2,
    ExtType.X_POLICY: _POLICY,
}

# Extensions a kernel repeats from SA to SA (limits, the SA2 of a mode/reqid, a peer's address, the proxy):
# decoded once and shared, as they are immutable. Not the SA, keys or current lifetime (unique per SA).
_SHAREABLE = frozenset(
    {
        ExtType.LIFETIME_HARD,
        ExtType.LIFETIME_SOFT,
        ExtType.ADDRESS_SRC,
        ExtType.ADDRESS_DST,
        ExtType.ADDRESS_PROXY,
        ExtType.X_SA2,
    }
)
SHARED_MAX = 4096  # decoded extensions kept for sharing; the table starts afresh when full

ExtensionWalker = Callable[[bytes, int, int], tuple[Extension, ...]]


def extension_walker(codec: WireCodec) -> ExtensionWalker:
    """A function ``walk(buf, off, end)`` decoding the extensions in ``buf[off:end]`` for ``codec``."""
    p = codec.platform
    o = p.byteorder
    kinds: dict[int, int] = {}
    for ctype, kind in _KINDS.items():
        wire = p.ext_to_wire.get(ctype)
        # Fast paths only where the wire number is the canonical one (true for 1–19 on every platform).
        if wire == ctype and not (kind == _ADDRESS and p.bsd_sockaddr) and not (
            kind == _POLICY and p.ipsecrequest_size != 16
        ):
            kinds[wire] = kind
    kind_of = kinds.get
    unpack_hdr = struct.Struct(o + "HH").unpack_from
    unpack_lifetime = struct.Struct(o + "HIQQQ").unpack_from  # from byte 2: type … usetime
    # from byte 2: type, proto, prefixlen, reserved, sockaddr family
    unpack_address = struct.Struct(o + "HBBHH").unpack_from
    unpack_key = struct.Struct(o + "HHH").unpack_from  # from byte 2: type, bits, reserved
    unpack_sa = struct.Struct(o + "HIBBBBI").unpack_from  # from byte 2: type, spi (native), replay … flags
    unpack_sa2 = struct.Struct(o + "HBBHII").unpack_from  # from byte 2: type, mode, r1, r2, sequence, reqid
    unpack_policy = struct.Struct(o + "HHBBII").unpack_from  # from byte 2: type, policy type, dir, r, id, prio
    unpack_req = struct.Struct(o + "HHBBHII").unpack_from  # a Linux sadb_x_ipsecrequest (16 bytes)
    decode_sockaddr = codec.decode_sockaddr
    requests: dict[bytes, IpsecRequest] = {}  # a request's bytes -> the decoded request (shared)
    unpack_be32 = struct.Struct(">I").unpack_from
    unpack_v6 = struct.Struct(">HI16s").unpack_from  # from sockaddr byte 2: port, flowinfo, address
    unpack_scope = struct.Struct(o + "I").unpack_from
    af_inet6 = p.af_inet6
    decode_ext = codec.decode_ext
    trailer0 = (b"",)
    # Extensions that are usually the same bytes in every message of a dump share one decoded object.
    shareable = frozenset(w for w, c in p.ext_from_wire.items() if c in _SHAREABLE and w in kinds)
    shared: dict[bytes, Extension] = {}
    shared_get = shared.get

    def _policy(b: bytes, off: int, end: int) -> PolicyExt | None:
        """A Linux X_POLICY whose requests fill it exactly; None for anything else (the generic path)."""
        t, ptype, pdir, res, pid, prio = unpack_policy(b, off + 2)
        reqs: list[IpsecRequest] = []
        r = off + 16
        while r < end:
            if end - r < 16:
                return None
            rlen = b[r] | b[r + 1] << 8 if o == "<" else b[r] << 8 | b[r + 1]
            if rlen < 16 or r + rlen > end:
                return None
            raw = b[r : r + rlen]
            req = requests.get(raw)
            if req is None:
                _, proto, mode, level, r1, reqid, r2 = unpack_req(b, r)
                src = dst = None
                if rlen > 16:
                    try:
                        src, n1 = decode_sockaddr(b, r + 16, r + rlen)
                        dst, n2 = decode_sockaddr(b, r + 16 + n1, r + rlen)
                    except DecodeError:
                        return None
                    if 16 + n1 + n2 != rlen:
                        return None
                req = _new(IpsecRequest, (proto, mode, level, reqid, src, dst, r1, r2))
                if len(requests) >= SHARED_MAX:
                    requests.clear()
                requests[raw] = req
            reqs.append(req)
            r += rlen
        return _new(PolicyExt, (ptype, pdir, pid, prio, tuple(reqs), res, t, b""))

    def walk(b: bytes, off: int, n: int) -> tuple[Extension, ...]:
        exts: list[Extension] = []
        append = exts.append
        while off < n:
            if n - off < 4:
                raise DecodeError(off, f"{n - off} bytes left, too few for an extension header")
            elen, etype = unpack_hdr(b, off)
            if elen == 0:
                raise DecodeError(off, f"extension type {etype} has length 0")
            end = off + elen * 8
            if end > n:
                raise DecodeError(
                    off, f"extension type {etype} is {elen * 8} bytes, longer than the {n - off} left"
                )
            kind = kind_of(etype)
            if kind is None:
                append(decode_ext(b, off, end, etype))
                off = end
                continue
            raw = None
            if etype in shareable:
                raw = b[off:end]
                x = shared_get(raw)
                if x is not None:
                    append(x)
                    off = end
                    continue
            size = end - off
            x = None
            if kind == _LIFETIME and size == 32:
                x = _new(LifetimeExt, unpack_lifetime(b, off + 2) + trailer0)
            elif kind == _ADDRESS and (size == 24 or size == 40):
                t, proto, plen, res, fam = unpack_address(b, off + 2)
                sa = None
                if fam == AF_INET and size == 24:
                    z = b[off + 16 : end]
                    port = b[off + 10] << 8 | b[off + 11]
                    sa = _new(
                        Sockaddr, (fam, port, b[off + 12 : off + 16], 0, 0, 0, b"" if z == _ZERO8 else z)
                    )
                elif fam == af_inet6 and size == 40 and b[off + 36 : end] == _ZPAD[4]:
                    port, flow, addr = unpack_v6(b, off + 10)
                    sa = _new(Sockaddr, (fam, port, addr, flow, unpack_scope(b, off + 32)[0], 0, b""))
                if sa is not None:
                    x = _new(AddressExt, (t, sa, proto, plen, res, b""))
            elif kind == _KEY:
                t, bits, res = unpack_key(b, off + 2)
                kend = off + 8 + ((bits + 7) >> 3)
                pad = end - kend
                if 0 <= pad < 8 and b[kend:end] == _ZPAD[pad]:
                    x = _new(KeyExt, (t, bits, b[off + 8 : kend], res, b""))
            elif kind == _SA and size == 16:
                t, _, replay, state, auth, enc, flags = unpack_sa(b, off + 2)
                x = _new(SAExt, (unpack_be32(b, off + 4)[0], replay, state, auth, enc, flags, t, b""))
            elif kind == _SA2 and size == 16:
                t, mode, r1, r2, seq, reqid = unpack_sa2(b, off + 2)
                x = _new(SA2Ext, (mode, reqid, seq, r1, r2, t, b""))
            elif kind == _POLICY and size >= 16:
                x = _policy(b, off, end)
            if x is None:  # not the canonical form: the generic decoder validates and keeps trailers
                x = decode_ext(b, off, end, etype)
            if raw is not None:
                if len(shared) >= SHARED_MAX:
                    shared.clear()
                shared[raw] = x
            append(x)
            off = end
        return tuple(exts)

    return walk
