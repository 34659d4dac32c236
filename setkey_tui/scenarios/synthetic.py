"""Kernel-style PF_KEY messages for many SAs and policies, as a Linux kernel reports them.

Used by the TUI benchmark and tests to fill a table with thousands of entries without a kernel.
"""

from __future__ import annotations

import ipaddress

from setkey_tui.pfkey.constants import PRIORITY_DEFAULT, Direction, ExtType, Mode, MsgType, PolicyType, SAType
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
from setkey_tui.pfkey.message import Message

AF_INET = 2


def _v4(n: int) -> bytes:
    return ipaddress.IPv4Address(n).packed


def sa_message(
    i: int,
    *,
    msg_type: int = MsgType.DUMP,
    addtime: int = 1_700_000_000,
    state: int = 1,
    soft: int = 0,
    hard: int = 0,
    seq: int = 0,
    pid: int = 0,
) -> Message:
    """SA number ``i``: ESP aes-cbc/hmac-sha256 from 10.x to 172.16.x, SPI 0x1000 + i, reqid i % 100."""
    src = ipaddress.IPv4Address("10.0.0.0") + i
    dst = ipaddress.IPv4Address("172.16.0.0") + (i % 65536)
    exts: list[Extension] = [
        SAExt(spi=0x1000 + i, replay=32, state=state, auth=5, encrypt=12),
        LifetimeExt(ExtType.LIFETIME_CURRENT, 0, i * 10, addtime, 0),
    ]
    if hard:
        exts.append(LifetimeExt(ExtType.LIFETIME_HARD, 0, 0, hard, 0))
    if soft:
        exts.append(LifetimeExt(ExtType.LIFETIME_SOFT, 0, 0, soft, 0))
    exts += [
        AddressExt(ExtType.ADDRESS_SRC, Sockaddr(AF_INET, 0, src.packed), 255, 32),
        AddressExt(ExtType.ADDRESS_DST, Sockaddr(AF_INET, 0, dst.packed), 255, 32),
        KeyExt(ExtType.KEY_AUTH, 256, bytes([i % 251]) * 32),
        KeyExt(ExtType.KEY_ENCRYPT, 128, bytes([(i + 7) % 251]) * 16),
        SA2Ext(mode=Mode.TRANSPORT, reqid=i % 100),
    ]
    return Message(msg_type, SAType.ESP, seq, pid, 0, tuple(exts))


def sp_message(
    i: int,
    *,
    msg_type: int = MsgType.X_SPDDUMP,
    direction: int = Direction.OUTBOUND,
    addtime: int = 1_700_000_000,
) -> Message:
    """Policy number ``i``: 10.x/32 to 172.16.x/32 any, esp/transport//require, reqid i % 100."""
    src = ipaddress.IPv4Address("10.0.0.0") + i
    dst = ipaddress.IPv4Address("172.16.0.0") + (i % 65536)
    req = IpsecRequest(proto=50, mode=Mode.TRANSPORT, level=2, reqid=i % 100)
    exts = (
        LifetimeExt(ExtType.LIFETIME_CURRENT, 0, 0, addtime, 0),
        AddressExt(ExtType.ADDRESS_SRC, Sockaddr(AF_INET, 0, src.packed), 255, 32),
        AddressExt(ExtType.ADDRESS_DST, Sockaddr(AF_INET, 0, dst.packed), 255, 32),
        PolicyExt(PolicyType.IPSEC, direction, id=8 * i + direction, priority=PRIORITY_DEFAULT, requests=(req,)),
    )
    return Message(msg_type, 0, 0, 0, 0, exts)
