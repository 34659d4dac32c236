"""The Security Association Database: the SAs, their look-ups, lifetimes, and the SA messages
(GETSPI, ADD, UPDATE, DELETE, GET, FLUSH, DUMP) as Linux 6.1's af_key answers them."""

from __future__ import annotations

import errno as E
import itertools
import random
from collections.abc import Iterator

from setkey_tui.kernel.sim import algs
from setkey_tui.kernel.sim.dump import Dump, Dumps
from setkey_tui.kernel.sim.errors import Fail
from setkey_tui.kernel.sim.fields import (
    addr_of,
    address_pair,
    prefix_match,
    satype_proto,
    xfrm_mode,
)
from setkey_tui.kernel.sim.records import Addr, Limits, SARecord, Template, Usage
from setkey_tui.kernel.sim.sockets import Delivery, Sockets, Target
from setkey_tui.kernel.sim.timers import Timers
from setkey_tui.model import SAKey, sa_key
from setkey_tui.pfkey.constants import (
    IPPROTO_AH,
    IPPROTO_COMP,
    IPPROTO_ESP,
    IPSEC_PROTO_ANY,
    IPSEC_REPLAYWSIZE,
    PROTO_TO_SATYPE,
    SATYPE_TO_PROTO,
    AuthAlg,
    ExtType,
    Mode,
    MsgType,
    SAType,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Alg,
    FilterExt,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    SA2Ext,
    SAExt,
    SecCtxExt,
    SPIRangeExt,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import AF_INET, LINUX

SPI_MIN_DEFAULT = 0x100
SPI_MAX_DEFAULT = 0x0FFFFFFF
LINUX_SA_FLAGS = 0xE0000000  # NOECN, DECAP_DSCP, NOPMTUDISC: the only sadb_sa_flags Linux keeps
FILTER_PREFIX_MAX = 128  # pfkey_dump: a filter prefix of sizeof(xfrm_address_t) bits or more is EINVAL


class SAD:
    """The SAs by id (insertion order: dumps and look-ups walk it newest first) with their indexes."""

    def __init__(
        self,
        sockets: Sockets,
        timers: Timers,
        dumps: Dumps,
        *,
        rng: random.Random,
        supported_auth: tuple[Alg, ...],
        supported_encrypt: tuple[Alg, ...],
        acq_expires: int,
    ) -> None:
        self.sockets = sockets
        self.timers = timers
        self.dumps = dumps
        self.rng = rng
        self.supported_auth = supported_auth
        self.supported_encrypt = supported_encrypt
        self.acq_expires = acq_expires
        self.sas: dict[int, SARecord] = {}
        self._ids = itertools.count(1)
        self._by_key: dict[SAKey, int] = {}  # by the model's key (satype, destination, SPI)
        self._larval: dict[int, SARecord] = {}  # the larval SAs (few), for ACQUIRE/GETSPI look-ups

    # ----------------------------------------------------------------------------------------- store
    def insert(self, rec: SARecord) -> int:
        """Add an SA; returns its id."""
        said = next(self._ids)
        self.sas[said] = rec
        if rec.spi:
            self._by_key[rec.key] = said
        if rec.larval:
            self._larval[said] = rec
        self.schedule(said, rec)
        return said

    def find_id(self, proto: int, dst: bytes, spi: int) -> int | None:
        """The id of the SA with this (proto, destination, SPI), if any."""
        return self._by_key.get(sa_key(PROTO_TO_SATYPE.get(proto, -1), dst, spi))

    def remove(self, said: int) -> SARecord | None:
        """Take an SA out of the SAD (None when it is not there)."""
        rec = self.sas.pop(said, None)
        self._larval.pop(said, None)
        if rec is not None and rec.spi and self._by_key.get(rec.key) == said:
            del self._by_key[rec.key]
        return rec

    def find(self, proto: int, dst: Addr, spi: int) -> SARecord | None:
        """The SA with this (proto, destination, SPI), if any."""
        said = self.find_id(proto, dst.addr, spi)
        return None if said is None else self.sas[said]

    def find_acq(self, mode: int, reqid: int, proto: int, dst: Addr, src: Addr) -> int | None:
        """The larval SA (no SPI yet) for this template and address pair (xfrm_find_acq)."""
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

    def find_acq_by_seq(self, seq: int) -> int | None:
        """The larval SA an ACQUIRE with this seq created (xfrm_find_acq_byseq)."""
        if not seq:
            return None
        for said, rec in self._larval.items():
            if rec.acq_seq == seq:
                return said
        return None

    def new_larval(self, proto: int, src: Addr, dst: Addr, mode: int, reqid: int, now: int) -> SARecord:
        """A larval (acquire) SA; it dies after ``acq_expires`` seconds unless updated."""
        return SARecord(
            satype=PROTO_TO_SATYPE[proto],
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

    def usable(self, tmpl: Template, src: Addr, dst: Addr) -> Iterator[tuple[int, SARecord]]:
        """The valid SAs a policy template may use between ``src`` and ``dst``, newest first."""
        for said, rec in reversed(self.sas.items()):
            if rec.larval or rec.proto != tmpl.proto or rec.mode != tmpl.mode:
                continue
            if rec.dst != dst or rec.src != src:
                continue
            if tmpl.reqid and rec.reqid != tmpl.reqid:
                continue
            yield said, rec

    # ------------------------------------------------------------------------------------- lifetimes
    def schedule(self, said: int, rec: SARecord) -> None:
        """Put the SA's next lifetime check on the timers."""
        cands = []
        if rec.hard.addtime:
            cands.append(rec.current.addtime + rec.hard.addtime)
        if rec.hard.usetime and rec.current.usetime:
            cands.append(rec.current.usetime + rec.hard.usetime)
        if not rec.dying and not rec.larval:  # as check_time: a timer it would not fire loops tick()
            if rec.soft.addtime:
                cands.append(rec.current.addtime + rec.soft.addtime)
            if rec.soft.usetime and rec.current.usetime:
                cands.append(rec.current.usetime + rec.soft.usetime)
        if cands:
            self.timers.push(min(cands), "sa", said)

    def check_time(self, said: int, t: int) -> list[Delivery]:
        """A timer fired: hard expiry removes the SA, soft expiry makes it dying (EXPIRE each)."""
        rec = self.sas.get(said)
        if rec is None:
            return []
        h, s, c = rec.hard, rec.soft, rec.current
        if (h.addtime and c.addtime + h.addtime <= t) or (
            h.usetime and c.usetime and c.usetime + h.usetime <= t
        ):
            return self.expire_hard(said)
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
            out += self.send_expire(rec, hard=False)
        self.schedule(said, rec)
        return out

    def send_expire(self, rec: SARecord, *, hard: bool) -> list[Delivery]:
        """SADB_EXPIRE (soft or hard) to the registered sockets."""
        msg = rec.message(MsgType.EXPIRE, seq=0, pid=0, keys=False, hsc=2 if hard else 1)
        return self.sockets.send(msg, Target.REGISTERED)

    def expire_hard(self, said: int) -> list[Delivery]:
        """The SA reached a hard limit: it is removed and a hard EXPIRE goes out."""
        rec = self.remove(said)
        if rec is None:
            return []
        rec.dead = True
        return self.send_expire(rec, hard=True)

    def use(self, said: int, rec: SARecord, size: int, t: int) -> tuple[bool, list[Delivery]]:
        """xfrm_state_check_expire then account one packet; False when the hard limit was reached."""
        first_use = not rec.current.usetime
        if first_use:
            rec.current.usetime = t
        h, s, c = rec.hard, rec.soft, rec.current
        if (h.bytes and c.bytes >= h.bytes) or (h.allocations and c.allocations >= h.allocations):
            return False, self.expire_hard(said)
        out: list[Delivery] = []
        if not rec.dying and (
            (s.bytes and c.bytes >= s.bytes) or (s.allocations and c.allocations >= s.allocations)
        ):
            rec.dying = True
            out += self.send_expire(rec, hard=False)
        c.bytes += size
        c.allocations += 1
        if first_use:
            self.schedule(said, rec)
        return True, out

    # -------------------------------------------------------------------------------------- messages
    def getspi(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """SADB_GETSPI: find or create the larval SA and give it a free SPI in the range."""
        src, dst, _s, _d = address_pair(msg)
        proto = SATYPE_TO_PROTO.get(msg.satype)
        if proto is None:
            raise Fail(E.EINVAL)
        mode: int = Mode.TRANSPORT
        reqid = 0
        sa2 = msg.get(ExtType.X_SA2)
        if isinstance(sa2, SA2Ext):
            mode = xfrm_mode(sa2.mode)
            reqid = sa2.reqid
        said = self.find_acq_by_seq(msg.seq)
        if said is not None and self.sas[said].dst != dst:
            said = None
        if said is None:
            said = self.find_acq(mode, reqid, proto, dst, src)
        if said is None:
            said = self.insert(self.new_larval(proto, src, dst, mode, reqid, t))
        rec = self.sas[said]
        lo, hi = SPI_MIN_DEFAULT, SPI_MAX_DEFAULT
        rng = msg.get(ExtType.SPIRANGE)
        if isinstance(rng, SPIRangeExt):
            lo, hi = rng.min, rng.max
        if lo > hi or (proto == IPPROTO_COMP and hi >= 0x10000):
            raise Fail(E.EINVAL)
        if not rec.spi:
            spi = self._alloc_spi(proto, dst, lo, hi)
            if spi is None:
                raise Fail(E.ENOENT)
            rec.spi = spi
            self._by_key[rec.key] = said
        reply = rec.message(MsgType.GETSPI, seq=msg.seq, pid=msg.pid)
        return self.sockets.send(reply, Target.ONE, sid)

    def _alloc_spi(self, proto: int, dst: Addr, lo: int, hi: int) -> int | None:
        if lo == hi:
            return None if self.find_id(proto, dst.addr, lo) is not None else lo
        span = hi - lo + 1
        for _ in range(min(span, 4096)):
            spi = lo + self.rng.randrange(span)
            if spi and self.find_id(proto, dst.addr, spi) is None:
                return spi
        if span <= 4096:
            return None
        for spi in range(lo, hi + 1):
            if spi and self.find_id(proto, dst.addr, spi) is None:
                return spi
        return None

    def _msg_to_sa(self, msg: Message, t: int) -> SARecord:
        """pfkey_msg2xfrm_state plus xfrm_init_state's checks."""
        exts = msg.ext_map()
        sa = exts.get(ExtType.SA)
        if not isinstance(sa, SAExt):
            raise Fail(E.EINVAL)
        src, dst, _s, _d = address_pair(msg, exts)  # type: ignore[arg-type]
        akey, ekey = exts.get(ExtType.KEY_AUTH), exts.get(ExtType.KEY_ENCRYPT)
        if msg.satype == SAType.ESP and ekey is None:
            raise Fail(E.EINVAL)
        if msg.satype == SAType.AH and akey is None:
            raise Fail(E.EINVAL)
        hard, soft = exts.get(ExtType.LIFETIME_HARD), exts.get(ExtType.LIFETIME_SOFT)
        if (hard is None) != (soft is None):
            raise Fail(E.EINVAL)
        proto = SATYPE_TO_PROTO.get(msg.satype)
        if proto is None:
            raise Fail(E.EINVAL)
        if sa.auth > AuthAlg.X_NULL or sa.encrypt > 253 or (msg.satype == SAType.IPCOMP and sa.encrypt > 4):
            raise Fail(E.EINVAL)
        if isinstance(akey, KeyExt) and sa.auth != AuthAlg.X_NULL and akey.bits == 0:
            raise Fail(E.EINVAL)
        if isinstance(ekey, KeyExt) and sa.encrypt != 11 and ekey.bits == 0:
            raise Fail(E.EINVAL)
        if sa.auth and not algs.auth_supported(sa.auth, self.supported_auth):
            raise Fail(E.ENOSYS)
        if sa.encrypt:
            if msg.satype == SAType.IPCOMP:
                if not algs.comp_supported(sa.encrypt):
                    raise Fail(E.ENOSYS)
            elif not algs.enc_supported(sa.encrypt, self.supported_encrypt):
                raise Fail(E.ENOSYS)
        mode: int = Mode.TRANSPORT
        reqid = 0
        sa2 = exts.get(ExtType.X_SA2)
        if isinstance(sa2, SA2Ext):
            mode = xfrm_mode(sa2.mode)
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
        paddr = addr_of(proxy)
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
        _init_state(rec)
        return rec

    def add(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """SADB_ADD and SADB_UPDATE (an UPDATE of a larval SA replaces it by a new state)."""
        rec = self._msg_to_sa(msg, t)
        said = self.find_id(rec.proto, rec.dst.addr, rec.spi)
        if msg.type == MsgType.ADD:
            if said is not None:
                raise Fail(E.EEXIST)
            acq = self.find_acq_by_seq(msg.seq)
            if acq is not None and (self.sas[acq].proto != rec.proto or self.sas[acq].dst != rec.dst):
                acq = None
            if acq is None:
                acq = self.find_acq(rec.mode, rec.reqid, rec.proto, rec.dst, rec.src)
            self.insert(rec)
            if acq is not None:
                self.remove(acq)
        else:
            if said is None:
                raise Fail(E.ESRCH)
            old = self.sas[said]
            if old.larval:
                self.insert(rec)
                self.remove(said)
            else:
                if (rec.natt is None) != (old.natt is None) or (
                    rec.natt is not None and old.natt is not None and rec.natt[0] != old.natt[0]
                ):
                    raise Fail(E.EINVAL)
                old.natt = rec.natt
                old.hard, old.soft = rec.hard, rec.soft
                old.dying = False
                self.schedule(said, old)
        return self.sockets.send(rec.message(msg.type, seq=msg.seq, pid=msg.pid), Target.ALL)

    def _lookup(self, msg: Message) -> int:
        sa = msg.get(ExtType.SA)
        if not isinstance(sa, SAExt):
            raise Fail(E.EINVAL)
        _src, dst, _s, _d = address_pair(msg)
        proto = SATYPE_TO_PROTO.get(msg.satype)
        if proto is None:
            raise Fail(E.EINVAL)
        said = self.find_id(proto, dst.addr, sa.spi)
        if said is None:
            raise Fail(E.ESRCH)
        return said

    def delete(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """SADB_DELETE: to every socket."""
        rec = self.remove(self._lookup(msg))
        assert rec is not None
        rec.dead = True
        return self.sockets.send(rec.message(MsgType.DELETE, seq=msg.seq, pid=msg.pid), Target.ALL)

    def get(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """SADB_GET: to the sender, with keys."""
        rec = self.sas[self._lookup(msg)]
        return self.sockets.send(rec.message(MsgType.GET, seq=msg.seq, pid=msg.pid), Target.ONE, sid)

    def flush(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """SADB_FLUSH: a copy to the sender, and to every socket when something went."""
        proto = satype_proto(msg.satype)
        gone = [said for said, rec in self.sas.items() if proto == IPSEC_PROTO_ANY or rec.proto == proto]
        for said in gone:
            self.remove(said)
        head = Message(MsgType.FLUSH, msg.satype, msg.seq, msg.pid)
        out = self.sockets.send(head, Target.ONE, sid)
        if gone:
            out += self.sockets.send(head, Target.ALL)
        return out

    def dump(self, sid: int, msg: Message, rmem: int, rcvbuf: int | None) -> list[Delivery]:
        """SADB_DUMP (see :mod:`dump`): EBUSY, then the satype (EINVAL), then the filter's prefixes."""
        self.dumps.check_free(sid)
        proto = satype_proto(msg.satype)
        filt = msg.get(ExtType.X_FILTER)
        if isinstance(filt, FilterExt) and max(filt.splen, filt.dplen) >= FILTER_PREFIX_MAX:
            raise Fail(E.EINVAL)
        sas, pid = self.sas, msg.pid

        def live(said: int) -> SARecord | None:
            rec = sas.get(said)
            if rec is None or (proto != IPSEC_PROTO_ANY and rec.proto != proto):
                return None
            if isinstance(filt, FilterExt) and not _filter_ok(filt, rec):
                return None
            return rec

        def build(rec: SARecord, seq: int) -> bytes:
            return rec.message(MsgType.DUMP, seq=seq, pid=pid).encode(LINUX)

        return self.dumps.start(sid, Dump(list(reversed(sas)), live, build), rmem, rcvbuf)


def _init_state(rec: SARecord) -> None:
    """xfrm_init_state: the protocol needs its algorithm and the crypto layer must accept the keys."""
    if rec.proto == IPPROTO_AH:
        if not rec.auth or rec.auth == AuthAlg.X_NULL or rec.natt is not None:
            raise Fail(E.EINVAL)
    elif rec.proto == IPPROTO_ESP:
        if not rec.encrypt:
            raise Fail(E.EINVAL)
        if rec.enc_key is not None and not algs.enc_key_ok(rec.encrypt, len(rec.enc_key.key)):
            raise Fail(E.EINVAL)
    elif rec.proto == IPPROTO_COMP and (not rec.encrypt or rec.auth or rec.natt is not None):
        raise Fail(E.EINVAL)
    if rec.auth and rec.auth_key is not None and not algs.auth_key_ok(rec.auth, len(rec.auth_key.key)):
        raise Fail(E.EINVAL)


def _filter_ok(f: FilterExt, rec: SARecord) -> bool:
    """SADB_X_EXT_FILTER: the SA's source and destination lie in the filter's prefixes."""
    if f.family != rec.src.family:
        return False
    n = 4 if f.family == AF_INET else 16
    return prefix_match(Addr(f.family, f.saddr[:n]), f.splen, rec.src) and prefix_match(
        Addr(f.family, f.daddr[:n]), f.dplen, rec.dst
    )

