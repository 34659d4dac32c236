"""Sans-I/O netlink: message headers, attributes, acknowledgements (``linux/netlink.h``)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

NETLINK_XFRM = 6
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_DROP_MEMBERSHIP = 2
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_ECHO = 0x08
NLM_F_DUMP_INTR = 0x10
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH

NLMSGHDR = struct.Struct("=IHHII")
NLATTR = struct.Struct("=HH")
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
_ERR = struct.Struct("=i")


class NetlinkError(ValueError):
    """Malformed netlink data; ``offset`` is where the problem starts."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"netlink data at offset {offset}: {reason}")
        self.offset = offset


class NlMsg(NamedTuple):
    """One netlink message: header fields and the payload after the 16-byte header."""

    type: int
    flags: int
    seq: int
    pid: int
    payload: bytes


def align4(n: int) -> int:
    """``n`` rounded up to a multiple of 4 (NLMSG_ALIGN / NLA_ALIGN)."""
    return (n + 3) & ~3


def encode_msg(msg_type: int, flags: int, seq: int, pid: int, payload: bytes) -> bytes:
    """A whole netlink message (payload padded to 4 bytes)."""
    pad = align4(len(payload)) - len(payload)
    return NLMSGHDR.pack(16 + len(payload), msg_type, flags, seq & 0xFFFFFFFF, pid & 0xFFFFFFFF) + payload + (
        b"\0" * pad
    )


def split_msgs(buf: bytes) -> Iterator[NlMsg]:
    """Every message in one datagram; :class:`NetlinkError` for a truncated or impossible length."""
    off, n = 0, len(buf)
    unpack = NLMSGHDR.unpack_from
    while off + 16 <= n:
        length, mtype, flags, seq, pid = unpack(buf, off)
        if length < 16 or off + length > n:
            raise NetlinkError(off, f"nlmsg_len {length} does not fit the {n - off} bytes left")
        yield NlMsg(mtype, flags, seq, pid, buf[off + 16 : off + length])
        off += align4(length)
    if off < n and any(buf[off:]):
        raise NetlinkError(off, f"{n - off} trailing bytes, shorter than a netlink header")


def encode_attr(attr_type: int, data: bytes) -> bytes:
    """One attribute (type, value) padded to 4 bytes."""
    pad = align4(len(data)) - len(data)
    return NLATTR.pack(4 + len(data), attr_type) + data + b"\0" * pad


def parse_attrs(buf: bytes, offset: int = 0) -> dict[int, bytes]:
    """Attribute type → value (the first of each type; ``XFRMA_TMPL`` appears once holding all templates)."""
    out: dict[int, bytes] = {}
    off, n = offset, len(buf)
    unpack = NLATTR.unpack_from
    while off + 4 <= n:
        length, atype = unpack(buf, off)
        if length < 4 or off + length > n:
            raise NetlinkError(off, f"attribute of {length} bytes does not fit the {n - off} bytes left")
        out.setdefault(atype & NLA_TYPE_MASK, buf[off + 4 : off + length])
        off += align4(length)
    return out


def ack_errno(payload: bytes) -> int:
    """The positive errno of an NLMSG_ERROR payload (0 = success)."""
    if len(payload) < 4:
        raise NetlinkError(0, "NLMSG_ERROR shorter than its error code")
    err: int = _ERR.unpack_from(payload, 0)[0]
    return -err


def acked_seq(payload: bytes) -> int | None:
    """The sequence number of the request an NLMSG_ERROR answers (None when the copy is missing)."""
    if len(payload) < 4 + 16:
        return None
    return int(NLMSGHDR.unpack_from(payload, 4)[3])
