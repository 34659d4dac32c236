"""``setkey -D`` / ``get`` / ``dump`` entries (libipsec pfkey_sadump), byte for byte."""

from __future__ import annotations

from setkey_tui.pfkey.constants import ExtType, SAType
from setkey_tui.pfkey.extensions import (
    AddressExt,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    SA2Ext,
    SAExt,
    SAReplayExt,
    SecCtxExt,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import DARWIN, LINUX, Platform
from setkey_tui.render.hexdump import key_hex
from setkey_tui.render.names import COMP_NAMES, MODE_NAMES, SATYPE_NAMES, STATE_NAMES, addr_text, msgstr
from setkey_tui.render.timefmt import str_time

_U64 = 1 << 64


def _alg(names: dict[int, str], alg: int) -> str:
    name = names.get(alg)
    return f"{name} " if name is not None else f"{alg} "


def _addr(ext: AddressExt, withports: bool, natt_port: NatTPortExt | None) -> str:
    sa = ext.sockaddr
    text = addr_text(sa)
    if withports:
        text += f"[{sa.port}]"
    if natt_port is not None:
        text += f"[{natt_port.port}]"
    return text


def sec_ctx_lines(ctx: SecCtxExt | None) -> str:
    """The Linux security-context lines of -D/-DP (empty without a context)."""
    if ctx is None:
        return ""
    label = ctx.ctx.split(b"\0", 1)[0].decode("latin-1")
    return (
        f"\tsecurity context doi: {ctx.doi}\n\tsecurity context algorithm: {ctx.alg}\n"
        f"\tsecurity context length: {len(ctx.ctx)}\n"
        f"\tsecurity context: {label}\n"
    )


def format_sa(msg: Message, *, now: int, withports: bool = False, platform: Platform = LINUX) -> str:
    """One -D entry for an SA message (GET or DUMP reply), with setkey's trailing blanks and quirks."""
    bsd = platform is not LINUX
    exts = msg.ext_map()
    sa = exts.get(ExtType.SA)
    sa2 = exts.get(ExtType.X_SA2)
    src = exts.get(ExtType.ADDRESS_SRC)
    dst = exts.get(ExtType.ADDRESS_DST)
    nl = "\n" if bsd else ""
    natt = exts.get(ExtType.X_NAT_T_TYPE)
    natt_type = natt.type if isinstance(natt, NatTTypeExt) else 0
    sport = exts.get(ExtType.X_NAT_T_SPORT) if natt_type else None
    dport = exts.get(ExtType.X_NAT_T_DPORT) if natt_type else None
    out: list[str] = []
    if not isinstance(src, AddressExt):
        return f"{nl}no ADDRESS_SRC extension.\n"
    out.append(_addr(src, withports, sport if isinstance(sport, NatTPortExt) else None))
    if not isinstance(dst, AddressExt):
        out.append(f"{nl} no ADDRESS_DST extension.\n")
        return "".join(out)
    out.append(" ")
    out.append(_addr(dst, withports, dport if isinstance(dport, NatTPortExt) else None))
    if not bsd:
        out.append(" ")
    if not isinstance(sa, SAExt):
        out.append(f"{nl}no SA extension.\n")
        return "".join(out)
    if not isinstance(sa2, SA2Ext):
        out.append(f"{nl}no SA2 extension.\n")
        return "".join(out)
    out.append("\n\t")
    if natt_type:
        out.append("esp-udp " if msg.satype == SAType.ESP else "natt+" + msgstr(SATYPE_NAMES, msg.satype))
    else:
        out.append(msgstr(SATYPE_NAMES, msg.satype))
    out.append("mode=" + msgstr(MODE_NAMES, sa2.mode))
    out.append(f"spi={sa.spi}(0x{sa.spi:08x}) reqid={sa2.reqid}(0x{sa2.reqid:08x})\n")
    if natt_type:
        oa = exts.get(ExtType.X_NAT_T_OA)
        if bsd:
            oar = exts.get(ExtType.X_NAT_T_OAR)
            if isinstance(oa, AddressExt) or isinstance(oar, AddressExt):
                out.append("\tNAT:")
                if isinstance(oa, AddressExt):
                    out.append(f" OAI={addr_text(oa.sockaddr)}")
                if isinstance(oar, AddressExt):
                    out.append(f" OAR={addr_text(oar.sockaddr)}")
                out.append("\n")
        elif isinstance(oa, AddressExt):
            out.append(f"\tNAT OA={addr_text(oa.sockaddr)}\n")
    enc = exts.get(ExtType.KEY_ENCRYPT)
    if msg.satype == SAType.IPCOMP:
        out.append("\tC: " + msgstr(COMP_NAMES, sa.encrypt))
    elif msg.satype == SAType.ESP and isinstance(enc, KeyExt):
        out.append("\tE: " + _alg(platform.enc_names, sa.encrypt) + key_hex(enc.key[: enc.bits // 8]) + "\n")
    auth = exts.get(ExtType.KEY_AUTH)
    if isinstance(auth, KeyExt):
        out.append("\tA: " + _alg(platform.auth_names, sa.auth) + key_hex(auth.key[: auth.bits // 8]) + "\n")
    replay = sa.replay
    if bsd:
        rep = exts.get(ExtType.X_SA_REPLAY)
        if isinstance(rep, SAReplayExt):
            replay = rep.replay >> 3
    out.append(f"\tseq=0x{sa2.sequence:08x} replay={replay} flags=0x{sa.flags:08x} ")
    if platform is DARWIN:
        out.append(f"flags2=0x{sa2.reserved2:08x} ")
    out.append("state=" + msgstr(STATE_NAMES, sa.state) + "\n")
    cur = exts.get(ExtType.LIFETIME_CURRENT)
    if isinstance(cur, LifetimeExt):
        hard = exts.get(ExtType.LIFETIME_HARD)
        soft = exts.get(ExtType.LIFETIME_SOFT)
        h = hard if isinstance(hard, LifetimeExt) else LifetimeExt(ExtType.LIFETIME_HARD)
        s = soft if isinstance(soft, LifetimeExt) else LifetimeExt(ExtType.LIFETIME_SOFT)
        diff = (now - cur.addtime) % _U64 if cur.addtime else 0
        out.append(
            f"\tcreated: {str_time(cur.addtime)}\tcurrent: {str_time(now)}\n"
            f"\tdiff: {diff}(s)\thard: {h.addtime}(s)\tsoft: {s.addtime}(s)\n"
            f"\tlast: {str_time(cur.usetime)}\thard: {h.usetime}(s)\tsoft: {s.usetime}(s)\n"
            f"\tcurrent: {float(cur.byte_count):.0f}(bytes)\thard: {float(h.byte_count):.0f}(bytes)"
            f"\tsoft: {float(s.byte_count):.0f}(bytes)\n"
            f"\tallocated: {cur.allocations}\thard: {h.allocations}\tsoft: {s.allocations}\n"
        )
    if not bsd:
        ctx = exts.get(ExtType.X_SEC_CTX)
        out.append(sec_ctx_lines(ctx if isinstance(ctx, SecCtxExt) else None))
    out.append(f"\tsadb_seq={msg.seq} pid={msg.pid} refcnt={msg.reserved}\n")
    return "".join(out)
