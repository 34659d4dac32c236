"""What the simulated kernel stores (SAs and policies) and how it writes them back as PF_KEY messages.

A record holds what the kernel keeps (addresses as raw bytes for fast look-ups, mutable counters, larval and
acquire state); :meth:`SARecord.view` and :meth:`PolicyRecord.view` give the program's one typed view of it
(:class:`setkey_tui.model.SecurityAssociation` / :class:`~setkey_tui.model.SecurityPolicy`). The messages are
the layouts of Linux 6.1's af_key (``__pfkey_xfrm_state2msg`` and ``pfkey_xfrm_policy2msg``): extension
order, prefix lengths, proto 0 in SA addresses, the ADDRESS_PROXY of an SA whose selector differs from its
source, keys only when asked for. ``message()`` writes them directly: the view's ``to_message`` gives the same
bytes (tests/kernel/test_sim_records.py holds them equal) but costs 1.6x per SA, which a 100k-SA dump feels,
and the model has no X_SEC_CTX nor a key bit count that is not a whole number of bytes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import NamedTuple

from setkey_tui.model import (
    Endpoint,
    Lifetime,
    PolicyKey,
    SAKey,
    SecurityAssociation,
    SecurityPolicy,
    policy_key,
    sa_key,
)
from setkey_tui.model import IpsecRequest as ModelRequest
from setkey_tui.model import Selector as ModelSelector
from setkey_tui.pfkey.constants import (
    IPSEC_PROTO_ANY,
    ExtType,
    Level,
    Mode,
    SAState,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Extension,
    IpsecRequest,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    SecCtxExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import AF_INET

AF_INET6 = 10


@dataclass(slots=True)
class Limits:
    """A hard or soft lifetime (0 = no limit), as sadb_lifetime carries it."""

    allocations: int = 0
    bytes: int = 0
    addtime: int = 0
    usetime: int = 0

    def ext(self, ext_type: int) -> LifetimeExt:
        """This lifetime as an extension of ``ext_type``."""
        return LifetimeExt(ext_type, self.allocations, self.bytes, self.addtime, self.usetime)

    def view(self) -> Lifetime:
        """As the model's lifetime."""
        return Lifetime(self.allocations, self.bytes, self.addtime, self.usetime)

    @classmethod
    def of(cls, ext: LifetimeExt | None) -> Limits:
        """From a request's lifetime extension (None: no limits)."""
        if ext is None:
            return cls()
        return cls(ext.allocations, ext.byte_count, ext.addtime, ext.usetime)


@dataclass(slots=True)
class Usage:
    """The current lifetime: packets, bytes, creation and first-use times."""

    allocations: int = 0
    bytes: int = 0
    addtime: int = 0
    usetime: int = 0

    def ext(self) -> LifetimeExt:
        """As a LIFETIME_CURRENT extension."""
        return LifetimeExt(ExtType.LIFETIME_CURRENT, self.allocations, self.bytes, self.addtime, self.usetime)

    def view(self) -> Lifetime:
        """As the model's lifetime."""
        return Lifetime(self.allocations, self.bytes, self.addtime, self.usetime)


class Addr(NamedTuple):
    """An address of a given family (2 or 10) with its raw bytes."""

    family: int
    addr: bytes

    @property
    def full_prefix(self) -> int:
        """32 or 128."""
        return 32 if self.family == AF_INET else 128

    def sockaddr(self, port: int = 0) -> Sockaddr:
        """A Linux sockaddr for this address."""
        return Sockaddr(self.family, port, self.addr)

    @classmethod
    def zero(cls, family: int) -> Addr:
        """0.0.0.0 or ::."""
        return cls(family, bytes(4 if family == AF_INET else 16))

    def endpoint(self, prefixlen: int | None = None, port: int = 0) -> Endpoint:
        """As the model's endpoint (the whole address by default)."""
        return Endpoint(ipaddress.ip_address(self.addr), self.full_prefix if prefixlen is None else prefixlen, port)


def _key(ext: KeyExt | None, wanted: bool) -> bytes | None:
    return ext.key if wanted and ext is not None and ext.bits else None


