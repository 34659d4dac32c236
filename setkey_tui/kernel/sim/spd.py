"""The Security Policy Database: policies, their indexes and lifetimes, the SPD messages (X_SPDADD,
X_SPDUPDATE, X_SPDSETIDX, X_SPDDELETE, X_SPDDELETE2, X_SPDGET, X_SPDDUMP, X_SPDFLUSH) as Linux 6.1's af_key
answers them, and the look-up a packet makes."""

from __future__ import annotations

import errno as E

from setkey_tui.kernel.sim.dump import Dump, Dumps
from setkey_tui.kernel.sim.errors import Fail
from setkey_tui.kernel.sim.fields import address_pair, prefix_match, xfrm_mode
from setkey_tui.kernel.sim.records import Addr, Limits, PolicyRecord, Selector, Template, Usage
from setkey_tui.kernel.sim.sockets import Delivery, Sockets, Target
from setkey_tui.kernel.sim.timers import Timers
from setkey_tui.model import PolicyKey
from setkey_tui.pfkey.constants import (
    IPPROTO_AH,
    IPPROTO_COMP,
    IPPROTO_ESP,
    IPSEC_MANUAL_REQID_MAX,
    IPSEC_PROTO_ANY,
    Direction,
    ExtType,
    Level,
    Mode,
    MsgType,
    PolicyType,
)
from setkey_tui.pfkey.extensions import LifetimeExt, PolicyExt, SecCtxExt
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX

VALID_TMPL_PROTOS = frozenset({IPPROTO_AH, IPPROTO_ESP, IPPROTO_COMP, 43, 60, 255})
MAX_TEMPLATES = 6  # XFRM_MAX_DEPTH
# Policy refcounts Linux reports in sadb_msg_reserved.
REFCNT_NOTIFY = 3
REFCNT_DUMP = 2
REFCNT_DELETED = 1


def selector_of(msg: Message) -> Selector:
    """A policy request's selector: the address pair with their prefixes, ports and protocol."""
    src, dst, s_ext, d_ext = address_pair(msg)
    proto = d_ext.proto if d_ext.proto != IPSEC_PROTO_ANY else 0
    sport, dport = s_ext.sockaddr.port, d_ext.sockaddr.port
    return Selector(src, s_ext.prefixlen, sport, dst, d_ext.prefixlen, dport, proto)


def policy_ext(msg: Message) -> PolicyExt:
    """The request's X_POLICY with a direction 1..3, else EINVAL."""
    pol = msg.get(ExtType.X_POLICY)
    if not isinstance(pol, PolicyExt):
        raise Fail(E.EINVAL)
    if not 0 < pol.dir < Direction.MAX:
        raise Fail(E.EINVAL)
    return pol


