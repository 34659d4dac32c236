"""What a person means by an SA or a policy, independent of the wire: plain, immutable, typed data.

:class:`SecurityAssociation` and :class:`SecurityPolicy` are built from decoded PF_KEY messages
(``from_message``) and turned back into messages: ``to_message`` in the shape a Linux kernel uses for its
dump replies and notifications (extension order of af_key's ``__pfkey_xfrm_state2msg`` and
``pfkey_xfrm_policy2msg``), ``to_request`` in the shape of the requests setkey sends. Numbers (satype, mode,
algorithms …) stay plain ints, as on the wire; the enums of :mod:`setkey_tui.pfkey.constants` name them.
Nothing here does I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from setkey_tui.pfkey.constants import IPSEC_ULPROTO_ANY, ExtType, Mode, MsgType, SAState
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Extension,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    Sockaddr,
)
from setkey_tui.pfkey.extensions import IpsecRequest as RequestExt
from setkey_tui.pfkey.message import Message, default_platform
from setkey_tui.pfkey.platform import Platform

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

__all__ = [
    "Endpoint",
    "IpsecRequest",
    "Lifetime",
    "ModelError",
    "PolicyKey",
    "SAKey",
    "SecurityAssociation",
    "SecurityPolicy",
    "Selector",
    "address_order",
    "policy_key",
    "sa_key",
]


# ------------------------------------------------------------------------------------------------ keys
# What names an entry, as the kernel finds it, in one shape for every part of the program (the mirror's
# tables, the simulated kernel's stores, a plan's snapshots): plain tuples of ints, cheap to hash and to
# compare, so that sorting by an address sorts IPv4 before IPv6 and then numerically. A scoped IPv6
# address's scope is no part of a key (the kernel ignores it when it looks an SA up).
# setkey_tui.rowscan builds the same tuples inline from a dump's bytes (one struct call per message); the
# tests hold its keys equal to these functions'.
SAKey = tuple[int, int, int, int]
"""An SA's identity: (satype, destination address length (4 or 16), destination address as an int, SPI)."""

PolicyKey = tuple[int, int, int, int, int, int, int, int, int, int]
"""A policy's identity: its selector and direction, (source length, source as an int, source prefix length,
source port, destination length, destination, destination prefix length, destination port, upper-layer
protocol (255 = any), direction)."""


def address_order(addr: bytes) -> tuple[int, int]:
    """A raw address as (length, value): the part of a key that names it, and how tables sort addresses."""
    return (len(addr), int.from_bytes(addr, "big"))


def sa_key(satype: int, daddr: bytes, spi: int) -> SAKey:
    """The :data:`SAKey` of the SA of ``satype`` with destination ``daddr`` (raw bytes) and ``spi``."""
    return (satype, len(daddr), int.from_bytes(daddr, "big"), spi)


def policy_key(src: bytes, src_prefix: int, sport: int, dst: bytes, dst_prefix: int, dport: int, upper: int,
               direction: int) -> PolicyKey:
    """The :data:`PolicyKey` of a policy's selector (raw addresses) and direction."""
    return (len(src), int.from_bytes(src, "big"), src_prefix, sport, len(dst), int.from_bytes(dst, "big"),
            dst_prefix, dport, upper, direction)


class ModelError(ValueError):
    """A message that does not describe an SA (or a policy): a required extension is missing."""


