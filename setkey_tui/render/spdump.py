"""``setkey -DP`` / ``spddump`` entries (libipsec pfkey_spdump), byte for byte."""

from __future__ import annotations

from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import AddressExt, LifetimeExt, PolicyExt, SecCtxExt
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import FREEBSD, LINUX, Platform
from setkey_tui.render.names import (
    IPPROTO_GRE,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_MH,
    addr_text,
    protocol_name,
)
from setkey_tui.render.policy import PolicyTextError, dump_policy
from setkey_tui.render.sadump import sec_ctx_lines
from setkey_tui.render.timefmt import str_time

_NO_PORT_PROTOS_LINUX = (IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MH, IPPROTO_GRE)
_NO_PORT_PROTOS_BSD = (IPPROTO_ICMPV6,)
_SCOPES = {1: "global", 2: "ifnet", 4: "pcb"}


def _prefport(ext: AddressExt, ulp: int, platform: Platform) -> str:
    sa = ext.sockaddr
    full = 32 if sa.version == 4 else 128
    plen = "" if ext.prefixlen == full else f"/{ext.prefixlen}"
    no_port = _NO_PORT_PROTOS_LINUX if platform is LINUX else _NO_PORT_PROTOS_BSD
    if ulp in no_port:
        port = ""
    elif sa.port == 0:
        port = "[any]"
    else:
        port = f"[{sa.port}]"
    return f"{addr_text(sa)}{plen}{port}"


def _selector(src: AddressExt, dst: AddressExt, platform: Platform) -> str:
    """The selector line's text: both ranges, the upper-layer protocol and its ICMP type/code or GRE key."""
    ulp = src.proto
    text = f"{_prefport(src, ulp, platform)} {_prefport(dst, ulp, platform)} {protocol_name(ulp, platform)}"
    sport, dport = src.sockaddr.port, dst.sockaddr.port
    if platform is LINUX:
        if ulp in (IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MH) and (sport or dport):
            text += f" {sport},{dport}"
        elif ulp == IPPROTO_GRE and (sport or dport):
            text += f" {(sport << 16) + dport}"
    return text


def format_sp(msg: Message, *, now: int, withports: bool = False, platform: Platform = LINUX) -> str:
    """One -DP entry for a policy message (SPDGET or SPDDUMP reply). ``now`` is unused by setkey's format
    but kept for symmetry with :func:`format_sa`."""
    del now
    if msg.type == MsgType.X_SPDDUMP and not msg.extensions:
        return ""  # a bare 16-byte SPDDUMP reply: setkey prints nothing for it
    exts = msg.ext_map()
    src = exts.get(ExtType.ADDRESS_SRC)
    dst = exts.get(ExtType.ADDRESS_DST)
    pol = exts.get(ExtType.X_POLICY)
    out: list[str] = []
    if isinstance(src, AddressExt) and isinstance(dst, AddressExt):
        if src.proto != dst.proto:
            return "upper layer protocol mismatched.\n"
        out.append(_selector(src, dst, platform))
        if platform is LINUX and isinstance(pol, PolicyExt) and pol.id % 8 >= 3:
            out.append("(per-socket policy) ")
    else:
        out.append("(no selector, probably per-socket policy) ")
    if not isinstance(pol, PolicyExt):
        out.append("no X_POLICY extension.\n")
        return "".join(out)
    try:
        out.append("\n\t" + dump_policy(pol, "\n\t", withports=withports, platform=platform) + "\n")
    except PolicyTextError as exc:
        out.append(f"\n\tPolicy:[{exc}]\n")
    cur = exts.get(ExtType.LIFETIME_CURRENT)
    if isinstance(cur, LifetimeExt):
        out.append(f"\tcreated: {str_time(cur.addtime)}  lastused: {str_time(cur.usetime)}\n")
    hard = exts.get(ExtType.LIFETIME_HARD)
    if isinstance(hard, LifetimeExt):
        out.append(f"\tlifetime: {hard.addtime}(s) validtime: {hard.usetime}(s)\n")
    if platform is LINUX:
        ctx = exts.get(ExtType.X_SEC_CTX)
        out.append(sec_ctx_lines(ctx if isinstance(ctx, SecCtxExt) else None))
        out.append(f"\tspid={pol.id} seq={msg.seq} pid={msg.pid}\n")
    elif platform is FREEBSD:
        scope = _SCOPES.get(pol.reserved, str(pol.reserved))
        out.append(f"\tspid={pol.id} seq={msg.seq} pid={msg.pid} scope={scope} \n")
    else:
        out.append(f"\tspid={pol.id} seq={msg.seq} pid={msg.pid}\n")
    out.append(f"\trefcnt={msg.reserved}\n")
    return "".join(out)
