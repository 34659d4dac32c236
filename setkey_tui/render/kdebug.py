"""``kdebug_sadb``: the -x / -v decoding of one raw PF_KEY message, extension by extension.

Works on the bytes (not on a decoded :class:`Message`) so that malformed input is still shown as far as it
goes, with one line saying what is wrong; it never raises. Linux/Darwin use libipsec's layout (ipsec-tools),
FreeBSD its kernel key_debug.c variant (names after numbers, one-line sockaddrs, policy scope).
Unlike the recorded ipsec-tools binary, ``key=`` shows the real key bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable

from setkey_tui.pfkey.constants import ADDRESS_EXTS, LIFETIME_EXTS, ExtType
from setkey_tui.pfkey.platform import FREEBSD, LINUX, Platform
from setkey_tui.render.hexdump import key_hex
from setkey_tui.render.names import FB_EXT_NAMES, FB_MSG_NAMES

_HEADER_ONLY = frozenset({ExtType.SENSITIVITY, ExtType.SPIRANGE, ExtType.X_KMPRIVATE})


class _Ctx:
    """What the extension printers need: byte order, platform and the output list."""

    __slots__ = ("bo", "platform", "out", "fb")

    def __init__(self, platform: Platform) -> None:
        self.bo = platform.byteorder
        self.platform = platform
        self.fb = platform is FREEBSD
        self.out: list[str] = []


def _u16(ctx: _Ctx, data: bytes, off: int) -> int:
    value: int = struct.unpack_from(ctx.bo + "H", data, off)[0]
    return value


def _u32(ctx: _Ctx, data: bytes, off: int) -> int:
    value: int = struct.unpack_from(ctx.bo + "I", data, off)[0]
    return value


def _sockaddr(ctx: _Ctx, data: bytes, off: int, end: int) -> int:
    """Print the sockaddr at ``off``; return its length (0 when it cannot be read)."""
    p = ctx.platform
    if end - off < 2:
        ctx.out.append("kdebug_sockaddr: no room for a sockaddr.\n")
        return 0
    if p.bsd_sockaddr:
        salen, family = data[off], data[off + 1]
    else:
        family = _u16(ctx, data, off)
        salen = p.sockaddr_size(family) or 16
    size = 28 if family == p.af_inet6 else 16
    if end - off < size:
        ctx.out.append(f"kdebug_sockaddr: sockaddr of family {family} needs {size} bytes, {end - off} left.\n")
        return 0
    port = struct.unpack_from(">H", data, off + 2)[0]
    if ctx.fb:
        if family == 2:
            addr = str(ipaddress.IPv4Address(data[off + 4 : off + 8]))
        elif family == p.af_inet6:
            addr = str(ipaddress.IPv6Address(data[off + 8 : off + 24]))
            scope = _u32(ctx, data, off + 24)
            if scope and addr.startswith("fe80:"):
                addr += f"%{scope}"
        else:
            addr = "unknown"
        ctx.out.append(f"sockaddr{{ len={salen} family={family} addr={addr} }}\n")
        return salen or size
    if family == 2:
        ctx.out.append(f"sockaddr{{ len={salen} family={family} port={port}\n"
                       f"{key_hex(data[off + 4 : off + 8])}  }}\n")
    elif family == p.af_inet6:
        flowinfo = _u32(ctx, data, off + 4)
        scope = _u32(ctx, data, off + 24)
        ctx.out.append(f"sockaddr{{ len={salen} family={family} port={port}\n"
                       f"  flowinfo=0x{flowinfo:08x}, scope_id=0x{scope:08x}\n"
                       f"{key_hex(data[off + 8 : off + 24])}  }}\n")
    else:
        ctx.out.append(f"sockaddr{{ len={salen} family={family}  }}\n")
    return salen or size


def _sa(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    spi = struct.unpack_from(">I", d, o + 4)[0]
    replay, state, auth, enc = d[o + 8], d[o + 9], d[o + 10], d[o + 11]
    ctx.out.append(f"sadb_sa{{ spi={spi} replay={replay} state={state}\n"
                   f"  auth={auth} encrypt={enc} flags=0x{_u32(ctx, d, o + 12):08x} }}\n")


def _lifetime(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    alloc, nbytes, add, use = struct.unpack_from(ctx.bo + "IQQQ", d, o + 4)
    ctx.out.append(f"sadb_lifetime{{ alloc={alloc}, bytes={nbytes & 0xFFFFFFFF}\n"
                   f"  addtime={add & 0xFFFFFFFF}, usetime={use & 0xFFFFFFFF} }}\n")


def _address(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    ctx.out.append(f"sadb_address{{ proto={d[o + 4]} prefixlen={d[o + 5]} "
                   f"reserved=0x{d[o + 6]:02x}{d[o + 7]:02x} }}\n")
    _sockaddr(ctx, d, o + 8, e)


def _key(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    bits, reserved = _u16(ctx, d, o + 4), _u16(ctx, d, o + 6)
    ctx.out.append(f"sadb_key{{ bits={bits} reserved={reserved}\n  key=")
    room = e - o - 8
    if bits >> 3 > room:
        ctx.out.append(f"kdebug_sadb_key: key length mismatch, bit:{bits >> 3} len:{room}.\n")
    ctx.out.append(key_hex(d[o + 8 : o + 8 + min(bits >> 3, room)]) + " }\n")


def _identity(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    itype = _u16(ctx, d, o + 4)
    ident = struct.unpack_from(ctx.bo + "Q", d, o + 8)[0]
    which = "src" if ctx.platform.ext_from_wire.get(_u16(ctx, d, o + 2)) == ExtType.IDENTITY_SRC else "dst"
    text = f"sadb_ident_{which}{{ type={itype} id={ident}"
    if e - o > 16:
        chars = []
        for b in d[o + 16 : e]:
            if b == 0:
                break
            chars.append(chr(b) if 0x20 <= b < 0x7F else f"\\{b:03o}")
        text += '\n  str="' + "".join(chars) + '"'
    ctx.out.append(text + " }\n")


def _proposal(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    out = ctx.out
    out.append(f"sadb_prop{{ replay={d[o + 4]}\n")
    fmt = ctx.bo + "BBHHHHHIIIQQQQQQ"
    off = o + 8
    while off + 72 <= e:
        (auth, enc, flags, amin, amax, emin, emax, res, salloc, halloc, sbytes, hbytes, sadd, hadd, suse,
         huse) = struct.unpack_from(fmt, d, off)
        out.append(f"sadb_comb{{ auth={auth} encrypt={enc} flags=0x{flags:04x} reserved=0x{res:08x}\n"
                   f"  auth_minbits={amin} auth_maxbits={amax} encrypt_minbits={emin} encrypt_maxbits={emax}\n"
                   f"  soft_alloc={salloc} hard_alloc={halloc} soft_bytes={sbytes} hard_bytes={hbytes}\n"
                   f"  soft_alloc={sadd} hard_alloc={hadd} soft_bytes={suse} hard_bytes={huse} }}\n")
        off += 72
    if off != e:
        out.append(f"kdebug_sadb_prop: {e - off} bytes left over after the sadb_comb entries.\n")
    out.append("}\n")


def _supported(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    out = ctx.out
    out.append("sadb_sup{\n")
    off = o + 8
    while off + 8 <= e:
        aid, ivlen, amin, amax = struct.unpack_from(ctx.bo + "BBHH", d, off)
        out.append(f"  {{ id={aid} ivlen={ivlen} min={amin} max={amax} }}\n")
        off += 8
    out.append("}\n")


def _policy(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    out = ctx.out
    ptype, pdir, scope, pid, prio = struct.unpack_from(ctx.bo + "HBBII", d, o + 4)
    p = ctx.platform
    if ctx.fb:
        label = "ifindex" if scope == 2 else "priority"
        out.append(f"sadb_x_policy{{ type={ptype} dir={pdir} id={pid:x} scope={scope} {label}={prio} }}\n")
    elif p.policy_priority:
        out.append(f"sadb_x_policy{{ type={ptype} dir={pdir} id={pid:x} priority={prio} }}\n")
    else:
        out.append(f"sadb_x_policy{{ type={ptype} dir={pdir} id={pid:x} }}\n")
    if ptype != 2:
        return
    rsize = p.ipsecrequest_size
    off = o + 16
    while off < e:
        if e - off < rsize:
            out.append("invalid ipsec policy length\n")
            return
        rlen, proto, mode, level = struct.unpack_from(ctx.bo + "HHBB", d, off)
        reqid = _u32(ctx, d, off + 8) if rsize == 16 else _u16(ctx, d, off + 6)
        out.append(f" {{ len={rlen} proto={proto} mode={mode} level={level} reqid={reqid}\n")
        if rlen > rsize and off + rlen <= e:
            first = _sockaddr(ctx, d, off + rsize, off + rlen)
            if first:
                _sockaddr(ctx, d, off + rsize + first, off + rlen)
        out.append(" }\n")
        if rlen == 0:
            out.append("kdebug_sadb_x_policy: wrong policy struct.\n")
            return
        if rlen > e - off:
            out.append("invalid ipsec policy length\n")
            return
        off += rlen


def _sa2(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    mode, r1, r2, seq, reqid = struct.unpack_from(ctx.bo + "BBHII", d, o + 4)
    ctx.out.append(f"sadb_x_sa2{{ mode={mode} reqid={reqid}\n  reserved1={r1} reserved2={r2} sequence={seq} }}\n")


def _natt_type(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    ctx.out.append(f"sadb_x_nat_t_type{{ type={d[o + 4]} }}\n")


def _natt_port(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    ctx.out.append(f"sadb_x_nat_t_port{{ port={struct.unpack_from('>H', d, o + 4)[0]} }}\n")


def _natt_frag(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    ctx.out.append(f"sadb_x_nat_t_frag{{ fraglen={_u16(ctx, d, o + 4)} }}\n")


def _sa_replay(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    ctx.out.append(f"sadb_x_sa_replay{{ replay={_u32(ctx, d, o + 4)} }}\n")


def _sec_ctx(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    alg, doi = d[o + 4], d[o + 5]
    clen = _u16(ctx, d, o + 6)
    text = d[o + 8 : min(e, o + 8 + clen)].split(b"\0", 1)[0].decode("latin-1")
    ctx.out.append(f'sadb_x_sec_ctx{{ alg={alg} doi={doi} len={clen}\n  ctx="{text}" }}\n')


def _kmaddress(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    ctx.out.append(f"sadb_x_kmaddress{{ reserved=0x{d[o + 4]:02x}{d[o + 5]:02x}{d[o + 6]:02x}{d[o + 7]:02x} }}\n")
    first = _sockaddr(ctx, d, o + 8, e)
    if first:
        _sockaddr(ctx, d, o + 8 + first, e)


def _filter(ctx: _Ctx, d: bytes, o: int, e: int) -> None:
    family = _u16(ctx, d, o + 36)
    n = 4 if family == 2 else 16
    ctx.out.append(f"sadb_x_filter{{ family={family} splen={d[o + 38]} dplen={d[o + 39]}\n"
                   f"  saddr={key_hex(d[o + 4 : o + 4 + n])}\n  daddr={key_hex(d[o + 20 : o + 20 + n])} }}\n")


_Printer = Callable[[_Ctx, bytes, int, int], None]
# canonical ext type → (printer, minimum length in bytes)
_PRINTERS: dict[int, tuple[_Printer, int]] = {
    ExtType.SA: (_sa, 16),
    ExtType.KEY_AUTH: (_key, 8),
    ExtType.KEY_ENCRYPT: (_key, 8),
    ExtType.IDENTITY_SRC: (_identity, 16),
    ExtType.IDENTITY_DST: (_identity, 16),
    ExtType.PROPOSAL: (_proposal, 8),
    ExtType.SUPPORTED_AUTH: (_supported, 8),
    ExtType.SUPPORTED_ENCRYPT: (_supported, 8),
    ExtType.X_POLICY: (_policy, 16),
    ExtType.X_SA2: (_sa2, 16),
    ExtType.X_NAT_T_TYPE: (_natt_type, 8),
    ExtType.X_NAT_T_SPORT: (_natt_port, 8),
    ExtType.X_NAT_T_DPORT: (_natt_port, 8),
    ExtType.X_NAT_T_FRAG: (_natt_frag, 8),
    ExtType.X_SA_REPLAY: (_sa_replay, 8),
    ExtType.X_SEC_CTX: (_sec_ctx, 8),
    ExtType.X_KMADDRESS: (_kmaddress, 8),
    ExtType.X_FILTER: (_filter, 40),
}
for _t in LIFETIME_EXTS:
    _PRINTERS[_t] = (_lifetime, 32)
for _t in ADDRESS_EXTS:
    _PRINTERS[_t] = (_address, 8)


def _name(table: tuple[str, ...], value: int) -> str:
    return table[value] if value < len(table) else "UNKNOWN"


_MSG_HEADER = {bo: struct.Struct(bo + "BBBBHHII").unpack_from for bo in "<>"}
_EXT_HEADER = {bo: struct.Struct(bo + "HH").unpack_from for bo in "<>"}
_CACHE_LIMIT = 8192  # extension (and header) texts kept per platform (cleared when full)


def _extension(ctx: _Ctx, data: bytes, off: int, eend: int, elen: int, etype: int) -> tuple[str, bool]:
    """The text of one extension (its ``sadb_ext`` line included) and whether decoding must stop after it.

    The text depends only on the platform and the extension's own bytes, which is what lets
    :func:`kdebug` keep it by those bytes."""
    out = ctx.out = []
    fb = ctx.fb
    if fb:
        out.append(f"sadb_ext{{ len={elen} type={etype}({_name(FB_EXT_NAMES, etype)}) }}\n")
    else:
        out.append(f"sadb_ext{{ len={elen} type={etype} }}\n")
    canon = ctx.platform.ext_from_wire.get(etype)
    entry = _PRINTERS.get(canon) if canon is not None else None
    stop = False
    if canon in _HEADER_ONLY:
        pass
    elif entry is None:
        if fb:
            out.append(f"kdebug_sadb: invalid ext_type {etype}\n")
        else:
            out.append(f"kdebug_sadb: invalid ext_type {etype} was passed.\n")
        stop = True
    else:
        printer, minimum = entry
        if elen * 8 < minimum:
            out.append(f"kdebug_sadb: extension type {etype} is {elen * 8} bytes, "
                       f"shorter than its {minimum}-byte structure.\n")
        else:
            printer(ctx, data, off, eend)
    return "".join(out), stop


_BE16 = struct.Struct(">H").unpack_from
_BE32 = struct.Struct(">I").unpack_from
_FastPrinter = Callable[[bytes, int, int, int], "str | None"]


def _fast_printers(platform: Platform) -> dict[int, _FastPrinter]:
    """Printers of the whole text of the extensions a flood makes new every message (the SA and the
    addresses, by wire type), straight from the bytes; a printer returns None for anything it does not
    handle exactly as :func:`_extension` does (which then prints it). Only for the libipsec layout with
    Linux sockaddrs (the BSD variants take the general path)."""
    if platform is FREEBSD or platform.bsd_sockaddr:
        return {}
    bo = platform.byteorder
    u16 = struct.Struct(bo + "H").unpack_from
    u32 = struct.Struct(bo + "I").unpack_from
    inet6 = platform.af_inet6

    def sa(d: bytes, o: int, elen: int, etype: int) -> str | None:
        if elen < 2:
            return None
        return (f"sadb_ext{{ len={elen} type={etype} }}\nsadb_sa{{ spi={_BE32(d, o + 4)[0]} replay={d[o + 8]} "
                f"state={d[o + 9]}\n  auth={d[o + 10]} encrypt={d[o + 11]} flags=0x{u32(d, o + 12)[0]:08x} }}\n")

    def address(d: bytes, o: int, elen: int, etype: int) -> str | None:
        room = elen * 8 - 8
        if room < 16:
            return None
        family = u16(d, o + 8)[0]
        head = (f"sadb_ext{{ len={elen} type={etype} }}\nsadb_address{{ proto={d[o + 4]} prefixlen={d[o + 5]} "
                f"reserved=0x{d[o + 6]:02x}{d[o + 7]:02x} }}\n")
        if family == 2:
            return (f"{head}sockaddr{{ len=16 family=2 port={_BE16(d, o + 10)[0]}\n "
                    f"{d[o + 12 : o + 16].hex()}  }}\n")
        if family == inet6 and room >= 28:
            return (f"{head}sockaddr{{ len=28 family={family} port={_BE16(d, o + 10)[0]}\n"
                    f"  flowinfo=0x{u32(d, o + 12)[0]:08x}, scope_id=0x{u32(d, o + 32)[0]:08x}\n "
                    f"{d[o + 16 : o + 32].hex(' ', -4)}  }}\n")
        return None

    printers: dict[int, _FastPrinter] = {}
    for wire, canon in platform.ext_from_wire.items():
        if canon == ExtType.SA:
            printers[wire] = sa
        elif canon in ADDRESS_EXTS:
            printers[wire] = address
    return printers


def _header(data: bytes, platform: Platform) -> str:
    """The ``sadb_msg`` lines of a message's 16-byte header."""
    version, mtype, err, satype, mlen, reserved, seq, pid = _MSG_HEADER[platform.byteorder](data, 0)
    if platform is FREEBSD:
        return (f"sadb_msg{{ version={version} type={mtype}({_name(FB_MSG_NAMES, mtype)}) errno={err} "
                f"satype={satype}\n  len={mlen} reserved={reserved} seq={seq} pid={pid}\n")
    return (f"sadb_msg{{ version={version} type={mtype} errno={err} satype={satype}\n"
            f"  len={mlen} reserved={reserved} seq={seq} pid={pid}\n")