# ------------------------------------------------------------------------------------------------ endpoints
@dataclass(frozen=True, slots=True)
class Endpoint:
    """An address with its prefix length and port (0 = any). A scoped IPv6 address keeps its ``%scope``."""

    address: IPAddress
    prefixlen: int
    port: int = 0

    @classmethod
    def host(cls, address: IPAddress | str, port: int = 0) -> Endpoint:
        """A whole-address endpoint (/32 or /128)."""
        ip = ipaddress.ip_address(address)
        return cls(ip, ip.max_prefixlen, port)

    @property
    def version(self) -> int:
        """4 or 6."""
        return self.address.version

    @classmethod
    def from_sockaddr(cls, sa: Sockaddr, prefixlen: int | None = None) -> Endpoint:
        """The endpoint of a decoded sockaddr (``prefixlen`` None: the whole address)."""
        if len(sa.addr) == 16:
            ip: IPAddress = ipaddress.IPv6Address(sa.addr)
            if sa.scope_id:
                ip = ipaddress.IPv6Address(f"{ip}%{sa.scope_id}")
        else:
            ip = ipaddress.IPv4Address(sa.addr)
        return cls(ip, ip.max_prefixlen if prefixlen is None else prefixlen, sa.port)

    @property
    def scope_id(self) -> int:
        """The scope (interface index) of a scoped IPv6 address; 0 for any other."""
        ip = self.address
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id and ip.scope_id.isdigit():
            return int(ip.scope_id)
        return 0

    def to_sockaddr(self, platform: Platform) -> Sockaddr:
        """The sockaddr of this endpoint on ``platform`` (family numbering differs per OS)."""
        ip = self.address
        return Sockaddr(platform.family_of_version(ip.version), self.port, ip.packed, 0, self.scope_id)

    def __str__(self) -> str:
        text = str(self.address)
        if self.prefixlen != self.address.max_prefixlen:
            text += f"/{self.prefixlen}"
        return text if not self.port else f"{text}[{self.port}]"


def _address_ext(ext_type: int, ep: Endpoint, proto: int, platform: Platform) -> AddressExt:
    return AddressExt(ext_type, ep.to_sockaddr(platform), proto, ep.prefixlen)


def _endpoint(ext: Extension | None) -> Endpoint | None:
    if isinstance(ext, AddressExt):
        return Endpoint.from_sockaddr(ext.sockaddr, ext.prefixlen)
    return None


# ------------------------------------------------------------------------------------------------ lifetimes
@dataclass(frozen=True, slots=True)
class Lifetime:
    """One ``sadb_lifetime``: packets, bytes, and two times (absolute for current, seconds for limits)."""

    allocations: int = 0
    bytes: int = 0
    addtime: int = 0
    usetime: int = 0

    @classmethod
    def from_ext(cls, ext: Extension | None) -> Lifetime | None:
        """The lifetime of a decoded extension, None when absent."""
        if isinstance(ext, LifetimeExt):
            return cls(ext.allocations, ext.byte_count, ext.addtime, ext.usetime)
        return None

    def to_ext(self, ext_type: int) -> LifetimeExt:
        """The extension of type ``ext_type`` (LIFETIME_CURRENT, _HARD or _SOFT)."""
        return LifetimeExt(ext_type, self.allocations, self.bytes, self.addtime, self.usetime)


ZERO_LIFETIME = Lifetime()


def _lifetime_exts(current: Lifetime | None, hard: Lifetime | None, soft: Lifetime | None) -> list[Extension]:
    out: list[Extension] = []
    if hard is not None:
        out.append(hard.to_ext(ExtType.LIFETIME_HARD))
    if soft is not None:
        out.append(soft.to_ext(ExtType.LIFETIME_SOFT))
    if current is not None:
        out.append(current.to_ext(ExtType.LIFETIME_CURRENT))
    return out