@dataclass(slots=True)
class SARecord:
    """One security association (Linux xfrm_state, as PF_KEY sees it)."""

    satype: int
    proto: int
    spi: int
    src: Addr
    dst: Addr
    mode: int = Mode.TRANSPORT
    reqid: int = 0
    replay: int = 0
    larval: bool = False
    dying: bool = False
    dead: bool = False
    auth: int = 0
    encrypt: int = 0
    auth_key: KeyExt | None = None
    enc_key: KeyExt | None = None
    flags: int = 0
    hard: Limits = field(default_factory=Limits)
    soft: Limits = field(default_factory=Limits)
    current: Usage = field(default_factory=Usage)
    sel: Addr | None = None
    sel_prefix: int = 0
    sel_proto: int = 0
    natt: tuple[int, int, int] | None = None  # (type, sport, dport)
    sec_ctx: SecCtxExt | None = None
    acq_seq: int = 0  # km.seq of an acquire state

    @property
    def key(self) -> SAKey:
        """How the kernel finds an SA, (satype, destination, SPI), in the model's shape (:func:`sa_key`)."""
        return sa_key(self.satype, self.dst.addr, self.spi)

    @property
    def state(self) -> int:
        """The sadb_sa_state this SA shows."""
        if self.dead:
            return SAState.DEAD
        if self.larval:
            return SAState.LARVAL
        return SAState.DYING if self.dying else SAState.MATURE

    def view(self, *, seq: int = 0, pid: int = 0, keys: bool = True, hsc: int = 3) -> SecurityAssociation:
        """The SA as the model sees it (``hsc``: which limits it shows, 1 soft, 2 hard, 3 both; ``keys``:
        whether key material is shown); ``seq``/``pid`` those of the message it goes in."""
        src, dst = self.src.endpoint(), self.dst.endpoint()
        sel = self.sel or Addr.zero(self.src.family)
        proxy = sel.endpoint(self.sel_prefix) if sel.addr != self.src.addr else None
        ntype, nsport, ndport = self.natt or (0, 0, 0)
        return SecurityAssociation(
            satype=self.satype,
            src=src,
            dst=dst,
            spi=self.spi,
            mode=self.mode,
            reqid=self.reqid,
            state=self.state,
            auth=self.auth,
            encrypt=self.encrypt,
            auth_key=_key(self.auth_key, keys),
            enc_key=_key(self.enc_key, keys),
            replay=self.replay,
            flags=self.flags,
            current=self.current.view(),
            hard=self.hard.view() if hsc & 2 else None,
            soft=self.soft.view() if hsc & 1 else None,
            natt_type=ntype,
            natt_sport=nsport,
            natt_dport=ndport,
            msg_seq=seq,
            pid=pid,
            proxy=proxy,
            proxy_proto=self.sel_proto or IPSEC_PROTO_ANY,
        )

    def message(self, msg_type: int, *, seq: int, pid: int, keys: bool = True, hsc: int = 3) -> Message:
        """The SA as a message (``hsc``: 1 soft lifetime, 2 hard, 3 both), written directly: the bytes of
        ``view(...).to_message(msg_type, LINUX)`` plus what the model lacks (see the module's docstring)."""
        exts: list[Extension] = [
            SAExt(self.spi, self.replay, self.state, self.auth, self.encrypt, self.flags),
        ]
        if hsc & 2:
            exts.append(self.hard.ext(ExtType.LIFETIME_HARD))
        if hsc & 1:
            exts.append(self.soft.ext(ExtType.LIFETIME_SOFT))
        exts.append(self.current.ext())
        exts.append(AddressExt(ExtType.ADDRESS_SRC, self.src.sockaddr(), 0, self.src.full_prefix))
        exts.append(AddressExt(ExtType.ADDRESS_DST, self.dst.sockaddr(), 0, self.dst.full_prefix))
        sel = self.sel or Addr.zero(self.src.family)
        if sel.addr != self.src.addr:
            proto = self.sel_proto or IPSEC_PROTO_ANY
            exts.append(AddressExt(ExtType.ADDRESS_PROXY, sel.sockaddr(), proto, self.sel_prefix))
        if keys and self.auth_key is not None and self.auth_key.bits:
            exts.append(KeyExt(ExtType.KEY_AUTH, self.auth_key.bits, self.auth_key.key))
        if keys and self.enc_key is not None and self.enc_key.bits:
            exts.append(KeyExt(ExtType.KEY_ENCRYPT, self.enc_key.bits, self.enc_key.key))
        exts.append(SA2Ext(self.mode, self.reqid, 0))
        if self.natt is not None:
            ntype, sport, dport = self.natt
            exts.append(NatTTypeExt(ntype))
            exts.append(NatTPortExt(ExtType.X_NAT_T_SPORT, sport))
            exts.append(NatTPortExt(ExtType.X_NAT_T_DPORT, dport))
        if self.sec_ctx is not None:
            exts.append(self.sec_ctx)
        return Message(msg_type, self.satype, seq, pid, 0, tuple(exts))