class SPD:
    """The policies by (direction, selector) (insertion order: dumps walk it newest first) and by index."""

    def __init__(self, sockets: Sockets, timers: Timers, dumps: Dumps, *, spdexpire: bool) -> None:
        self.sockets = sockets
        self.timers = timers
        self.dumps = dumps
        self.spdexpire = spdexpire
        self.policies: dict[PolicyKey, PolicyRecord] = {}
        self.by_index: dict[int, PolicyRecord] = {}
        self._idx_generator = 0
        self._reqid = IPSEC_MANUAL_REQID_MAX

    # ----------------------------------------------------------------------------------------- store
    def _gen_index(self, dir_x: int) -> int:
        """xfrm_gen_index: generator | direction, the generator counting in eights."""
        while True:
            idx = self._idx_generator | dir_x
            self._idx_generator += 8
            if idx == 0:
                idx = 8
            if idx not in self.by_index:
                return idx

    def _gen_reqid(self) -> int:
        """gen_reqid: the next reqid above the manual range no policy uses (ENOBUFS when none is left)."""
        used = {tp.reqid for p in self.policies.values() for tp in p.templates}
        start = self._reqid
        while True:
            self._reqid = (self._reqid + 1) & 0xFFFFFFFF
            if self._reqid == 0:
                self._reqid = IPSEC_MANUAL_REQID_MAX + 1
            if self._reqid not in used:
                return self._reqid
            if self._reqid == start:
                raise Fail(E.ENOBUFS)

    def _templates(self, pol: PolicyExt) -> tuple[Template, ...]:
        """parse_ipsecrequests: the policy's transforms (ELOOP past XFRM_MAX_DEPTH)."""
        out: list[Template] = []
        for rq in pol.requests:
            if len(out) >= MAX_TEMPLATES:
                raise Fail(E.ELOOP)
            if rq.mode == 0 or rq.proto not in VALID_TMPL_PROTOS:
                raise Fail(E.EINVAL)
            mode = xfrm_mode(rq.mode)
            optional, reqid = False, 0
            if rq.level == Level.USE:
                if mode in (Mode.TUNNEL, Mode.BEET) and pol.dir == Direction.OUTBOUND:
                    raise Fail(E.EINVAL)
                optional = True
            elif rq.level == Level.UNIQUE:
                reqid = rq.reqid if rq.reqid <= IPSEC_MANUAL_REQID_MAX else 0
                if not reqid:
                    reqid = self._gen_reqid()
            src = dst = None
            if mode == Mode.TUNNEL:
                if rq.src is None or rq.dst is None:
                    raise Fail(E.EINVAL)
                src, dst = Addr(rq.src.family, rq.src.addr), Addr(rq.dst.family, rq.dst.addr)
            out.append(Template(rq.proto, mode, reqid, optional, src, dst))
        return tuple(out)

    def unlink(self, pol: PolicyRecord) -> None:
        """Take a policy out of the SPD."""
        self.policies.pop(pol.key, None)
        self.by_index.pop(pol.index, None)

    def match(
        self, direction: int, src: Addr, dst: Addr, proto: int, sport: int, dport: int
    ) -> PolicyRecord | None:
        """The policy a packet of this flow meets (the lowest priority value wins)."""
        best: PolicyRecord | None = None
        for pol in self.policies.values():
            s = pol.selector
            if pol.dir != direction or s.src.family != src.family:
                continue
            if not (prefix_match(s.src, s.src_prefix, src) and prefix_match(s.dst, s.dst_prefix, dst)):
                continue
            if s.proto and s.proto != proto:
                continue
            if (s.sport and s.sport != sport) or (s.dport and s.dport != dport):
                continue
            if best is None or pol.priority < best.priority:
                best = pol
        return best

    # ------------------------------------------------------------------------------------- lifetimes
    def schedule(self, pol: PolicyRecord) -> None:
        """Put the policy's next lifetime check on the timers."""
        cands = []
        for lim in (pol.hard,) if pol.soft_expired else (pol.hard, pol.soft):
            if lim.addtime:
                cands.append(pol.current.addtime + lim.addtime)
            if lim.usetime and pol.current.usetime:
                cands.append(pol.current.usetime + lim.usetime)
        if cands:
            self.timers.push(min(cands), "sp", pol.index)

    def check_time(self, index: int, t: int) -> list[Delivery]:
        """A timer fired: a hard limit removes the policy; X_SPDEXPIRE only if ``spdexpire`` (BSD-like)."""
        pol = self.by_index.get(index)
        if pol is None:
            return []
        h, s, c = pol.hard, pol.soft, pol.current
        out: list[Delivery] = []
        if (h.addtime and c.addtime + h.addtime <= t) or (
            h.usetime and c.usetime and c.usetime + h.usetime <= t
        ):
            self.unlink(pol)
            if self.spdexpire:
                msg = pol.message(MsgType.X_SPDEXPIRE, seq=0, pid=0, refcnt=REFCNT_DELETED)
                out += self.sockets.send(msg, Target.REGISTERED)
            return out
        if not pol.soft_expired and (
            (s.addtime and c.addtime + s.addtime <= t)
            or (s.usetime and c.usetime and c.usetime + s.usetime <= t)
        ):
            pol.soft_expired = True
            if self.spdexpire:
                msg = pol.message(MsgType.X_SPDEXPIRE, seq=0, pid=0, refcnt=REFCNT_NOTIFY)
                out += self.sockets.send(msg, Target.REGISTERED)
        self.schedule(pol)
        return out

    def use(self, pol: PolicyRecord, t: int) -> None:
        """A packet met the policy: its first use starts the use-time lifetimes."""
        if not pol.current.usetime:
            pol.current.usetime = t
            self.schedule(pol)

    # -------------------------------------------------------------------------------------- messages
    def add(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """X_SPDADD, X_SPDUPDATE (replace) and X_SPDSETIDX (= add on Linux): to every socket."""
        sel = selector_of(msg)
        pol = policy_ext(msg)
        if pol.policy_type > PolicyType.IPSEC:
            raise Fail(E.EINVAL)
        templates = self._templates(pol) if pol.policy_type == PolicyType.IPSEC else ()
        if pol.policy_type == PolicyType.DISCARD:
            ptype = PolicyType.DISCARD
        else:
            ptype = PolicyType.IPSEC if templates else PolicyType.NONE
        hard, soft = msg.get(ExtType.LIFETIME_HARD), msg.get(ExtType.LIFETIME_SOFT)
        ctx = msg.get(ExtType.X_SEC_CTX)
        key = sel.key(pol.dir)
        old = self.policies.get(key)
        if old is not None and msg.type != MsgType.X_SPDUPDATE:
            raise Fail(E.EEXIST)
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
            self.unlink(old)
        rec._key = key  # the store's key, computed once
        self.policies[key] = rec
        self.by_index[index] = rec
        self.schedule(rec)
        mtype = MsgType.X_SPDUPDATE if msg.type == MsgType.X_SPDUPDATE else MsgType.X_SPDADD
        reply = rec.message(mtype, seq=msg.seq, pid=msg.pid, refcnt=REFCNT_NOTIFY)
        return self.sockets.send(reply, Target.ALL)

    def delete(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """X_SPDDELETE by selector and direction: to every socket."""
        sel = selector_of(msg)
        pol = policy_ext(msg)
        rec = self.policies.get(sel.key(pol.dir))
        if rec is None:
            raise Fail(E.ENOENT)
        self.unlink(rec)
        reply = rec.message(MsgType.X_SPDDELETE, seq=msg.seq, pid=msg.pid, refcnt=REFCNT_DELETED)
        return self.sockets.send(reply, Target.ALL)

    def get(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """X_SPDGET (to the sender) and X_SPDDELETE2 (to every socket) by index; the direction is id & 7."""
        pol = msg.get(ExtType.X_POLICY)
        if not isinstance(pol, PolicyExt):
            raise Fail(E.EINVAL)
        if pol.id & 7 >= 3:
            raise Fail(E.EINVAL)
        rec = self.by_index.get(pol.id)
        if rec is None or rec.dir - 1 != pol.id & 7:
            raise Fail(E.ENOENT)
        if msg.type == MsgType.X_SPDDELETE2:
            self.unlink(rec)
            reply = rec.message(MsgType.X_SPDDELETE2, seq=msg.seq, pid=msg.pid, refcnt=REFCNT_DELETED)
            return self.sockets.send(reply, Target.ALL)
        reply = rec.message(MsgType.X_SPDGET, seq=msg.seq, pid=msg.pid, refcnt=REFCNT_NOTIFY)
        return self.sockets.send(reply, Target.ONE, sid)

    def dump(self, sid: int, msg: Message, rmem: int, rcvbuf: int | None) -> list[Delivery]:
        """X_SPDDUMP (see :mod:`dump`)."""
        policies, pid = self.policies, msg.pid

        def live(rec: PolicyRecord) -> PolicyRecord | None:
            return rec if policies.get(rec.key) is rec else None  # replaced by an update: a new policy

        def build(rec: PolicyRecord, seq: int) -> bytes:
            return rec.message(MsgType.X_SPDDUMP, seq=seq, pid=pid, refcnt=REFCNT_DUMP).encode(LINUX)

        return self.dumps.start(sid, Dump(list(reversed(policies.values())), live, build), rmem, rcvbuf)

    def flush(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """X_SPDFLUSH: a copy to the sender, and to every socket when something went."""
        had = bool(self.policies)
        self.policies.clear()
        self.by_index.clear()
        head = Message(MsgType.X_SPDFLUSH, msg.satype, msg.seq, msg.pid)
        out = self.sockets.send(head, Target.ONE, sid)
        if had:
            out += self.sockets.send(head._replace(satype=0), Target.ALL)
        return out