# per platform: extension texts by their bytes, the fast printers, header texts by the header's bytes
_state: dict[Platform, tuple[dict[bytes, str], dict[int, _FastPrinter], dict[bytes, str]]] = {}


def kdebug(data: bytes, platform: Platform = LINUX) -> str:
    """The kdebug_sadb text of one message (each line ends with a newline; no trailing empty line).

    Each well-formed extension's text (and each header's) is kept by its bytes (per platform), so a flood
    of similar messages formats each distinct extension once; the SA and address extensions a flood makes
    new every message are printed straight from the bytes."""
    n = len(data)
    if n < 16:
        return f"kdebug_sadb: message of {n} bytes is shorter than the 16-byte sadb_msg header.\n"
    state = _state.get(platform)
    if state is None:
        state = _state[platform] = ({}, _fast_printers(platform), {})
    cache, fast, heads = state
    head = data[:16]
    first = heads.get(head)
    if first is None:
        first = _header(data, platform)
        if len(heads) >= _CACHE_LIMIT:
            heads.clear()
        heads[head] = first
    out = [first]
    bo = platform.byteorder
    fb = platform is FREEBSD
    end = n
    mlen = _EXT_HEADER[bo](data, 4)[0]
    if mlen * 8 != n:
        end = min(n, max(mlen * 8, 16))
        out.append(f"kdebug_sadb: sadb_msg_len={mlen} ({mlen * 8} bytes) but {n} bytes were received.\n")
    known = cache.get
    append = out.append
    ext_header = _EXT_HEADER[bo]
    ctx: _Ctx | None = None
    off = 16
    while off < end:
        if end - off < 4:
            append(f"kdebug_sadb: {end - off} bytes left, too few for an extension header.\n")
            break
        elen, etype = ext_header(data, off)
        eend = off + elen * 8
        if elen and eend <= end:
            key = data[off:eend]
            text = known(key)
            if text is None:
                printer = fast.get(etype)
                if printer is not None:
                    text = printer(data, off, elen, etype)
                    if text is not None:
                        append(text)
                        if len(cache) >= _CACHE_LIMIT:
                            cache.clear()
                        cache[key] = text
                        off = eend
                        continue
                if ctx is None:
                    ctx = _Ctx(platform)
                text, stop = _extension(ctx, data, off, eend, elen, etype)
                out.append(text)
                if stop:
                    break
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[key] = text
            else:
                append(text)
            off = eend
            continue
        if fb:
            out.append(f"sadb_ext{{ len={elen} type={etype}({_name(FB_EXT_NAMES, etype)}) }}\n")
        else:
            out.append(f"sadb_ext{{ len={elen} type={etype} }}\n")
        if elen == 0:
            out.append("kdebug_sadb: invalid ext_len=0 was passed.\n")
        elif fb:
            out.append(f"kdebug_sadb: ext_len too big ({elen * 8} > {end - off}).\n")
        else:
            out.append("kdebug_sadb: ext_len exceeds end of buffer.\n")
        break
    return "".join(out)