# ------------------------------------------------------------------------------------------------ SA
@dataclass(frozen=True, slots=True)
class SecurityAssociation:
    """One SAD entry. ``auth``/``encrypt`` are wire algorithm ids (``encrypt`` is the compression id for
    IPComp); ``current`` is all zero when the message had no current lifetime. ``ulproto`` is the upper-layer
    protocol carried in the address extensions (0 from a Linux kernel, 255 from setkey), ``proxy`` the
    Linux state selector's source (ADDRESS_PROXY) with its protocol ``proxy_proto``."""

    satype: int
    src: Endpoint
    dst: Endpoint
    spi: int
    mode: int = Mode.ANY
    reqid: int = 0
    state: int = SAState.MATURE
    auth: int = 0
    encrypt: int = 0
    auth_key: bytes | None = None
    enc_key: bytes | None = None
    replay: int = 0
    flags: int = 0
    sequence: int = 0
    current: Lifetime = ZERO_LIFETIME
    hard: Lifetime | None = None
    soft: Lifetime | None = None
    natt_type: int = 0
    natt_sport: int = 0
    natt_dport: int = 0
    natt_oa: Endpoint | None = None
    msg_seq: int = 0
    pid: int = 0
    refcnt: int = 0
    ulproto: int = 0
    proxy: Endpoint | None = None
    proxy_proto: int = IPSEC_ULPROTO_ANY

    @property
    def key(self) -> SAKey:
        """What identifies the SA in the SAD (see :data:`SAKey`)."""
        return sa_key(self.satype, self.dst.address.packed, self.spi)

    @classmethod
    def from_message(cls, msg: Message, platform: Platform | None = None) -> SecurityAssociation:
        """The SA described by an ADD/UPDATE/GET/DUMP/EXPIRE … message; :class:`ModelError` without SA or
        addresses. ``platform`` is accepted for symmetry: decoded messages are already canonical."""
        ext = msg.ext_map()
        sa = ext.get(ExtType.SA)
        src = _endpoint(ext.get(ExtType.ADDRESS_SRC))
        dst = _endpoint(ext.get(ExtType.ADDRESS_DST))
        if not isinstance(sa, SAExt):
            raise ModelError(f"{msg.type_name} message has no SA extension")
        if src is None or dst is None:
            raise ModelError(f"{msg.type_name} message lacks its source or destination address")
        src_ext = ext[ExtType.ADDRESS_SRC]
        sa2 = ext.get(ExtType.X_SA2)
        ak = ext.get(ExtType.KEY_AUTH)
        ek = ext.get(ExtType.KEY_ENCRYPT)
        ntype = ext.get(ExtType.X_NAT_T_TYPE)
        sport = ext.get(ExtType.X_NAT_T_SPORT)
        dport = ext.get(ExtType.X_NAT_T_DPORT)
        proxy = ext.get(ExtType.ADDRESS_PROXY)
        return cls(
            satype=msg.satype,
            src=src,
            dst=dst,
            spi=sa.spi,
            mode=sa2.mode if isinstance(sa2, SA2Ext) else Mode.ANY,
            reqid=sa2.reqid if isinstance(sa2, SA2Ext) else 0,
            state=sa.state,
            auth=sa.auth,
            encrypt=sa.encrypt,
            auth_key=ak.key if isinstance(ak, KeyExt) else None,
            enc_key=ek.key if isinstance(ek, KeyExt) else None,
            replay=sa.replay,
            flags=sa.flags,
            sequence=sa2.sequence if isinstance(sa2, SA2Ext) else 0,
            current=Lifetime.from_ext(ext.get(ExtType.LIFETIME_CURRENT)) or ZERO_LIFETIME,
            hard=Lifetime.from_ext(ext.get(ExtType.LIFETIME_HARD)),
            soft=Lifetime.from_ext(ext.get(ExtType.LIFETIME_SOFT)),
            natt_type=ntype.type if isinstance(ntype, NatTTypeExt) else 0,
            natt_sport=sport.port if isinstance(sport, NatTPortExt) else 0,
            natt_dport=dport.port if isinstance(dport, NatTPortExt) else 0,
            natt_oa=_endpoint(ext.get(ExtType.X_NAT_T_OA)),
            msg_seq=msg.seq,
            pid=msg.pid,
            refcnt=msg.reserved,
            ulproto=src_ext.proto if isinstance(src_ext, AddressExt) else 0,
            proxy=_endpoint(proxy),
            proxy_proto=proxy.proto if isinstance(proxy, AddressExt) else IPSEC_ULPROTO_ANY,
        )

    def to_message(self, msg_type: int, platform: Platform | None = None) -> Message:
        """A message of ``msg_type`` carrying this SA, extensions in the Linux kernel's order: SA, hard, soft,
        current lifetime, addresses (and proxy), auth and encryption keys, SA2, NAT-T type/ports/OA."""
        p = platform or default_platform()
        exts: list[Extension] = [
            SAExt(self.spi, self.replay, self.state, self.auth, self.encrypt, self.flags)
        ]
        exts += _lifetime_exts(self.current, self.hard, self.soft)
        exts.append(_address_ext(ExtType.ADDRESS_SRC, self.src, self.ulproto, p))
        exts.append(_address_ext(ExtType.ADDRESS_DST, self.dst, self.ulproto, p))
        if self.proxy is not None:
            exts.append(_address_ext(ExtType.ADDRESS_PROXY, self.proxy, self.proxy_proto, p))
        if self.auth_key is not None:
            exts.append(KeyExt(ExtType.KEY_AUTH, len(self.auth_key) * 8, self.auth_key))
        if self.enc_key is not None:
            exts.append(KeyExt(ExtType.KEY_ENCRYPT, len(self.enc_key) * 8, self.enc_key))
        exts.append(SA2Ext(self.mode, self.reqid, self.sequence))
        if self.natt_type:
            exts.append(NatTTypeExt(self.natt_type))
            exts.append(NatTPortExt(ExtType.X_NAT_T_SPORT, self.natt_sport))
            exts.append(NatTPortExt(ExtType.X_NAT_T_DPORT, self.natt_dport))
        if self.natt_oa is not None:
            exts.append(_address_ext(ExtType.X_NAT_T_OA, self.natt_oa, self.ulproto, p))
        return Message(msg_type, self.satype, self.msg_seq, self.pid, 0, tuple(exts), reserved=self.refcnt)

    def to_request(self, msg_type: int, platform: Platform | None = None) -> Message:
        """The request setkey sends for this SA, in its order (ipsec-tools ``setkeymsg_add``): for ADD and
        UPDATE the encryption and auth keys and the hard and soft lifetimes first; then SA, SA2, NAT-T type
        and OA, source and destination, NAT-T ports. No current lifetime, no proxy; ``msg_seq``/``pid`` as
        in the model (a :class:`~setkey_tui.service.KeyService` sets its own)."""
        p = platform or default_platform()
        exts: list[Extension] = []
        if msg_type in (MsgType.ADD, MsgType.UPDATE):
            if self.enc_key is not None:
                exts.append(KeyExt(ExtType.KEY_ENCRYPT, len(self.enc_key) * 8, self.enc_key))
            if self.auth_key is not None:
                exts.append(KeyExt(ExtType.KEY_AUTH, len(self.auth_key) * 8, self.auth_key))
            exts += _lifetime_exts(None, self.hard, self.soft)
        exts.append(SAExt(self.spi, self.replay, self.state, self.auth, self.encrypt, self.flags))
        exts.append(SA2Ext(self.mode, self.reqid, self.sequence))
        if self.natt_type:
            exts.append(NatTTypeExt(self.natt_type))
        if self.natt_oa is not None:
            exts.append(_address_ext(ExtType.X_NAT_T_OA, self.natt_oa, self.ulproto, p))
        exts.append(_address_ext(ExtType.ADDRESS_SRC, self.src, self.ulproto, p))
        exts.append(_address_ext(ExtType.ADDRESS_DST, self.dst, self.ulproto, p))
        if self.natt_type:
            exts.append(NatTPortExt(ExtType.X_NAT_T_SPORT, self.natt_sport))
            exts.append(NatTPortExt(ExtType.X_NAT_T_DPORT, self.natt_dport))
        return Message(msg_type, self.satype, self.msg_seq, self.pid, 0, tuple(exts))


