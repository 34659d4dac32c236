"""Message builders for the unit tests."""

from __future__ import annotations

import ipaddress

from setkey_tui.pfkey.constants import ExtType, MsgType, SAType
from setkey_tui.pfkey.extensions import (
    AddressExt,
    IpsecRequest,
    KeyExt,
    LifetimeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX, Platform


def sockaddr(addr: str, port: int = 0, platform: Platform = LINUX) -> Sockaddr:
    """A sockaddr for ``addr`` on ``platform``."""
    ip = ipaddress.ip_address(addr)
    return Sockaddr(platform.family_of_version(ip.version), port, ip.packed)


def address(ext_type: int, addr: str, *, prefixlen: int | None = None, proto: int = 0, port: int = 0,
            platform: Platform = LINUX) -> AddressExt:
    """An address extension (full prefix unless given)."""
    sa = sockaddr(addr, port, platform)
    plen = prefixlen if prefixlen is not None else (32 if sa.version == 4 else 128)
    return AddressExt(ext_type, sa, proto, plen)


def esp_sa(*, spi: int = 0x1000, state: int = 1, now: int = 1700000000, lifetimes: bool = True,
           src: str = "10.0.0.1", dst: str = "10.0.0.2", satype: int = SAType.ESP, seq: int = 0,
           msg_type: int = MsgType.DUMP, platform: Platform = LINUX) -> Message:
    """An aes-cbc + hmac-sha256 ESP SA as a kernel dump reply."""
    exts: list = [SAExt(spi, 0, state, 5, 12, 0)]
    if lifetimes:
        exts += [LifetimeExt(ExtType.LIFETIME_HARD, 0, 0, 3600, 0), LifetimeExt(ExtType.LIFETIME_SOFT, 0, 0, 2880, 0),
                 LifetimeExt(ExtType.LIFETIME_CURRENT, 3, 12345, now - 100, now - 50)]
    exts += [address(ExtType.ADDRESS_SRC, src, platform=platform),
             address(ExtType.ADDRESS_DST, dst, platform=platform),
             KeyExt(ExtType.KEY_AUTH, 256, bytes(range(32))),
             KeyExt(ExtType.KEY_ENCRYPT, 128, bytes(range(16, 32))),
             SA2Ext(2, 7, 0)]
    return Message(msg_type, satype, seq, 4242, 0, tuple(exts))


def policy(*, direction: int = 2, priority: int = 0x80000000, requests: tuple[IpsecRequest, ...] = (),
           ptype: int = 2, src: str = "10.0.0.0", dst: str = "10.0.1.0", proto: int = 255, sport: int = 0,
           dport: int = 0, platform: Platform = LINUX) -> Message:
    """An SPDDUMP reply for a policy between two /24 networks."""
    exts = (PolicyExt(ptype, direction, 9, priority, requests),
            address(ExtType.ADDRESS_SRC, src, prefixlen=24, proto=proto, port=sport, platform=platform),
            address(ExtType.ADDRESS_DST, dst, prefixlen=24, proto=proto, port=dport, platform=platform))
    return Message(MsgType.X_SPDDUMP, 0, 0, 4242, 0, exts)
