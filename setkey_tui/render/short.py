"""``setkey -D -l``: the one-line-per-SA short dump (setkey.c shortdump), refreshed every second."""

from __future__ import annotations

from setkey_tui.pfkey.constants import ExtType
from setkey_tui.pfkey.extensions import AddressExt, LifetimeExt, SAExt
from setkey_tui.pfkey.message import Message
from setkey_tui.render.names import SHORT_PROTO_NAMES, SHORT_SATYPE_NAMES, SHORT_STATE_NAMES, addr_text


def short_header() -> str:
    """The header line printed before each round of the short dump."""
    return f"{'time':<4} {'p':<3} {'s':<1} {'spi':<8} {'ltime':<7} src -> dst\n"


def _endpoint(ext: object) -> str:
    if not isinstance(ext, AddressExt):
        return "?"
    text = ""
    if ext.proto:
        text = SHORT_PROTO_NAMES.get(ext.proto, f"#{ext.proto}") + " "
    sa = ext.sockaddr
    text += f"{addr_text(sa)}[{sa.port}]" if sa.port else addr_text(sa)
    return text


def format_short(msg: Message, *, now: int) -> str:
    """One SA as ``MMSS p s spi ltime src -> dst`` (now's minute and second first)."""
    exts = msg.ext_map()
    out = [f"{now % 3600 // 60:02d}{now % 60:02d}", f" {SHORT_SATYPE_NAMES.get(msg.satype, f'#{msg.satype}'):<3}"]
    sa = exts.get(ExtType.SA)
    if isinstance(sa, SAExt):
        state = SHORT_STATE_NAMES[sa.state] if 0 <= sa.state < len(SHORT_STATE_NAMES) else f"#{sa.state}"
        out.append(f" {state:<1} {sa.spi:08x}")
    else:
        out.append(f"{'?':<1} {'?':<8}")
    soft, hard, cur = (exts.get(ext_type) for ext_type in (ExtType.LIFETIME_SOFT, ExtType.LIFETIME_HARD,
                                             ExtType.LIFETIME_CURRENT))
    if isinstance(soft, LifetimeExt) and isinstance(hard, LifetimeExt) and isinstance(cur, LifetimeExt):
        age = (now - cur.addtime) & 0xFFFFFFFF if cur.addtime else 0
        out.append(" big/" if age >= 1000 else f" {age:3d}/")
        limit = hard.addtime & 0xFFFFFFFF
        out.append("big" if limit >= 1000 else f"{limit:<3d}")
    else:
        out.append(" ???/???")
    out.append(f" {_endpoint(exts.get(ExtType.ADDRESS_SRC))} -> {_endpoint(exts.get(ExtType.ADDRESS_DST))}\n")
    return "".join(out)