@dataclass(frozen=True, slots=True)
class Template:
    """One transform of a policy (xfrm_tmpl): proto, mode, reqid, optional, tunnel endpoints."""

    proto: int
    mode: int
    reqid: int = 0
    optional: bool = False
    src: Addr | None = None
    dst: Addr | None = None

    def request(self) -> IpsecRequest:
        """As a Linux sadb_x_ipsecrequest (level derived as af_key does)."""
        level = Level.USE if self.optional else Level.REQUIRE
        if self.reqid:
            level = Level.UNIQUE
        tunnel = self.mode == Mode.TUNNEL and self.src is not None and self.dst is not None
        return IpsecRequest(
            self.proto,
            self.mode,
            level,
            self.reqid,
            self.src.sockaddr() if tunnel and self.src else None,
            self.dst.sockaddr() if tunnel and self.dst else None,
        )

    def view(self) -> ModelRequest:
        """As the model's request: the level derived as af_key does, the endpoints only in tunnel mode."""
        level = Level.USE if self.optional else Level.REQUIRE
        if self.reqid:
            level = Level.UNIQUE
        tunnel = self.mode == Mode.TUNNEL and self.src is not None and self.dst is not None
        return ModelRequest(
            self.proto,
            self.mode,
            level,
            self.reqid,
            self.src.endpoint() if tunnel and self.src else None,
            self.dst.endpoint() if tunnel and self.dst else None,
        )


@dataclass(frozen=True, slots=True)
class Selector:
    """A policy's traffic selector (ports in host order, proto 0 = any)."""

    src: Addr
    src_prefix: int
    sport: int
    dst: Addr
    dst_prefix: int
    dport: int
    proto: int

    def key(self, direction: int) -> PolicyKey:
        """The model's key (:func:`policy_key`) of the policy with this selector and ``direction``; the
        protocol as its messages carry it (255 = any)."""
        return policy_key(self.src.addr, self.src_prefix, self.sport, self.dst.addr, self.dst_prefix, self.dport,
                          self.proto or IPSEC_PROTO_ANY, direction)


@dataclass(slots=True)
class PolicyRecord:
    """One security policy (Linux xfrm_policy as PF_KEY sees it)."""

    selector: Selector
    dir: int  # PF_KEY direction 1 in, 2 out, 3 fwd
    index: int
    priority: int
    policy_type: int
    templates: tuple[Template, ...] = ()
    hard: Limits = field(default_factory=Limits)
    soft: Limits = field(default_factory=Limits)
    current: Usage = field(default_factory=Usage)
    sec_ctx: SecCtxExt | None = None
    soft_expired: bool = False
    _shape: tuple[ModelSelector, tuple[ModelRequest, ...]] | None = field(default=None, repr=False, compare=False)
    _key: PolicyKey | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> PolicyKey:
        """(selector, direction), what makes a policy unique, in the model's shape (:func:`policy_key`)."""
        if self._key is None:  # neither changes
            self._key = self.selector.key(self.dir)
        return self._key

    def view(self, *, seq: int = 0, pid: int = 0, refcnt: int = 0) -> SecurityPolicy:
        """The policy as the model sees it; ``seq``/``pid``/``refcnt`` those of the message it goes in."""
        if self._shape is None:  # selector and templates never change
            sel = self.selector
            self._shape = (
                ModelSelector(
                    sel.src.endpoint(sel.src_prefix, sel.sport),
                    sel.dst.endpoint(sel.dst_prefix, sel.dport),
                    sel.proto or IPSEC_PROTO_ANY,
                ),
                tuple(t.view() for t in self.templates),
            )
        selector, requests = self._shape
        return SecurityPolicy(
            selector=selector,
            direction=self.dir,
            action=self.policy_type,
            priority=self.priority,
            requests=requests,
            spid=self.index,
            current=self.current.view(),
            hard=self.hard.view(),
            soft=self.soft.view(),
            msg_seq=seq,
            pid=pid,
            refcnt=refcnt,
        )

    def message(self, msg_type: int, *, seq: int, pid: int, refcnt: int) -> Message:
        """The policy as a message (Linux order: SRC, DST, HARD, SOFT, CURRENT, X_POLICY, SEC_CTX)."""
        s = self.selector
        proto = s.proto or IPSEC_PROTO_ANY
        exts: list[Extension] = [
            AddressExt(ExtType.ADDRESS_SRC, s.src.sockaddr(s.sport), proto, s.src_prefix),
            AddressExt(ExtType.ADDRESS_DST, s.dst.sockaddr(s.dport), proto, s.dst_prefix),
            self.hard.ext(ExtType.LIFETIME_HARD),
            self.soft.ext(ExtType.LIFETIME_SOFT),
            self.current.ext(),
            PolicyExt(
                self.policy_type,
                self.dir,
                self.index,
                self.priority,
                tuple(t.request() for t in self.templates),
            ),
        ]
        if self.sec_ctx is not None:
            exts.append(self.sec_ctx)
        return Message(msg_type, 0, seq, pid, 0, tuple(exts), reserved=refcnt)
