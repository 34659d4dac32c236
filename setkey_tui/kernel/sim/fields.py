"""Reading a request's fields the way af_key does: addresses, address pairs, modes, satypes."""

from __future__ import annotations

import errno as E

from setkey_tui.kernel.sim.errors import Fail
from setkey_tui.kernel.sim.records import AF_INET6, Addr
from setkey_tui.pfkey.constants import (
    IPSEC_PROTO_ANY,
    SATYPE_TO_PROTO,
    ExtType,
    Mode,
)
from setkey_tui.pfkey.extensions import AddressExt
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import AF_INET


def addr_of(ext: object) -> Addr | None:
    """The address of an address extension, or None when absent or of another family."""
    if not isinstance(ext, AddressExt):
        return None
    sa = ext.sockaddr
    if sa.family not in (AF_INET, AF_INET6):
        return None
    return Addr(sa.family, sa.addr)


def address_pair(
    msg: Message, exts: dict[int, object] | None = None
) -> tuple[Addr, Addr, AddressExt, AddressExt]:
    """Source and destination, present and of one family (present_and_same_family), else EINVAL."""
    if exts is None:
        exts = msg.ext_map()  # type: ignore[assignment]
    assert exts is not None
    s_ext, d_ext = exts.get(ExtType.ADDRESS_SRC), exts.get(ExtType.ADDRESS_DST)
    s, d = addr_of(s_ext), addr_of(d_ext)
    if s is None or d is None or s.family != d.family:
        raise Fail(E.EINVAL)
    assert isinstance(s_ext, AddressExt) and isinstance(d_ext, AddressExt)
    return s, d, s_ext, d_ext


def prefix_match(net: Addr, plen: int, addr: Addr) -> bool:
    """Whether ``addr`` lies in ``net/plen``."""
    if net.family != addr.family:
        return False
    bits = len(net.addr) * 8
    if plen <= 0:
        return True
    plen = min(plen, bits)
    a = int.from_bytes(net.addr, "big") >> (bits - plen)
    b = int.from_bytes(addr.addr, "big") >> (bits - plen)
    return a == b


def xfrm_mode(mode: int) -> int:
    """pfkey_mode_to_xfrm: any → transport; unknown → EINVAL."""
    if mode == Mode.ANY:
        return Mode.TRANSPORT
    if mode in (Mode.TRANSPORT, Mode.TUNNEL, Mode.BEET):
        return mode
    raise Fail(E.EINVAL)


def satype_proto(satype: int) -> int:
    """pfkey_satype2proto for FLUSH and DUMP: 0 → any protocol; an unknown satype → EINVAL."""
    if satype == 0:
        return IPSEC_PROTO_ANY
    proto = SATYPE_TO_PROTO.get(satype)
    if proto is None:
        raise Fail(E.EINVAL)
    return proto