# ------------------------------------------------------------------------------------------------ SP
@dataclass(frozen=True, slots=True)
class IpsecRequest:
    """One transform of an IPsec policy: protocol (IPPROTO_ESP/AH/COMP), mode, level, reqid, and the tunnel
    endpoints (both or neither)."""

    proto: int
    mode: int
    level: int
    reqid: int = 0
    src: Endpoint | None = None
    dst: Endpoint | None = None

    @classmethod
    def from_ext(cls, req: RequestExt) -> IpsecRequest:
        """From a decoded ``sadb_x_ipsecrequest``."""
        src = Endpoint.from_sockaddr(req.src) if req.src is not None else None
        dst = Endpoint.from_sockaddr(req.dst) if req.dst is not None else None
        return cls(req.proto, req.mode, req.level, req.reqid, src, dst)

    def to_ext(self, platform: Platform) -> RequestExt:
        """The ``sadb_x_ipsecrequest`` of this request on ``platform``."""
        src = self.src.to_sockaddr(platform) if self.src is not None else None
        dst = self.dst.to_sockaddr(platform) if self.dst is not None else None
        return RequestExt(self.proto, self.mode, self.level, self.reqid, src, dst)


@dataclass(frozen=True, slots=True)
class Selector:
    """The traffic a policy applies to: source and destination (with prefix and port) and the upper-layer
    protocol (255 = any)."""

    src: Endpoint
    dst: Endpoint
    upper: int = IPSEC_ULPROTO_ANY


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """One SPD entry. ``selector`` is None for a per-socket policy (no addresses); ``action`` is the policy
    type (discard/none/ipsec/entrust/bypass); ``spid`` the kernel's policy id."""

    selector: Selector | None
    direction: int
    action: int
    priority: int = 0
    requests: tuple[IpsecRequest, ...] = ()
    spid: int = 0
    current: Lifetime | None = None
    hard: Lifetime | None = None
    soft: Lifetime | None = None
    msg_seq: int = 0
    pid: int = 0
    refcnt: int = 0

    @property
    def key(self) -> PolicyKey:
        """What identifies the policy in the SPD (see :data:`PolicyKey`); a per-socket policy (no selector)
        has empty addresses in it."""
        s = self.selector
        if s is None:
            return policy_key(b"", 0, 0, b"", 0, 0, 0, self.direction)
        return policy_key(s.src.address.packed, s.src.prefixlen, s.src.port, s.dst.address.packed,
                          s.dst.prefixlen, s.dst.port, s.upper, self.direction)

    @classmethod
    def from_message(cls, msg: Message, platform: Platform | None = None) -> SecurityPolicy:
        """The policy in an X_SPDADD/X_SPDDUMP/X_SPDGET … message; :class:`ModelError` without X_POLICY or
        with only one of the two addresses."""
        ext = msg.ext_map()
        pol = ext.get(ExtType.X_POLICY)
        if not isinstance(pol, PolicyExt):
            raise ModelError(f"{msg.type_name} message has no X_POLICY extension")
        src_ext = ext.get(ExtType.ADDRESS_SRC)
        src, dst = _endpoint(src_ext), _endpoint(ext.get(ExtType.ADDRESS_DST))
        if (src is None) != (dst is None):
            raise ModelError(f"{msg.type_name} message has only one of the selector's two addresses")
        selector = None
        if src is not None and dst is not None and isinstance(src_ext, AddressExt):
            selector = Selector(src, dst, src_ext.proto)
        return cls(
            selector=selector,
            direction=pol.dir,
            action=pol.policy_type,
            priority=pol.priority,
            requests=tuple(IpsecRequest.from_ext(r) for r in pol.requests),
            spid=pol.id,
            current=Lifetime.from_ext(ext.get(ExtType.LIFETIME_CURRENT)),
            hard=Lifetime.from_ext(ext.get(ExtType.LIFETIME_HARD)),
            soft=Lifetime.from_ext(ext.get(ExtType.LIFETIME_SOFT)),
            msg_seq=msg.seq,
            pid=msg.pid,
            refcnt=msg.reserved,
        )

    def to_message(self, msg_type: int, platform: Platform | None = None) -> Message:
        """A message of ``msg_type`` carrying this policy, in the Linux kernel's order: addresses, hard, soft,
        current lifetime, X_POLICY with its requests."""
        p = platform or default_platform()
        exts: list[Extension] = []
        if self.selector is not None:
            s = self.selector
            exts.append(_address_ext(ExtType.ADDRESS_SRC, s.src, s.upper, p))
            exts.append(_address_ext(ExtType.ADDRESS_DST, s.dst, s.upper, p))
        exts += _lifetime_exts(self.current, self.hard, self.soft)
        reqs = tuple(r.to_ext(p) for r in self.requests)
        exts.append(PolicyExt(self.action, self.direction, self.spid, self.priority, reqs))
        return Message(msg_type, 0, self.msg_seq, self.pid, 0, tuple(exts), reserved=self.refcnt)

    def to_request(self, msg_type: int, platform: Platform | None = None) -> Message:
        """The request setkey sends for this policy, in its order: X_POLICY (with its requests), then the
        selector's source and destination and, when set, the hard and soft lifetimes. X_SPDDELETE2 and
        X_SPDGET name the policy by id: X_POLICY alone."""
        p = platform or default_platform()
        reqs = tuple(r.to_ext(p) for r in self.requests)
        exts: list[Extension] = [PolicyExt(self.action, self.direction, self.spid, self.priority, reqs)]
        if msg_type not in (MsgType.X_SPDDELETE2, MsgType.X_SPDGET):
            if self.selector is not None:
                s = self.selector
                exts.append(_address_ext(ExtType.ADDRESS_SRC, s.src, s.upper, p))
                exts.append(_address_ext(ExtType.ADDRESS_DST, s.dst, s.upper, p))
            exts += _lifetime_exts(None, self.hard, self.soft)
        return Message(msg_type, 0, self.msg_seq, self.pid, 0, tuple(exts))
