"""The XFRM netlink structures of ``linux/xfrm.h`` (x86_64 / any LP64 little- or big-endian layout).

Each structure is a NamedTuple with ``pack()`` and an ``unpack(buf, offset)`` classmethod. Fields the kernel
keeps in network byte order (SPIs, ports) are host integers here. Sizes are those of the kernel's structs:
``xfrm_usersa_info`` 224, ``xfrm_userpolicy_info`` 168, ``xfrm_user_tmpl`` 64, ``xfrm_user_acquire`` 280.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, NamedTuple

# Message types (XFRM_MSG_*).
NEWSA, DELSA, GETSA = 0x10, 0x11, 0x12
NEWPOLICY, DELPOLICY, GETPOLICY = 0x13, 0x14, 0x15
ALLOCSPI, ACQUIRE, EXPIRE = 0x16, 0x17, 0x18
UPDPOLICY, UPDSA, POLEXPIRE = 0x19, 0x1A, 0x1B
FLUSHSA, FLUSHPOLICY = 0x1C, 0x1D
NEWAE, GETAE, REPORT, MIGRATE = 0x1E, 0x1F, 0x20, 0x21
MAPPING = 0x26

MSG_NAMES = {
    NEWSA: "NEWSA", DELSA: "DELSA", GETSA: "GETSA", NEWPOLICY: "NEWPOLICY", DELPOLICY: "DELPOLICY",
    GETPOLICY: "GETPOLICY", ALLOCSPI: "ALLOCSPI", ACQUIRE: "ACQUIRE", EXPIRE: "EXPIRE", UPDPOLICY: "UPDPOLICY",
    UPDSA: "UPDSA", POLEXPIRE: "POLEXPIRE", FLUSHSA: "FLUSHSA", FLUSHPOLICY: "FLUSHPOLICY", NEWAE: "NEWAE",
    GETAE: "GETAE", REPORT: "REPORT", MIGRATE: "MIGRATE", MAPPING: "MAPPING",
}

# Attributes (XFRMA_*).
XFRMA_ALG_AUTH = 1
XFRMA_ALG_CRYPT = 2
XFRMA_ALG_COMP = 3
XFRMA_ENCAP = 4
XFRMA_TMPL = 5
XFRMA_SA = 6
XFRMA_POLICY = 7
XFRMA_SEC_CTX = 8
XFRMA_LTIME_VAL = 9
XFRMA_REPLAY_VAL = 10
XFRMA_REPLAY_THRESH = 11
XFRMA_ETIMER_THRESH = 12
XFRMA_SRCADDR = 13
XFRMA_COADDR = 14
XFRMA_LASTUSED = 15
XFRMA_POLICY_TYPE = 16
XFRMA_MIGRATE = 17
XFRMA_ALG_AEAD = 18
XFRMA_KMADDRESS = 19
XFRMA_ALG_AUTH_TRUNC = 20
XFRMA_MARK = 21
XFRMA_TFCPAD = 22
XFRMA_REPLAY_ESN_VAL = 23
XFRMA_SA_EXTRA_FLAGS = 24
XFRMA_PROTO = 25
XFRMA_ADDRESS_FILTER = 26
XFRMA_PAD = 27
XFRMA_OFFLOAD_DEV = 28
XFRMA_SET_MARK = 29
XFRMA_SET_MARK_MASK = 30
XFRMA_IF_ID = 31
XFRMA_MTIMER_THRESH = 32
XFRMA_SA_DIR = 33
XFRMA_NAT_KEEPALIVE_INTERVAL = 34
XFRMA_SA_PCPU = 35

ATTR_NAMES = {
    XFRMA_ALG_AUTH: "alg-auth", XFRMA_ALG_CRYPT: "alg-crypt", XFRMA_ALG_COMP: "alg-comp", XFRMA_ENCAP: "encap",
    XFRMA_TMPL: "tmpl", XFRMA_SA: "sa", XFRMA_POLICY: "policy", XFRMA_SEC_CTX: "sec-ctx",
    XFRMA_LTIME_VAL: "ltime-val", XFRMA_REPLAY_VAL: "replay-val", XFRMA_REPLAY_THRESH: "replay-thresh",
    XFRMA_ETIMER_THRESH: "etimer-thresh", XFRMA_SRCADDR: "srcaddr", XFRMA_COADDR: "coaddr",
    XFRMA_LASTUSED: "lastused", XFRMA_POLICY_TYPE: "policy-type", XFRMA_MIGRATE: "migrate",
    XFRMA_ALG_AEAD: "aead", XFRMA_KMADDRESS: "kmaddress", XFRMA_ALG_AUTH_TRUNC: "auth-trunc",
    XFRMA_MARK: "mark", XFRMA_TFCPAD: "tfcpad", XFRMA_REPLAY_ESN_VAL: "replay-esn",
    XFRMA_SA_EXTRA_FLAGS: "extra-flag", XFRMA_PROTO: "proto", XFRMA_ADDRESS_FILTER: "address-filter",
    XFRMA_PAD: "pad", XFRMA_OFFLOAD_DEV: "offload", XFRMA_SET_MARK: "output-mark",
    XFRMA_SET_MARK_MASK: "output-mark-mask", XFRMA_IF_ID: "if_id", XFRMA_MTIMER_THRESH: "mtimer-thresh",
    XFRMA_SA_DIR: "dir", XFRMA_NAT_KEEPALIVE_INTERVAL: "nat-keepalive-interval", XFRMA_SA_PCPU: "pcpu",
}

# Multicast groups (XFRMNLGRP_*).
GRP_ACQUIRE, GRP_EXPIRE, GRP_SA, GRP_POLICY, GRP_AEVENTS, GRP_REPORT, GRP_MIGRATE, GRP_MAPPING = range(1, 9)

# Modes (XFRM_MODE_*), policy directions, actions, types, state flags.
MODE_TRANSPORT, MODE_TUNNEL, MODE_ROUTEOPTIMIZATION, MODE_IN_TRIGGER, MODE_BEET = range(5)
POLICY_IN, POLICY_OUT, POLICY_FWD = 0, 1, 2
POLICY_MAX = 3
POLICY_ALLOW, POLICY_BLOCK = 0, 1
POLICY_TYPE_MAIN, POLICY_TYPE_SUB = 0, 1
STATE_NOECN, STATE_DECAP_DSCP, STATE_NOPMTUDISC = 1, 2, 4
STATE_WILDRECV, STATE_ICMP, STATE_AF_UNSPEC, STATE_ALIGN4, STATE_ESN = 8, 16, 32, 64, 128
XFRM_INF = 0xFFFFFFFFFFFFFFFF
AF_INET, AF_INET6 = 2, 10

_ntohs, _ntohl, _htons, _htonl = socket.ntohs, socket.ntohl, socket.htons, socket.htonl

_SEL = "16s16sHHHHHBBB3xiI"  # 56
_ID = "16sIB3x"  # 24
_LFT = "8Q"  # 64
_CUR = "4Q"  # 32


# Wire sizes of the fixed structures (the payload offset of their message's attributes).
USERSA_INFO_SIZE = 224
USERPOLICY_INFO_SIZE = 168
USERPOLICY_ID_SIZE = 64
USER_TMPL_SIZE = 64
USERSA_ID_SIZE = 24
USER_ACQUIRE_SIZE = 280
USER_MAPPING_SIZE = 64


def addr_bytes(addr: bytes) -> bytes:
    """An IPv4 or IPv6 address as the 16-byte ``xfrm_address_t``."""
    return addr.ljust(16, b"\0")


def addr_of(family: int, raw: bytes) -> bytes:
    """The 4 or 16 meaningful bytes of an ``xfrm_address_t`` for ``family``."""
    return raw[:4] if family == AF_INET else raw[:16]


class Selector(NamedTuple):
    """``struct xfrm_selector`` (ports in host order)."""

    daddr: bytes = bytes(16)
    saddr: bytes = bytes(16)
    dport: int = 0
    dport_mask: int = 0
    sport: int = 0
    sport_mask: int = 0
    family: int = 0
    prefixlen_d: int = 0
    prefixlen_s: int = 0
    proto: int = 0
    ifindex: int = 0
    user: int = 0

    def flat(self) -> tuple[object, ...]:
        """The values in wire order (ports swapped)."""
        return (self.daddr, self.saddr, _htons(self.dport), _htons(self.dport_mask), _htons(self.sport),
                _htons(self.sport_mask), self.family, self.prefixlen_d, self.prefixlen_s, self.proto,
                self.ifindex, self.user)

    @classmethod
    def of(cls, v: tuple[Any, ...]) -> Selector:
        """From the 12 unpacked wire values (``struct.unpack_from``'s own result type)."""
        return cls(v[0], v[1], _ntohs(v[2]), _ntohs(v[3]), _ntohs(v[4]), _ntohs(v[5]), *v[6:12])


class LifetimeCfg(NamedTuple):
    """``struct xfrm_lifetime_cfg`` (XFRM_INF = no limit)."""

    soft_byte_limit: int = XFRM_INF
    hard_byte_limit: int = XFRM_INF
    soft_packet_limit: int = XFRM_INF
    hard_packet_limit: int = XFRM_INF
    soft_add_expires_seconds: int = 0
    hard_add_expires_seconds: int = 0
    soft_use_expires_seconds: int = 0
    hard_use_expires_seconds: int = 0


class LifetimeCur(NamedTuple):
    """``struct xfrm_lifetime_cur``."""

    bytes: int = 0
    packets: int = 0
    add_time: int = 0
    use_time: int = 0


_USERSA = struct.Struct("=" + _SEL + _ID + "16s" + _LFT + _CUR + "3III" + "HBBB7x")
_USERPOLICY = struct.Struct("=" + _SEL + _LFT + _CUR + "IIBBBB4x")


class UserSAInfo(NamedTuple):
    """``struct xfrm_usersa_info`` (224 bytes)."""

    sel: Selector
    daddr: bytes  # id.daddr
    spi: int  # id.spi, host order
    proto: int  # id.proto
    saddr: bytes
    lft: LifetimeCfg = LifetimeCfg()
    curlft: LifetimeCur = LifetimeCur()
    stats: tuple[int, int, int] = (0, 0, 0)
    seq: int = 0
    reqid: int = 0
    family: int = AF_INET
    mode: int = MODE_TRANSPORT
    replay_window: int = 0
    flags: int = 0


    def pack(self) -> bytes:
        """The wire bytes."""
        return _USERSA.pack(*self.sel.flat(), self.daddr, _htonl(self.spi), self.proto, self.saddr, *self.lft,
                            *self.curlft, *self.stats, self.seq, self.reqid, self.family, self.mode,
                            self.replay_window, self.flags)

    @classmethod
    def unpack(cls, buf: bytes, offset: int = 0) -> UserSAInfo:
        """From the wire; :class:`struct.error` when too short."""
        v = _USERSA.unpack_from(buf, offset)
        return cls(Selector.of(v), v[12], _ntohl(v[13]), v[14], v[15], LifetimeCfg(*v[16:24]),
                   LifetimeCur(*v[24:28]), (v[28], v[29], v[30]), v[31], v[32], v[33], v[34], v[35], v[36])


class UserPolicyInfo(NamedTuple):
    """``struct xfrm_userpolicy_info`` (168 bytes)."""

    sel: Selector
    lft: LifetimeCfg = LifetimeCfg()
    curlft: LifetimeCur = LifetimeCur()
    priority: int = 0
    idx: int = 0  # the kernel's ``index`` (a NamedTuple field may not shadow ``tuple.index``)
    dir: int = 0
    action: int = POLICY_ALLOW
    flags: int = 0
    share: int = 0


    def pack(self) -> bytes:
        """The wire bytes."""
        return _USERPOLICY.pack(*self.sel.flat(), *self.lft, *self.curlft, self.priority, self.idx, self.dir,
                                self.action, self.flags, self.share)

    @classmethod
    def unpack(cls, buf: bytes, offset: int = 0) -> UserPolicyInfo:
        """From the wire."""
        v = _USERPOLICY.unpack_from(buf, offset)
        return cls(Selector.of(v), LifetimeCfg(*v[12:20]), LifetimeCur(*v[20:24]), *v[24:30])


_USERPOLICY_ID = struct.Struct("=" + _SEL + "IB3x")


class UserPolicyId(NamedTuple):
    """``struct xfrm_userpolicy_id`` (64 bytes): a policy by selector and direction, or by index."""

    sel: Selector
    idx: int = 0  # the kernel's ``index``
    dir: int = 0


    def pack(self) -> bytes:
        """The wire bytes."""
        return _USERPOLICY_ID.pack(*self.sel.flat(), self.idx, self.dir)

    @classmethod
    def unpack(cls, buf: bytes, offset: int = 0) -> UserPolicyId:
        """From the wire."""
        v = _USERPOLICY_ID.unpack_from(buf, offset)
        return cls(Selector.of(v), v[12], v[13])


_TMPL = struct.Struct("=" + _ID + "H2x16sIBBBxIII")


class UserTmpl(NamedTuple):
    """``struct xfrm_user_tmpl`` (64 bytes): one transform of a policy."""

    daddr: bytes
    spi: int
    proto: int
    family: int
    saddr: bytes
    reqid: int = 0
    mode: int = MODE_TRANSPORT
    share: int = 0
    optional: int = 0
    aalgos: int = 0xFFFFFFFF
    ealgos: int = 0xFFFFFFFF
    calgos: int = 0xFFFFFFFF


    def pack(self) -> bytes:
        """The wire bytes."""
        return _TMPL.pack(self.daddr, _htonl(self.spi), self.proto, self.family, self.saddr, self.reqid, self.mode,
                          self.share, self.optional, self.aalgos, self.ealgos, self.calgos)

    @classmethod
    def unpack(cls, buf: bytes, offset: int = 0) -> UserTmpl:
        """From the wire."""
        v = _TMPL.unpack_from(buf, offset)
        return cls(v[0], _ntohl(v[1]), *v[2:])

    @classmethod
    def unpack_all(cls, buf: bytes) -> tuple[UserTmpl, ...]:
        """Every template of an XFRMA_TMPL attribute."""
        return tuple(cls.unpack(buf, off) for off in range(0, len(buf) - 63, 64))


_USERSA_ID = struct.Struct("=16sIHBx")


class UserSAId(NamedTuple):
    """``struct xfrm_usersa_id`` (24 bytes): an SA by destination, SPI and protocol."""

    daddr: bytes
    spi: int
    family: int
    proto: int


    def pack(self) -> bytes:
        """The wire bytes."""
        return _USERSA_ID.pack(self.daddr, _htonl(self.spi), self.family, self.proto)

    @classmethod
    def unpack(cls, buf: bytes, offset: int = 0) -> UserSAId:
        """From the wire."""
        v = _USERSA_ID.unpack_from(buf, offset)
        return cls(v[0], _ntohl(v[1]), v[2], v[3])


_SPI_RANGE = struct.Struct("=II")


def pack_userspi_info(info: UserSAInfo, lo: int, hi: int) -> bytes:
    """``struct xfrm_userspi_info`` (232 bytes): the larval SA to find or make, and the SPI range."""
    return info.pack() + _SPI_RANGE.pack(lo, hi)


_ACQUIRE = struct.Struct("=" + _ID + "16s" + _SEL)  # id, saddr, sel: 96 bytes, then the policy, then 4 u32
_ACQ_TAIL = struct.Struct("=IIII")


class UserAcquire(NamedTuple):
    """``struct xfrm_user_acquire`` (280 bytes): the kernel asks for an SA."""

    daddr: bytes
    spi: int
    proto: int
    saddr: bytes
    sel: Selector
    policy: UserPolicyInfo
    aalgos: int
    ealgos: int
    calgos: int
    seq: int


    def pack(self) -> bytes:
        """The wire bytes."""
        head = _ACQUIRE.pack(self.daddr, _htonl(self.spi), self.proto, self.saddr, *self.sel.flat())
        return head + self.policy.pack() + _ACQ_TAIL.pack(self.aalgos, self.ealgos, self.calgos, self.seq)

    @classmethod
    def unpack(cls, buf: bytes, offset: int = 0) -> UserAcquire:
        """From the wire."""
        v = _ACQUIRE.unpack_from(buf, offset)
        pol = UserPolicyInfo.unpack(buf, offset + 96)
        tail = _ACQ_TAIL.unpack_from(buf, offset + 96 + 168)
        return cls(v[0], _ntohl(v[1]), v[2], v[3], Selector.of(v[4:]), pol, *tail)


_MAPPING = struct.Struct("=16sIHBxI16s16sHH")


class UserMapping(NamedTuple):
    """``struct xfrm_user_mapping`` (64 bytes): a NAT-T peer moved (ports in host order)."""

    daddr: bytes
    spi: int
    family: int
    proto: int
    reqid: int
    old_saddr: bytes
    new_saddr: bytes
    old_sport: int
    new_sport: int


    def pack(self) -> bytes:
        """The wire bytes."""
        return _MAPPING.pack(self.daddr, _htonl(self.spi), self.family, self.proto, self.reqid, self.old_saddr,
                             self.new_saddr, _htons(self.old_sport), _htons(self.new_sport))

    @classmethod
    def unpack(cls, buf: bytes, offset: int = 0) -> UserMapping:
        """From the wire."""
        v = _MAPPING.unpack_from(buf, offset)
        return cls(v[0], _ntohl(v[1]), v[2], v[3], v[4], v[5], v[6], _ntohs(v[7]), _ntohs(v[8]))


_EXPIRE_HARD = struct.Struct("=B7x")


def pack_user_expire(state: UserSAInfo, hard: bool) -> bytes:
    """``struct xfrm_user_expire`` (232 bytes)."""
    return state.pack() + _EXPIRE_HARD.pack(1 if hard else 0)


def unpack_user_expire(buf: bytes) -> tuple[UserSAInfo, bool]:
    """The state and the hard flag of an XFRM_MSG_EXPIRE."""
    return UserSAInfo.unpack(buf, 0), bool(buf[224])


_ENCAP = struct.Struct("=HHH2x16s")


class EncapTmpl(NamedTuple):
    """``struct xfrm_encap_tmpl`` (24 bytes): UDP encapsulation (NAT-T); ports in host order."""

    encap_type: int
    sport: int
    dport: int
    oa: bytes = bytes(16)

    def pack(self) -> bytes:
        """The wire bytes."""
        return _ENCAP.pack(self.encap_type, _htons(self.sport), _htons(self.dport), self.oa)

    @classmethod
    def unpack(cls, buf: bytes) -> EncapTmpl:
        """From the wire."""
        t, s, d, oa = _ENCAP.unpack_from(buf, 0)
        return cls(t, _ntohs(s), _ntohs(d), oa)


_ALGO = struct.Struct("=64sI")
_ALGO3 = struct.Struct("=64sII")


class Algo(NamedTuple):
    """``struct xfrm_algo`` / ``xfrm_algo_auth`` / ``xfrm_algo_aead``: name, key bits, key; ``extra`` is the
    truncation (auth) or ICV (aead) length in bits, None for a plain ``xfrm_algo``."""

    name: str
    key_bits: int
    key: bytes
    extra: int | None = None

    def pack(self) -> bytes:
        """The wire bytes."""
        name = self.name.encode()
        if self.extra is None:
            return _ALGO.pack(name, self.key_bits) + self.key
        return _ALGO3.pack(name, self.key_bits, self.extra) + self.key

    @classmethod
    def unpack(cls, buf: bytes, *, with_extra: bool = False) -> Algo:
        """From an attribute's value."""
        if with_extra:
            name, bits, extra = _ALGO3.unpack_from(buf, 0)
            start: int = 72
        else:
            name, bits = _ALGO.unpack_from(buf, 0)
            extra, start = None, 68
        key = bytes(buf[start : start + (bits + 7) // 8])
        return cls(name.split(b"\0", 1)[0].decode(errors="replace"), bits, key, extra)


_SEC_CTX = struct.Struct("=HHBBH")


def pack_sec_ctx(doi: int, alg: int, ctx: bytes) -> bytes:
    """``struct xfrm_user_sec_ctx`` followed by the context string."""
    return _SEC_CTX.pack(8 + len(ctx), 8, alg, doi, len(ctx)) + ctx


def unpack_sec_ctx(buf: bytes) -> tuple[int, int, bytes]:
    """(doi, alg, context) of an XFRMA_SEC_CTX attribute."""
    _len, _exttype, alg, doi, clen = _SEC_CTX.unpack_from(buf, 0)
    return doi, alg, bytes(buf[8 : 8 + clen])


_MARK = struct.Struct("=II")
_U32 = struct.Struct("=I")
_POLICY_TYPE = struct.Struct("=BxHBx")
_REPLAY_ESN = struct.Struct("=6I")
_OFFLOAD = struct.Struct("=iB3x")


def unpack_mark(buf: bytes) -> tuple[int, int]:
    """(value, mask) of an XFRMA_MARK."""
    return _MARK.unpack_from(buf, 0)


def pack_mark(value: int, mask: int) -> bytes:
    """An XFRMA_MARK value."""
    return _MARK.pack(value, mask)


def unpack_u32(buf: bytes) -> int:
    """A 32-bit attribute."""
    return int(_U32.unpack_from(buf, 0)[0])


def pack_u32(value: int) -> bytes:
    """A 32-bit attribute value."""
    return _U32.pack(value)


def pack_policy_type(ptype: int) -> bytes:
    """``struct xfrm_userpolicy_type``."""
    return _POLICY_TYPE.pack(ptype, 0, 0)


def unpack_policy_type(buf: bytes) -> int:
    """The type of an XFRMA_POLICY_TYPE (0 main, 1 sub)."""
    return int(buf[0]) if buf else 0


def unpack_replay_esn(buf: bytes) -> dict[str, int]:
    """The counters of an XFRMA_REPLAY_ESN_VAL (``bmp_len``, ``oseq`` … ``replay_window``)."""
    names = ("bmp_len", "oseq", "seq", "oseq_hi", "seq_hi", "replay_window")
    return dict(zip(names, _REPLAY_ESN.unpack_from(buf, 0), strict=True))


def unpack_offload(buf: bytes) -> tuple[int, int]:
    """(ifindex, flags) of an XFRMA_OFFLOAD_DEV."""
    return _OFFLOAD.unpack_from(buf, 0)


_ADDRESS_FILTER = struct.Struct("=16s16sHBB")


def pack_address_filter(saddr: bytes, daddr: bytes, family: int, splen: int, dplen: int) -> bytes:
    """``struct xfrm_address_filter`` (36 bytes)."""
    return _ADDRESS_FILTER.pack(saddr, daddr, family, splen, dplen)


def pack_usersa_flush(proto: int) -> bytes:
    """``struct xfrm_usersa_flush``."""
    return bytes([proto])


SIZES = {
    "xfrm_selector": struct.calcsize("=" + _SEL),
    "xfrm_usersa_info": _USERSA.size,
    "xfrm_userpolicy_info": _USERPOLICY.size,
    "xfrm_userpolicy_id": _USERPOLICY_ID.size,
    "xfrm_user_tmpl": _TMPL.size,
    "xfrm_usersa_id": _USERSA_ID.size,
    "xfrm_user_acquire": _ACQUIRE.size + _USERPOLICY.size + _ACQ_TAIL.size,
    "xfrm_user_expire": _USERSA.size + _EXPIRE_HARD.size,
    "xfrm_userspi_info": _USERSA.size + _SPI_RANGE.size,
    "xfrm_encap_tmpl": _ENCAP.size,
    "xfrm_userpolicy_type": _POLICY_TYPE.size,
    "xfrm_user_mapping": _MAPPING.size,
    "xfrm_address_filter": _ADDRESS_FILTER.size,
}
