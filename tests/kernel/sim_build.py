"""Small request builders for the simulated-kernel tests (what setkey would send, by hand)."""

from __future__ import annotations

import ipaddress

from setkey_tui.kernel.sim.kernel import Delivery, SimKernel
from setkey_tui.pfkey.constants import (
    AuthAlg,
    Direction,
    EncAlg,
    ExtType,
    Level,
    Mode,
    MsgType,
    PolicyType,
    SAType,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    IpsecRequest,
    KeyExt,
    LifetimeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    Sockaddr,
    SPIRangeExt,
)
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import LINUX

PID = 4242
AES_KEY = bytes(range(16))
SHA1_KEY = b"12345678901234567890"


def sockaddr(addr: str, port: int = 0) -> Sockaddr:
    """A Linux sockaddr for ``addr``."""
    ip = ipaddress.ip_address(addr)
    return Sockaddr(2 if ip.version == 4 else 10, port, ip.packed)


def address(
    ext_type: int, addr: str, prefix: int | None = None, proto: int = 255, port: int = 0
) -> AddressExt:
    """An address extension (full prefix by default)."""
    ip = ipaddress.ip_address(addr)
    return AddressExt(
        ext_type, sockaddr(addr, port), proto, (32 if ip.version == 4 else 128) if prefix is None else prefix
    )


def sa_msg(
    msg_type: int = MsgType.ADD,
    spi: int = 0x1000,
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    *,
    satype: int = SAType.ESP,
    enc: int = EncAlg.AESCBC,
    enc_key: bytes | None = AES_KEY,
    auth: int = AuthAlg.SHA1HMAC,
    auth_key: bytes | None = SHA1_KEY,
    mode: int = Mode.ANY,
    reqid: int = 0,
    replay: int = 0,
    hard: LifetimeExt | None = None,
    soft: LifetimeExt | None = None,
    seq: int = 0,
    extra: tuple = (),
) -> Message:
    """An ADD/UPDATE/DELETE/GET request laid out like setkey's."""
    exts: list = []
    if enc_key is not None:
        exts.append(KeyExt(ExtType.KEY_ENCRYPT, len(enc_key) * 8, enc_key))
    if auth_key is not None:
        exts.append(KeyExt(ExtType.KEY_AUTH, len(auth_key) * 8, auth_key))
    if hard is not None:
        exts.append(hard)
    if soft is not None:
        exts.append(soft)
    exts += [
        SAExt(spi, replay, 0, auth if auth_key is not None or auth == AuthAlg.X_NULL else 0, enc, 0x40),
        SA2Ext(mode, reqid),
        address(ExtType.ADDRESS_SRC, src),
        address(ExtType.ADDRESS_DST, dst),
        *extra,
    ]
    return Message(msg_type, satype, seq, PID, 0, tuple(exts))


def lookup_msg(
    msg_type: int, spi: int, src: str = "10.0.0.1", dst: str = "10.0.0.2", satype: int = SAType.ESP
) -> Message:
    """A DELETE or GET request."""
    exts = (SAExt(spi), address(ExtType.ADDRESS_SRC, src), address(ExtType.ADDRESS_DST, dst))
    return Message(msg_type, satype, 0, PID, 0, exts)


def getspi_msg(
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    lo: int | None = None,
    hi: int | None = None,
    satype: int = SAType.ESP,
    seq: int = 0,
) -> Message:
    """A GETSPI request (optionally with an SPI range)."""
    exts: list = [SA2Ext(Mode.ANY, 0)]
    if lo is not None and hi is not None:
        exts.append(SPIRangeExt(lo, hi))
    exts += [address(ExtType.ADDRESS_SRC, src), address(ExtType.ADDRESS_DST, dst)]
    return Message(MsgType.GETSPI, satype, seq, PID, 0, tuple(exts))


def policy_msg(
    msg_type: int = MsgType.X_SPDADD,
    src: str = "10.1.0.0",
    dst: str = "10.2.0.0",
    prefix: int = 24,
    *,
    direction: int = Direction.OUTBOUND,
    ptype: int = PolicyType.IPSEC,
    requests: tuple[IpsecRequest, ...] = (IpsecRequest(50, Mode.TRANSPORT, Level.REQUIRE),),
    proto: int = 255,
    priority: int = 0x80000000,
    policy_id: int = 0,
) -> Message:
    """An SPDADD/SPDUPDATE/SPDDELETE request."""
    pol = PolicyExt(ptype, direction, policy_id, priority, requests if ptype == PolicyType.IPSEC else ())
    exts = (
        pol,
        address(ExtType.ADDRESS_SRC, src, prefix, proto),
        address(ExtType.ADDRESS_DST, dst, prefix, proto),
    )
    return Message(msg_type, 0, 0, PID, 0, exts)


def for_socket(deliveries: list[Delivery], sid: int) -> list[Message]:
    """The messages one socket received, decoded."""
    return [decode(d, LINUX) for s, d in deliveries if s == sid]


def send(kernel: SimKernel, sid: int, msg: Message, now: float | None = None) -> list[Delivery]:
    """Encode and hand a message to the kernel."""
    return kernel.handle(sid, msg.encode(LINUX), now)


def header(msg_type: int, satype: int = 0) -> Message:
    """A header-only request from PID."""
    return header_only(msg_type, satype, pid=PID)
