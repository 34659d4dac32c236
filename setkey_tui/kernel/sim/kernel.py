"""The simulated kernel: a sans-I/O, Linux-flavoured RFC 2367 PF_KEY implementation.

``SimKernel.handle(socket_id, data, now)`` takes one message a socket sent and returns the deliveries it
causes, as ``(socket_id, bytes)`` pairs in order. Nothing here blocks, sleeps or reads a clock it was not
given (the clock is injectable; ``now`` may be passed explicitly). ``tick(now)`` fires lifetime expiries;
``simulate_traffic(...)`` sends a packet through the SPD (raising ACQUIRE when an SA is missing).

Behaviour follows Linux 6.1's af_key (net/key/af_key.c) as recorded in tests/data/realkernel.jsonl: who
receives what (sender, all sockets, registered sockets, promiscuous sockets, which also get a copy of every
request), the errnos, and the exact layout of every reply.
"""

from __future__ import annotations

import errno as E
import heapq
import itertools
import random
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.kernel.sim import algs
from setkey_tui.kernel.sim.records import (
    AF_INET6,
    Addr,
    Limits,
    PolicyRecord,
    SARecord,
    Selector,
    Template,
    Usage,
)
from setkey_tui.pfkey.constants import (
    IPPROTO_AH,
    IPPROTO_COMP,
    IPPROTO_ESP,
    IPSEC_MANUAL_REQID_MAX,
    IPSEC_PROTO_ANY,
    IPSEC_REPLAYWSIZE,
    PF_KEY_V2,
    AuthAlg,
    Direction,
    ExtType,
    Level,
    Mode,
    MsgType,
    PolicyType,
    SAType,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Alg,
    Comb,
    Extension,
    FilterExt,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    ProposalExt,
    RawExt,
    SA2Ext,
    SAExt,
    SecCtxExt,
    SPIRangeExt,
    SupportedExt,
)
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import AF_INET, LINUX
from setkey_tui.pfkey.wire import DecodeError, EncodeError

Delivery = tuple[int, bytes]

SADB_SATYPE_MAX = 9
SPI_MIN_DEFAULT = 0x100
SPI_MAX_DEFAULT = 0x0FFFFFFF
ACQ_EXPIRES = 30  # net.core.xfrm_acq_expires
LINUX_SA_FLAGS = 0xE0000000  # NOECN, DECAP_DSCP, NOPMTUDISC: the only sadb_sa_flags Linux keeps
SATYPE_PROTO = {SAType.AH: IPPROTO_AH, SAType.ESP: IPPROTO_ESP, SAType.IPCOMP: IPPROTO_COMP}
PROTO_SATYPE = {v: k for k, v in SATYPE_PROTO.items()}
VALID_TMPL_PROTOS = frozenset({IPPROTO_AH, IPPROTO_ESP, IPPROTO_COMP, 43, 60, 255})
MAX_TEMPLATES = 6  # XFRM_MAX_DEPTH
# Policy refcounts Linux reports in sadb_msg_reserved.
REFCNT_NOTIFY = 3
REFCNT_DUMP = 2
REFCNT_DELETED = 1
# Proposal lifetimes Linux puts in every sadb_comb of an ACQUIRE.
COMB_TIMES = {"hard_addtime": 86400, "soft_addtime": 72000, "hard_usetime": 28800, "soft_usetime": 25200}


class Refused(Exception):
    """The kernel refused to accept the bytes at all: ``send()`` itself fails with ``errno``."""

    def __init__(self, errno: int, reason: str) -> None:
        super().__init__(reason)
        self.errno = errno


class _Fail(Exception):
    """A request failed: the sender gets a header-only error reply with this errno."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno


class Target(Enum):
    """pfkey_broadcast's delivery modes."""

    ONE = "one"
    ALL = "all"
    REGISTERED = "registered"
    PROMISC_ONLY = "promisc"


@dataclass(slots=True)
class SocketState:
    """Per-socket kernel state: promiscuous flag and the satypes registered for (bit mask)."""

    promisc: bool = False
    registered: int = 0


@dataclass(frozen=True, slots=True)
class TrafficResult:
    """What happened to one simulated packet."""

    verdict: str  # "no-policy", "bypass", "discard", "protected", "acquire", "expired"
    policy_id: int | None = None
    sa_spis: tuple[int, ...] = ()
    acquires: int = 0
    deliveries: list[Delivery] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The verdict without the deliveries (what a served kernel answers a client)."""
        return {
            "verdict": self.verdict,
            "policy_id": self.policy_id,
            "sa_spis": list(self.sa_spis),
            "acquires": self.acquires,
        }


def _header(data: bytes) -> tuple[int, int, int, int, int, int, int, int]:
    return struct.unpack_from("=BBBBHHII", data, 0)


def _addr(ext: object) -> Addr | None:
    """The address of an address extension, or None when absent or of another family."""
    if not isinstance(ext, AddressExt):
        return None
    sa = ext.sockaddr
    if sa.family not in (AF_INET, AF_INET6):
        return None
    return Addr(sa.family, sa.addr)


def _pair(msg: Message, exts: dict[int, object] | None = None) -> tuple[Addr, Addr, AddressExt, AddressExt]:
    """Source and destination, present and of one family (present_and_same_family), else EINVAL."""
    if exts is None:
        exts = msg.ext_map()  # type: ignore[assignment]
    assert exts is not None
    s_ext, d_ext = exts.get(ExtType.ADDRESS_SRC), exts.get(ExtType.ADDRESS_DST)
    s, d = _addr(s_ext), _addr(d_ext)
    if s is None or d is None or s.family != d.family:
        raise _Fail(E.EINVAL)
    assert isinstance(s_ext, AddressExt) and isinstance(d_ext, AddressExt)
    return s, d, s_ext, d_ext


def _prefix_match(net: Addr, plen: int, addr: Addr) -> bool:
    if net.family != addr.family:
        return False
    bits = len(net.addr) * 8
    if plen <= 0:
        return True
    plen = min(plen, bits)
    a = int.from_bytes(net.addr, "big") >> (bits - plen)
    b = int.from_bytes(addr.addr, "big") >> (bits - plen)
    return a == b


class SimKernel:
    """One simulated kernel: SAD, SPD and the PF_KEY sockets open on it."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        supported_auth: tuple[Alg, ...] = LINUX_SUPPORTED_AUTH,
        supported_encrypt: tuple[Alg, ...] = LINUX_SUPPORTED_ENCRYPT,
        acq_expires: int = ACQ_EXPIRES,
        spdexpire: bool = False,
    ) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.supported_auth = supported_auth
        self.supported_encrypt = supported_encrypt
        self.acq_expires = acq_expires
        self.spdexpire = spdexpire
        self.sockets: dict[int, SocketState] = {}
        self._sid = itertools.count(1)
        self._said = itertools.count(1)
        self.sas: dict[int, SARecord] = {}  # insertion order; dumps walk it newest first
        self._sa_by_key: dict[tuple[int, bytes, int], int] = {}
        self._larval: dict[int, SARecord] = {}  # the larval SAs (few), for ACQUIRE/GETSPI look-ups
        self.policies: dict[tuple[int, Selector], PolicyRecord] = {}
        self._pol_by_index: dict[int, PolicyRecord] = {}
        self._idx_generator = 0
        self._reqid = IPSEC_MANUAL_REQID_MAX
        self._acqseq = 0
        self._timers: list[tuple[int, int, str, int]] = []
        self._timer_seq = itertools.count()
        self._handlers: dict[int, Callable[[int, Message, int], list[Delivery]]] = {
            MsgType.GETSPI: self._getspi,
            MsgType.UPDATE: self._add,
            MsgType.ADD: self._add,
            MsgType.DELETE: self._delete,
            MsgType.GET: self._get,
            MsgType.ACQUIRE: self._acquire_reply,
            MsgType.REGISTER: self._register,
            MsgType.FLUSH: self._flush,
            MsgType.DUMP: self._dump,
            MsgType.X_PROMISC: self._promisc,
            MsgType.X_SPDUPDATE: self._spdadd,
            MsgType.X_SPDADD: self._spdadd,
            MsgType.X_SPDSETIDX: self._spdadd,
            MsgType.X_SPDDELETE: self._spddelete,
            MsgType.X_SPDGET: self._spdget,
            MsgType.X_SPDDELETE2: self._spdget,
            MsgType.X_SPDDUMP: self._spddump,
            MsgType.X_SPDFLUSH: self._spdflush,
            MsgType.X_MIGRATE: self._migrate,
        }

    # ----------------------------------------------------------------------------------------- sockets
    def open_socket(self) -> int:
        """A new PF_KEY socket; returns its id."""
        sid = next(self._sid)
        self.sockets[sid] = SocketState()
        return sid

    def close_socket(self, sid: int) -> None:
        """Forget a socket (its registrations and promiscuous mode go with it)."""
        self.sockets.pop(sid, None)

    def _now(self, now: float | None) -> int:
        return int(self.clock() if now is None else now)

    # ---------------------------------------------------------------------------------------- delivery
    def _broadcast(self, data: bytes, target: Target, one: int | None = None) -> list[Delivery]:
        """Linux pfkey_broadcast: promiscuous copies first, then the targets, the ``one`` socket last."""
        out: list[Delivery] = []
        for sid, st in self.sockets.items():
            if st.promisc:
                out.append((sid, data))
            if sid == one:
                continue
            if target is Target.ALL or (target is Target.REGISTERED and st.registered):
                out.append((sid, data))
        if one is not None and one in self.sockets:
            out.append((one, data))
        return out

    def _send(self, msg: Message, target: Target, one: int | None = None) -> list[Delivery]:
        return self._broadcast(msg.encode(LINUX), target, one)

    # ----------------------------------------------------------------------------------------- entry
    def handle(self, sid: int, data: bytes, now: float | None = None) -> list[Delivery]:
        """Process one message sent by socket ``sid``; :class:`Refused` when send() itself would fail."""
        if sid not in self.sockets:
            raise Refused(E.EBADF, f"socket {sid} is not open")
        t = self._now(now)
        out = self.tick(t)
        data = bytes(data)
        if len(data) < 16:
            raise Refused(E.EMSGSIZE, f"message of {len(data)} bytes is shorter than a sadb_msg")
        version, mtype, _err, _satype, mlen, reserved, _seq, _pid = _header(data)
        if version != PF_KEY_V2 or reserved != 0 or not (0 < mtype <= MsgType.X_MIGRATE):
            raise Refused(E.EINVAL, "bad sadb_msg header (version, reserved or type)")
        if mlen * 8 != len(data):
            raise Refused(E.EMSGSIZE, f"sadb_msg_len says {mlen * 8} bytes but {len(data)} were sent")
        out += self._broadcast(data, Target.PROMISC_ONLY)
        try:
            msg = decode(data, LINUX)
            self._check_exts(msg)
            handler = self._handlers.get(mtype)
            if handler is None:
                raise _Fail(E.EOPNOTSUPP)
            out += handler(sid, msg, t)
        except (DecodeError, EncodeError):  # malformed, or values no reply can carry
            out += self._error(sid, data, E.EINVAL)
        except _Fail as exc:
            out += self._error(sid, data, exc.errno)
        return out

    def _error(self, sid: int, request: bytes, err: int) -> list[Delivery]:
        version, mtype, _e, satype, _l, _r, seq, pid = _header(request)
        reply = struct.pack("=BBBBHHII", version, mtype, err & 0xFF, satype, 2, 0, seq, pid)
        return self._broadcast(reply, Target.ONE, sid)

    def _check_exts(self, msg: Message) -> None:
        """parse_exthdrs: no duplicates, no type 0, sane address prefixes."""
        seen: set[int] = set()
        for ext in msg.extensions:
            et = ext.ext_type
            if isinstance(ext, RawExt):
                if et == 0:
                    raise _Fail(E.EINVAL)
                continue
            if et in seen:
                raise _Fail(E.EINVAL)
            seen.add(et)
            if isinstance(ext, AddressExt):
                fam = ext.sockaddr.family
                if (fam == AF_INET and ext.prefixlen > 32) or (fam == AF_INET6 and ext.prefixlen > 128):
                    raise _Fail(E.EINVAL)

    # --------------------------------------------------------------------------------------- SA store
    def _insert_sa(self, rec: SARecord) -> None:
        said = next(self._said)
        self.sas[said] = rec
        if rec.spi:
            self._sa_by_key[rec.key] = said
        if rec.larval:
            self._larval[said] = rec
        self._schedule_sa(said, rec)

    def _find_said(self, proto: int, dst: bytes, spi: int) -> int | None:
        return self._sa_by_key.get((proto, dst, spi))

    def _remove_sa(self, said: int) -> SARecord | None:
        rec = self.sas.pop(said, None)
        self._larval.pop(said, None)
        if rec is not None and rec.spi and self._sa_by_key.get(rec.key) == said:
            del self._sa_by_key[rec.key]
        return rec

    def find_sa(self, proto: int, dst: Addr, spi: int) -> SARecord | None:
        """The SA with this (proto, destination, SPI), if any."""
        said = self._find_said(proto, dst.addr, spi)
        return None if said is None else self.sas[said]

    def _find_acq(self, mode: int, reqid: int, proto: int, dst: Addr, src: Addr) -> int | None:
        for said, rec in self._larval.items():
            if (
                rec.spi == 0
                and rec.proto == proto
                and rec.mode == mode
                and rec.reqid == reqid
                and rec.dst == dst
                and rec.src == src
            ):
                return said
        return None

    def _find_acq_by_seq(self, seq: int) -> int | None:
        if not seq:
            return None
        for said, rec in self._larval.items():
            if rec.acq_seq == seq:
                return said
        return None

    def _new_larval(self, proto: int, src: Addr, dst: Addr, mode: int, reqid: int, now: int) -> SARecord:
        return SARecord(
            satype=PROTO_SATYPE[proto],
            proto=proto,
            spi=0,
            src=src,
            dst=dst,
            mode=mode,
            reqid=reqid,
            larval=True,
            hard=Limits(addtime=self.acq_expires),
            current=Usage(addtime=now),
            sel=src,
            sel_prefix=src.full_prefix,  # xfrm_find_acq: the selector is the address pair
        )

    # ----------------------------------------------------------------------------------------- timers
    def _push_timer(self, when: int, kind: str, ident: int) -> None:
        heapq.heappush(self._timers, (when, next(self._timer_seq), kind, ident))

    def _schedule_sa(self, said: int, rec: SARecord) -> None:
        cands = []
        if rec.hard.addtime:
            cands.append(rec.current.addtime + rec.hard.addtime)
        if rec.hard.usetime and rec.current.usetime:
            cands.append(rec.current.usetime + rec.hard.usetime)
        if not rec.dying and not rec.larval:  # as _check_sa_time: a timer it would not fire loops tick()
            if rec.soft.addtime:
                cands.append(rec.current.addtime + rec.soft.addtime)
            if rec.soft.usetime and rec.current.usetime:
                cands.append(rec.current.usetime + rec.soft.usetime)
        if cands:
            self._push_timer(min(cands), "sa", said)

    def _schedule_sp(self, pol: PolicyRecord) -> None:
        cands = []
        for lim in (pol.hard,) if pol.soft_expired else (pol.hard, pol.soft):
            if lim.addtime:
                cands.append(pol.current.addtime + lim.addtime)
            if lim.usetime and pol.current.usetime:
                cands.append(pol.current.usetime + lim.usetime)
        if cands:
            self._push_timer(min(cands), "sp", pol.index)

    def next_timer(self) -> int | None:
        """When the next lifetime may expire (seconds since the epoch), or None."""
        return self._timers[0][0] if self._timers else None

    def tick(self, now: float | None = None) -> list[Delivery]:
        """Fire every lifetime expiry due at ``now``: soft EXPIRE (SA dying), then hard EXPIRE (SA gone)."""
        t = self._now(now)
        out: list[Delivery] = []
        while self._timers and self._timers[0][0] <= t:
            _when, _n, kind, ident = heapq.heappop(self._timers)
            if kind == "sa":
                out += self._check_sa_time(ident, t)
            else:
                out += self._check_sp_time(ident, t)
        return out

    def _check_sa_time(self, said: int, t: int) -> list[Delivery]:
        rec = self.sas.get(said)
        if rec is None:
            return []
        h, s, c = rec.hard, rec.soft, rec.current
        if (h.addtime and c.addtime + h.addtime <= t) or (
            h.usetime and c.usetime and c.usetime + h.usetime <= t
        ):
            return self._expire_hard(said)
        out: list[Delivery] = []
        if (
            not rec.dying
            and not rec.larval
            and (
                (s.addtime and c.addtime + s.addtime <= t)
                or (s.usetime and c.usetime and c.usetime + s.usetime <= t)
            )
        ):
            rec.dying = True
            out += self._send_expire(rec, hard=False)
        self._schedule_sa(said, rec)
        return out

    def _send_expire(self, rec: SARecord, *, hard: bool) -> list[Delivery]:
        msg = rec.message(MsgType.EXPIRE, seq=0, pid=0, keys=False, hsc=2 if hard else 1)
        return self._send(msg, Target.REGISTERED)

    def _expire_hard(self, said: int) -> list[Delivery]:
        rec = self._remove_sa(said)
        if rec is None:
            return []
        rec.dead = True
        return self._send_expire(rec, hard=True)

    def _check_sp_time(self, index: int, t: int) -> list[Delivery]:
        pol = self._pol_by_index.get(index)
        if pol is None:
            return []
        h, s, c = pol.hard, pol.soft, pol.current
        out: list[Delivery] = []
        if (h.addtime and c.addtime + h.addtime <= t) or (
            h.usetime and c.usetime and c.usetime + h.usetime <= t
        ):
            self._unlink_policy(pol)
            if self.spdexpire:
                out += self._send(
                    pol.message(MsgType.X_SPDEXPIRE, seq=0, pid=0, refcnt=REFCNT_DELETED), Target.REGISTERED
                )
            return out
        if not pol.soft_expired and (
            (s.addtime and c.addtime + s.addtime <= t)
            or (s.usetime and c.usetime and c.usetime + s.usetime <= t)
        ):
            pol.soft_expired = True
            if self.spdexpire:
                out += self._send(
                    pol.message(MsgType.X_SPDEXPIRE, seq=0, pid=0, refcnt=REFCNT_NOTIFY), Target.REGISTERED
                )
        self._schedule_sp(pol)
        return out

    # ------------------------------------------------------------------------------------------- SAD
    def _getspi(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        src, dst, _s, _d = _pair(msg)
        proto = SATYPE_PROTO.get(msg.satype)
        if proto is None:
            raise _Fail(E.EINVAL)
        mode, reqid = Mode.TRANSPORT, 0
        sa2 = msg.get(ExtType.X_SA2)
        if isinstance(sa2, SA2Ext):
            mode = self._mode(sa2.mode)
            reqid = sa2.reqid
        said = self._find_acq_by_seq(msg.seq)
        if said is not None and self.sas[said].dst != dst:
            said = None
        if said is None:
            said = self._find_acq(mode, reqid, proto, dst, src)
        if said is None:
            rec = self._new_larval(proto, src, dst, mode, reqid, t)
            self._insert_sa(rec)
            said = next(reversed(self.sas))
        rec = self.sas[said]
        lo, hi = SPI_MIN_DEFAULT, SPI_MAX_DEFAULT
        rng = msg.get(ExtType.SPIRANGE)
        if isinstance(rng, SPIRangeExt):
            lo, hi = rng.min, rng.max
        if lo > hi or (proto == IPPROTO_COMP and hi >= 0x10000):
            raise _Fail(E.EINVAL)
        if not rec.spi:
            spi = self._alloc_spi(proto, dst, lo, hi)
            if spi is None:
                raise _Fail(E.ENOENT)
            rec.spi = spi
            self._sa_by_key[rec.key] = said
        reply = rec.message(MsgType.GETSPI, seq=msg.seq, pid=msg.pid)
        return self._send(reply, Target.ONE, sid)

    def _alloc_spi(self, proto: int, dst: Addr, lo: int, hi: int) -> int | None:
        if lo == hi:
            return None if self._find_said(proto, dst.addr, lo) is not None else lo
        span = hi - lo + 1
        for _ in range(min(span, 4096)):
            spi = lo + self.rng.randrange(span)
            if spi and self._find_said(proto, dst.addr, spi) is None:
                return spi
        if span <= 4096:
            return None
        for spi in range(lo, hi + 1):
            if spi and self._find_said(proto, dst.addr, spi) is None:
                return spi
        return None

    @staticmethod
    def _mode(mode: int) -> int:
        """pfkey_mode_to_xfrm: any → transport; unknown → EINVAL."""
        if mode == Mode.ANY:
            return Mode.TRANSPORT
        if mode in (Mode.TRANSPORT, Mode.TUNNEL, Mode.BEET):
            return mode
        raise _Fail(E.EINVAL)

    def _msg_to_sa(self, msg: Message, t: int) -> SARecord:
        """pfkey_msg2xfrm_state plus xfrm_init_state's checks."""
        exts = msg.ext_map()
        sa = exts.get(ExtType.SA)
        if not isinstance(sa, SAExt):
            raise _Fail(E.EINVAL)
        src, dst, _s, _d = _pair(msg, exts)  # type: ignore[arg-type]
        akey, ekey = exts.get(ExtType.KEY_AUTH), exts.get(ExtType.KEY_ENCRYPT)
        if msg.satype == SAType.ESP and ekey is None:
            raise _Fail(E.EINVAL)
        if msg.satype == SAType.AH and akey is None:
            raise _Fail(E.EINVAL)
        hard, soft = exts.get(ExtType.LIFETIME_HARD), exts.get(ExtType.LIFETIME_SOFT)
        if (hard is None) != (soft is None):
            raise _Fail(E.EINVAL)
        proto = SATYPE_PROTO.get(msg.satype)
        if proto is None:
            raise _Fail(E.EINVAL)
        if sa.auth > AuthAlg.X_NULL or sa.encrypt > 253 or (msg.satype == SAType.IPCOMP and sa.encrypt > 4):
            raise _Fail(E.EINVAL)
        if isinstance(akey, KeyExt) and sa.auth != AuthAlg.X_NULL and akey.bits == 0:
            raise _Fail(E.EINVAL)
        if isinstance(ekey, KeyExt) and sa.encrypt != 11 and ekey.bits == 0:
            raise _Fail(E.EINVAL)
        if sa.auth and not algs.auth_supported(sa.auth, self.supported_auth):
            raise _Fail(E.ENOSYS)
        if sa.encrypt:
            if msg.satype == SAType.IPCOMP:
                if not algs.comp_supported(sa.encrypt):
                    raise _Fail(E.ENOSYS)
            elif not algs.enc_supported(sa.encrypt, self.supported_encrypt):
                raise _Fail(E.ENOSYS)
        mode, reqid = Mode.TRANSPORT, 0
        sa2 = exts.get(ExtType.X_SA2)
        if isinstance(sa2, SA2Ext):
            mode = self._mode(sa2.mode)
            reqid = sa2.reqid
        rec = SARecord(
            satype=msg.satype,
            proto=proto,
            spi=sa.spi,
            src=src,
            dst=dst,
            mode=mode,
            reqid=reqid,
            replay=min(sa.replay, IPSEC_REPLAYWSIZE),
            auth=sa.auth,
            encrypt=sa.encrypt,
            auth_key=akey if isinstance(akey, KeyExt) and sa.auth else None,
            enc_key=ekey if isinstance(ekey, KeyExt) and sa.encrypt and msg.satype != SAType.IPCOMP else None,
            flags=sa.flags & LINUX_SA_FLAGS,
            hard=Limits.of(hard if isinstance(hard, LifetimeExt) else None),
            soft=Limits.of(soft if isinstance(soft, LifetimeExt) else None),
            current=Usage(addtime=t),
            acq_seq=msg.seq,
        )
        proxy = exts.get(ExtType.ADDRESS_PROXY)
        paddr = _addr(proxy)
        if isinstance(proxy, AddressExt) and paddr is not None:
            rec.sel, rec.sel_prefix = paddr, proxy.prefixlen
        ntype = exts.get(ExtType.X_NAT_T_TYPE)
        if isinstance(ntype, NatTTypeExt):
            sp, dp = exts.get(ExtType.X_NAT_T_SPORT), exts.get(ExtType.X_NAT_T_DPORT)
            rec.natt = (
                ntype.type,
                sp.port if isinstance(sp, NatTPortExt) else 0,
                dp.port if isinstance(dp, NatTPortExt) else 0,
            )
        ctx = exts.get(ExtType.X_SEC_CTX)
        if isinstance(ctx, SecCtxExt):
            rec.sec_ctx = ctx
        self._init_state(rec)
        return rec

    @staticmethod
    def _init_state(rec: SARecord) -> None:
        """xfrm_init_state: the protocol needs its algorithm and the crypto layer must accept the keys."""
        if rec.proto == IPPROTO_AH:
            if not rec.auth or rec.auth == AuthAlg.X_NULL or rec.natt is not None:
                raise _Fail(E.EINVAL)
        elif rec.proto == IPPROTO_ESP:
            if not rec.encrypt:
                raise _Fail(E.EINVAL)
            if rec.enc_key is not None and not algs.enc_key_ok(rec.encrypt, len(rec.enc_key.key)):
                raise _Fail(E.EINVAL)
        elif rec.proto == IPPROTO_COMP and (not rec.encrypt or rec.auth or rec.natt is not None):
            raise _Fail(E.EINVAL)
        if rec.auth and rec.auth_key is not None and not algs.auth_key_ok(rec.auth, len(rec.auth_key.key)):
            raise _Fail(E.EINVAL)

    def _add(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        rec = self._msg_to_sa(msg, t)
        said = self._find_said(rec.proto, rec.dst.addr, rec.spi)
        out: list[Delivery] = []
        if msg.type == MsgType.ADD:
            if said is not None:
                raise _Fail(E.EEXIST)
            acq = self._find_acq_by_seq(msg.seq)
            if acq is not None and (self.sas[acq].proto != rec.proto or self.sas[acq].dst != rec.dst):
                acq = None
            if acq is None:
                acq = self._find_acq(rec.mode, rec.reqid, rec.proto, rec.dst, rec.src)
            self._insert_sa(rec)
            if acq is not None:
                self._remove_sa(acq)
        else:
            if said is None:
                raise _Fail(E.ESRCH)
            old = self.sas[said]
            if old.larval:
                self._insert_sa(rec)
                self._remove_sa(said)
            else:
                if (rec.natt is None) != (old.natt is None) or (
                    rec.natt is not None and old.natt is not None and rec.natt[0] != old.natt[0]
                ):
                    raise _Fail(E.EINVAL)
                old.natt = rec.natt
                old.hard, old.soft = rec.hard, rec.soft
                old.dying = False
                self._schedule_sa(said, old)
        out += self._send(rec.message(msg.type, seq=msg.seq, pid=msg.pid), Target.ALL)
        return out

    def _lookup(self, msg: Message) -> int:
        sa = msg.get(ExtType.SA)
        if not isinstance(sa, SAExt):
            raise _Fail(E.EINVAL)
        _src, dst, _s, _d = _pair(msg)
        proto = SATYPE_PROTO.get(msg.satype)
        if proto is None:
            raise _Fail(E.EINVAL)
        said = self._find_said(proto, dst.addr, sa.spi)
        if said is None:
            raise _Fail(E.ESRCH)
        return said

    def _delete(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        said = self._lookup(msg)
        rec = self._remove_sa(said)
        assert rec is not None
        rec.dead = True
        return self._send(rec.message(MsgType.DELETE, seq=msg.seq, pid=msg.pid), Target.ALL)

    def _get(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        rec = self.sas[self._lookup(msg)]
        return self._send(rec.message(MsgType.GET, seq=msg.seq, pid=msg.pid), Target.ONE, sid)

    def _acquire_reply(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """A key manager's negative answer to an ACQUIRE: the larval SA goes away; nothing is sent."""
        if msg.extensions or not msg.errno:
            return []
        said = self._find_acq_by_seq(msg.seq)
        if said is not None:
            self._remove_sa(said)
        return []

    def _register(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        if msg.satype > SADB_SATYPE_MAX:
            raise _Fail(E.EINVAL)
        st = self.sockets[sid]
        if msg.satype:
            bit = 1 << msg.satype
            if st.registered & bit:
                raise _Fail(E.EEXIST)
            st.registered |= bit
        exts = []
        if self.supported_auth:
            exts.append(SupportedExt(ExtType.SUPPORTED_AUTH, self.supported_auth))
        if self.supported_encrypt:
            exts.append(SupportedExt(ExtType.SUPPORTED_ENCRYPT, self.supported_encrypt))
        reply = msg._replace(errno=0, extensions=tuple(exts))
        return self._send(reply, Target.REGISTERED, sid)

    def _satype_proto(self, satype: int) -> int:
        if satype == 0:
            return IPSEC_PROTO_ANY
        proto = SATYPE_PROTO.get(satype)
        if proto is None:
            raise _Fail(E.EINVAL)
        return proto

    def _flush(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        proto = self._satype_proto(msg.satype)
        gone = [said for said, rec in self.sas.items() if proto == IPSEC_PROTO_ANY or rec.proto == proto]
        for said in gone:
            self._remove_sa(said)
        head = Message(MsgType.FLUSH, msg.satype, msg.seq, msg.pid)
        out = self._send(head, Target.ONE, sid)
        if gone:
            out += self._send(head, Target.ALL)
        return out

    def _dump(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        proto = self._satype_proto(msg.satype)
        filt = msg.get(ExtType.X_FILTER)
        recs = [
            rec
            for rec in reversed(self.sas.values())
            if (proto == IPSEC_PROTO_ANY or rec.proto == proto)
            and (not isinstance(filt, FilterExt) or self._filter_ok(filt, rec))
        ]
        if not recs:
            raise _Fail(E.ENOENT)
        out: list[Delivery] = []
        last = len(recs) - 1
        for i, rec in enumerate(recs):
            seq = 0 if i == last else i + 1
            out += self._send(rec.message(MsgType.DUMP, seq=seq, pid=msg.pid), Target.ONE, sid)
        return out

    @staticmethod
    def _filter_ok(f: FilterExt, rec: SARecord) -> bool:
        if f.family != rec.src.family:
            return False
        n = 4 if f.family == AF_INET else 16
        return _prefix_match(Addr(f.family, f.saddr[:n]), f.splen, rec.src) and _prefix_match(
            Addr(f.family, f.daddr[:n]), f.dplen, rec.dst
        )

    def _promisc(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        data = msg.encode(LINUX)
        if not msg.extensions:
            if msg.satype not in (0, 1):
                raise _Fail(E.EINVAL)
            self.sockets[sid].promisc = bool(msg.satype)
            data = msg._replace(errno=0).encode(LINUX)
        return self._broadcast(data, Target.ALL)

    def _migrate(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        raise _Fail(E.ENOPROTOOPT)

    # ------------------------------------------------------------------------------------------- SPD
    def _gen_index(self, dir_x: int) -> int:
        while True:
            idx = self._idx_generator | dir_x
            self._idx_generator += 8
            if idx == 0:
                idx = 8
            if idx not in self._pol_by_index:
                return idx

    def _gen_reqid(self) -> int:
        used = {tp.reqid for p in self.policies.values() for tp in p.templates}
        start = self._reqid
        while True:
            self._reqid = (self._reqid + 1) & 0xFFFFFFFF
            if self._reqid == 0:
                self._reqid = IPSEC_MANUAL_REQID_MAX + 1
            if self._reqid not in used:
                return self._reqid
            if self._reqid == start:
                raise _Fail(E.ENOBUFS)

    @staticmethod
    def _selector(msg: Message) -> Selector:
        src, dst, s_ext, d_ext = _pair(msg)
        proto = d_ext.proto if d_ext.proto != IPSEC_PROTO_ANY else 0
        return Selector(
            src, s_ext.prefixlen, s_ext.sockaddr.port, dst, d_ext.prefixlen, d_ext.sockaddr.port, proto
        )

    def _templates(self, pol: PolicyExt) -> tuple[Template, ...]:
        out: list[Template] = []
        for rq in pol.requests:
            if len(out) >= MAX_TEMPLATES:
                raise _Fail(E.ELOOP)
            if rq.mode == 0 or rq.proto not in VALID_TMPL_PROTOS:
                raise _Fail(E.EINVAL)
            mode = self._mode(rq.mode)
            optional, reqid = False, 0
            if rq.level == Level.USE:
                if mode in (Mode.TUNNEL, Mode.BEET) and pol.dir == Direction.OUTBOUND:
                    raise _Fail(E.EINVAL)
                optional = True
            elif rq.level == Level.UNIQUE:
                reqid = rq.reqid if rq.reqid <= IPSEC_MANUAL_REQID_MAX else 0
                if not reqid:
                    reqid = self._gen_reqid()
            src = dst = None
            if mode == Mode.TUNNEL:
                if rq.src is None or rq.dst is None:
                    raise _Fail(E.EINVAL)
                src, dst = Addr(rq.src.family, rq.src.addr), Addr(rq.dst.family, rq.dst.addr)
            out.append(Template(rq.proto, mode, reqid, optional, src, dst))
        return tuple(out)

    def _policy_ext(self, msg: Message) -> PolicyExt:
        pol = msg.get(ExtType.X_POLICY)
        if not isinstance(pol, PolicyExt):
            raise _Fail(E.EINVAL)
        if not 0 < pol.dir < Direction.MAX:
            raise _Fail(E.EINVAL)
        return pol

    def _spdadd(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        sel = self._selector(msg)
        pol = self._policy_ext(msg)
        if pol.policy_type > PolicyType.IPSEC:
            raise _Fail(E.EINVAL)
        templates = self._templates(pol) if pol.policy_type == PolicyType.IPSEC else ()
        if pol.policy_type == PolicyType.DISCARD:
            ptype = PolicyType.DISCARD
        else:
            ptype = PolicyType.IPSEC if templates else PolicyType.NONE
        hard, soft = msg.get(ExtType.LIFETIME_HARD), msg.get(ExtType.LIFETIME_SOFT)
        ctx = msg.get(ExtType.X_SEC_CTX)
        key = (pol.dir, sel)
        old = self.policies.get(key)
        if old is not None and msg.type != MsgType.X_SPDUPDATE:
            raise _Fail(E.EEXIST)
        index = old.index if old is not None else self._gen_index(pol.dir - 1)
        rec = PolicyRecord(
            selector=sel,
            dir=pol.dir,
            index=index,
            priority=pol.priority,
            policy_type=ptype,
            templates=templates,
            hard=Limits.of(hard if isinstance(hard, LifetimeExt) else None),
            soft=Limits.of(soft if isinstance(soft, LifetimeExt) else None),
            current=Usage(addtime=t),
            sec_ctx=ctx if isinstance(ctx, SecCtxExt) else None,
        )
        if old is not None:
            self._unlink_policy(old)
        self.policies[key] = rec
        self._pol_by_index[index] = rec
        self._schedule_sp(rec)
        mtype = MsgType.X_SPDUPDATE if msg.type == MsgType.X_SPDUPDATE else MsgType.X_SPDADD
        return self._send(rec.message(mtype, seq=msg.seq, pid=msg.pid, refcnt=REFCNT_NOTIFY), Target.ALL)

    def _unlink_policy(self, pol: PolicyRecord) -> None:
        self.policies.pop(pol.key, None)
        self._pol_by_index.pop(pol.index, None)

    def _spddelete(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        sel = self._selector(msg)
        pol = self._policy_ext(msg)
        rec = self.policies.get((pol.dir, sel))
        if rec is None:
            raise _Fail(E.ENOENT)
        self._unlink_policy(rec)
        reply = rec.message(MsgType.X_SPDDELETE, seq=msg.seq, pid=msg.pid, refcnt=REFCNT_DELETED)
        return self._send(reply, Target.ALL)

    def _spdget(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        pol = msg.get(ExtType.X_POLICY)
        if not isinstance(pol, PolicyExt):
            raise _Fail(E.EINVAL)
        if pol.id & 7 >= 3:
            raise _Fail(E.EINVAL)
        rec = self._pol_by_index.get(pol.id)
        if rec is None or rec.dir - 1 != pol.id & 7:
            raise _Fail(E.ENOENT)
        if msg.type == MsgType.X_SPDDELETE2:
            self._unlink_policy(rec)
            reply = rec.message(MsgType.X_SPDDELETE2, seq=msg.seq, pid=msg.pid, refcnt=REFCNT_DELETED)
            return self._send(reply, Target.ALL)
        reply = rec.message(MsgType.X_SPDGET, seq=msg.seq, pid=msg.pid, refcnt=REFCNT_NOTIFY)
        return self._send(reply, Target.ONE, sid)

    def _spddump(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        recs = list(reversed(self.policies.values()))
        if not recs:
            raise _Fail(E.ENOENT)
        out: list[Delivery] = []
        last = len(recs) - 1
        for i, rec in enumerate(recs):
            seq = 0 if i == last else i + 1
            reply = rec.message(MsgType.X_SPDDUMP, seq=seq, pid=msg.pid, refcnt=REFCNT_DUMP)
            out += self._send(reply, Target.ONE, sid)
        return out

    def _spdflush(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        had = bool(self.policies)
        self.policies.clear()
        self._pol_by_index.clear()
        head = Message(MsgType.X_SPDFLUSH, msg.satype, msg.seq, msg.pid)
        out = self._send(head, Target.ONE, sid)
        if had:
            out += self._send(head._replace(satype=0), Target.ALL)
        return out

    # ---------------------------------------------------------------------------------------- traffic
    def _match_policy(
        self, direction: int, src: Addr, dst: Addr, proto: int, sport: int, dport: int
    ) -> PolicyRecord | None:
        best: PolicyRecord | None = None
        for pol in self.policies.values():
            s = pol.selector
            if pol.dir != direction or s.src.family != src.family:
                continue
            if not (_prefix_match(s.src, s.src_prefix, src) and _prefix_match(s.dst, s.dst_prefix, dst)):
                continue
            if s.proto and s.proto != proto:
                continue
            if (s.sport and s.sport != sport) or (s.dport and s.dport != dport):
                continue
            if best is None or pol.priority < best.priority:
                best = pol
        return best

    def _iter_valid(self, tmpl: Template, src: Addr, dst: Addr) -> Iterator[tuple[int, SARecord]]:
        for said, rec in reversed(self.sas.items()):
            if rec.larval or rec.proto != tmpl.proto or rec.mode != tmpl.mode:
                continue
            if rec.dst != dst or rec.src != src:
                continue
            if tmpl.reqid and rec.reqid != tmpl.reqid:
                continue
            yield said, rec

    def _acquire(
        self, pol: PolicyRecord, tmpl: Template, src: Addr, dst: Addr, t: int, flow: tuple[Addr, int]
    ) -> tuple[bool, list[Delivery]]:
        """Create the larval SA and raise SADB_ACQUIRE, unless one is already pending.

        ``flow`` is the packet's source and protocol: the larval SA's selector (xfrm_init_tempstate).
        """
        if self._find_acq(tmpl.mode, tmpl.reqid, tmpl.proto, dst, src) is not None:
            return False, []
        rec = self._new_larval(tmpl.proto, src, dst, tmpl.mode, tmpl.reqid, t)
        rec.sel, rec.sel_proto = flow
        self._acqseq = (self._acqseq + 1) & 0xFFFFFFFF or 1
        rec.acq_seq = self._acqseq
        self._insert_sa(rec)
        exts: list[Extension] = [
            AddressExt(ExtType.ADDRESS_SRC, src.sockaddr(), 0, src.full_prefix),
            AddressExt(ExtType.ADDRESS_DST, dst.sockaddr(), 0, dst.full_prefix),
            PolicyExt(PolicyType.IPSEC, Direction.OUTBOUND, pol.index, pol.priority),
        ]
        if tmpl.proto in (IPPROTO_AH, IPPROTO_ESP):  # IPComp gets no proposal
            exts.append(ProposalExt(IPSEC_REPLAYWSIZE, self._combs(tmpl.proto)))
        msg = Message(MsgType.ACQUIRE, rec.satype, rec.acq_seq, 0, 0, tuple(exts))
        return True, self._send(msg, Target.REGISTERED)

    def _combs(self, proto: int) -> tuple[Comb, ...]:
        if proto == IPPROTO_AH:
            return tuple(
                Comb(auth=a.id, auth_minbits=a.minbits, auth_maxbits=a.maxbits, **COMB_TIMES)
                for a in self.supported_auth
            )
        if proto == IPPROTO_ESP:
            return tuple(
                Comb(
                    auth=a.id,
                    encrypt=e.id,
                    auth_minbits=a.minbits,
                    auth_maxbits=a.maxbits,
                    encrypt_minbits=e.minbits,
                    encrypt_maxbits=e.maxbits,
                    **COMB_TIMES,
                )
                for e in self.supported_encrypt
                for a in self.supported_auth[1:]
            )
        return ()

    def _use_sa(self, said: int, rec: SARecord, size: int, t: int) -> tuple[bool, list[Delivery]]:
        """xfrm_state_check_expire then account the packet; False when the hard limit was reached."""
        first_use = not rec.current.usetime
        if first_use:
            rec.current.usetime = t
        h, s, c = rec.hard, rec.soft, rec.current
        if (h.bytes and c.bytes >= h.bytes) or (h.allocations and c.allocations >= h.allocations):
            return False, self._expire_hard(said)
        out: list[Delivery] = []
        if not rec.dying and (
            (s.bytes and c.bytes >= s.bytes) or (s.allocations and c.allocations >= s.allocations)
        ):
            rec.dying = True
            out += self._send_expire(rec, hard=False)
        c.bytes += size
        c.allocations += 1
        if first_use:
            self._schedule_sa(said, rec)
        return True, out

    def simulate_traffic(
        self,
        src: str,
        dst: str,
        proto: int = 0,
        *,
        sport: int = 0,
        dport: int = 0,
        size: int = 64,
        now: float | None = None,
    ) -> TrafficResult:
        """Send one outbound packet through the SPD as the kernel would: find its policy, use or acquire SAs.

        ``src``/``dst`` are IP addresses; ``proto`` the upper-layer protocol (0: any). Missing SAs for an
        ``ipsec`` policy raise SADB_ACQUIRE to the registered sockets (once per larval SA); byte and packet
        lifetimes of the SAs used are counted and may fire soft/hard EXPIREs.
        """
        import ipaddress

        for name, value, low, high in (("protocol", proto, 0, 255), ("source port", sport, 0, 65535),
                                       ("destination port", dport, 0, 65535), ("packet size", size, 1, 65535)):
            if not low <= value <= high:  # a served kernel gets these from any client: counters must stay sane
                raise ValueError(f"simulate_traffic: {name} {value} is out of range ({low}-{high})")
        t = self._now(now)
        out = self.tick(t)
        try:
            s_ip, d_ip = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        except ValueError as exc:
            raise ValueError(f"simulate_traffic: {exc}") from None
        fam = AF_INET if s_ip.version == 4 else AF_INET6
        if s_ip.version != d_ip.version:
            raise ValueError("simulate_traffic: source and destination must be of one IP version")
        s_addr, d_addr = Addr(fam, s_ip.packed), Addr(fam, d_ip.packed)
        pol = self._match_policy(Direction.OUTBOUND, s_addr, d_addr, proto, sport, dport)
        if pol is None:
            return TrafficResult("no-policy", deliveries=out)
        if not pol.current.usetime:
            pol.current.usetime = t
            self._schedule_sp(pol)
        if pol.policy_type == PolicyType.DISCARD:
            return TrafficResult("discard", pol.index, deliveries=out)
        if not pol.templates:
            return TrafficResult("bypass", pol.index, deliveries=out)
        spis: list[int] = []
        acquires = 0
        blocked = False
        expired = False
        cur_src, cur_dst = s_addr, d_addr
        for tmpl in pol.templates:
            if tmpl.mode == Mode.TUNNEL and tmpl.src is not None and tmpl.dst is not None:
                cur_src, cur_dst = tmpl.src, tmpl.dst
            found = sorted(self._iter_valid(tmpl, cur_src, cur_dst), key=lambda p: p[1].dying)
            if not found:
                created, sent = self._acquire(pol, tmpl, cur_src, cur_dst, t, (s_addr, proto))
                acquires += created
                out += sent
                if not tmpl.optional:
                    blocked = True
                continue
            said, rec = found[0]
            ok, dl = self._use_sa(said, rec, size, t)
            out += dl
            if ok:
                spis.append(rec.spi)
            else:
                expired = True
                blocked = True
        if expired:
            verdict = "expired"
        elif blocked:
            verdict = "acquire"
        else:
            verdict = "protected"
        return TrafficResult(verdict, pol.index, tuple(spis), acquires, out)
