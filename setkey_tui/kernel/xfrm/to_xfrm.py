"""PF_KEY v2 requests → XFRM netlink requests, with af_key's own checks and errnos (sans-I/O).

:func:`translate` answers one decoded request with an :class:`XfrmRequest` (what to send, and how to turn
the kernel's answer back into PF_KEY), or raises :class:`PfkeyError` with the errno af_key would have put in
its error reply. REGISTER and X_PROMISC have no XFRM counterpart: the transport answers them itself.
"""

from __future__ import annotations

import errno as E
import sys
from collections.abc import Callable
from typing import NamedTuple

from setkey_tui.kernel.xfrm import algs
from setkey_tui.kernel.xfrm import netlink as nl
from setkey_tui.kernel.xfrm import structs as S
from setkey_tui.pfkey.constants import (
    IPPROTO_AH,
    IPPROTO_COMP,
    IPPROTO_ESP,
    IPSEC_MANUAL_REQID_MAX,
    IPSEC_PROTO_ANY,
    SATYPE_TO_PROTO,
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
    FilterExt,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    RawExt,
    SA2Ext,
    SAExt,
    SecCtxExt,
    SPIRangeExt,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import AF_INET

AF_INET6 = 10
SADB_AALG_MAX = 251
SADB_EALG_MAX = 253
SADB_X_CALG_MAX = 4
XFRM_MAX_DEPTH = 6
SPI_MIN_DEFAULT = 0x100
SPI_MAX_DEFAULT = 0x0FFFFFFF
_VALID_TMPL_PROTOS = frozenset({IPPROTO_AH, IPPROTO_ESP, IPPROTO_COMP, 43, 60, IPSEC_PROTO_ANY})
_MODE_TO_XFRM: dict[int, int] = {Mode.ANY: S.MODE_TRANSPORT, Mode.TRANSPORT: S.MODE_TRANSPORT, Mode.TUNNEL: S.MODE_TUNNEL,
                 Mode.BEET: S.MODE_BEET}
_SA_FLAGS = ((0x80000000, S.STATE_NOECN), (0x40000000, S.STATE_DECAP_DSCP), (0x20000000, S.STATE_NOPMTUDISC))
ACK = nl.NLM_F_REQUEST | nl.NLM_F_ACK

# How the answer to a request becomes PF_KEY.
REPLY_ACK = "ack"  # success is the multicast notification (or nothing); only errors are answered
REPLY_STATE = "state"  # a unicast NEWSA (GET, GETSPI)
REPLY_POLICY = "policy"  # a unicast NEWPOLICY (X_SPDGET)
REPLY_DUMP_SA = "dump-sa"
REPLY_DUMP_SP = "dump-sp"


class PfkeyError(Exception):
    """af_key would answer this request with ``errno``."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno


class XfrmRequest(NamedTuple):
    """One XFRM request standing for a PF_KEY request."""

    nl_type: int
    flags: int
    payload: bytes
    reply: str
    pf_reply_type: int
    unicast_copy: Message | None = None  # FLUSH / X_SPDFLUSH: af_key's copy of the request to the sender
    proto_filter: int = IPSEC_PROTO_ANY  # DUMP of one satype


def _fail(err: int = E.EINVAL) -> PfkeyError:
    return PfkeyError(err)


def check_extensions(msg: Message) -> None:
    """parse_exthdrs: no extension twice, no type 0, address prefixes within the family's length."""
    seen: set[int] = set()
    for ext in msg.extensions:
        et = ext.ext_type
        if isinstance(ext, RawExt):
            if et == 0:
                raise _fail()
            continue
        if et in seen:
            raise _fail()
        seen.add(et)
        if isinstance(ext, AddressExt):
            fam = ext.sockaddr.family
            if fam not in (AF_INET, AF_INET6):
                raise _fail()
            if ext.prefixlen > (32 if fam == AF_INET else 128):
                raise _fail()


def _pair(msg: Message) -> tuple[AddressExt, AddressExt, int]:
    """present_and_same_family: source and destination of one family, else EINVAL."""
    s, d = msg.get(ExtType.ADDRESS_SRC), msg.get(ExtType.ADDRESS_DST)
    if not isinstance(s, AddressExt) or not isinstance(d, AddressExt):
        raise _fail()
    fam = s.sockaddr.family
    if fam != d.sockaddr.family or fam not in (AF_INET, AF_INET6):
        raise _fail()
    return s, d, fam


def _mode(mode: int) -> int:
    x = _MODE_TO_XFRM.get(mode)
    if x is None:
        raise _fail()
    return x


def _limits(hard: object, soft: object) -> S.LifetimeCfg:
    def k2x(v: int) -> int:
        return S.XFRM_INF if v == 0 else v

    lft = S.LifetimeCfg()
    if isinstance(hard, LifetimeExt):
        lft = lft._replace(hard_packet_limit=k2x(hard.allocations), hard_byte_limit=k2x(hard.byte_count),
                           hard_add_expires_seconds=hard.addtime, hard_use_expires_seconds=hard.usetime)
    if isinstance(soft, LifetimeExt):
        lft = lft._replace(soft_packet_limit=k2x(soft.allocations), soft_byte_limit=k2x(soft.byte_count),
                           soft_add_expires_seconds=soft.addtime, soft_use_expires_seconds=soft.usetime)
    return lft


def _sec_ctx_attr(msg: Message) -> bytes:
    ctx = msg.get(ExtType.X_SEC_CTX)
    if isinstance(ctx, SecCtxExt):
        return nl.encode_attr(S.XFRMA_SEC_CTX, S.pack_sec_ctx(ctx.doi, ctx.alg, ctx.ctx))
    return b""


def _key(ext: object) -> tuple[int, bytes]:
    if isinstance(ext, KeyExt):
        n = (ext.bits + 7) // 8
        return ext.bits, ext.key[:n].ljust(n, b"\0")
    return 0, b""


def sa_add(msg: Message) -> XfrmRequest:
    """ADD → XFRM_MSG_NEWSA, UPDATE → XFRM_MSG_UPDSA (pfkey_msg2xfrm_state)."""
    exts = msg.ext_map()
    sa = exts.get(ExtType.SA)
    if not isinstance(sa, SAExt):
        raise _fail()
    src, dst, fam = _pair(msg)
    akey, ekey = exts.get(ExtType.KEY_AUTH), exts.get(ExtType.KEY_ENCRYPT)
    if msg.satype == SAType.ESP and ekey is None:
        raise _fail()
    if msg.satype == SAType.AH and akey is None:
        raise _fail()
    hard, soft = exts.get(ExtType.LIFETIME_HARD), exts.get(ExtType.LIFETIME_SOFT)
    if (hard is None) != (soft is None):
        raise _fail()
    proto = SATYPE_TO_PROTO.get(msg.satype)
    if proto is None:
        raise _fail()
    if sa.auth > SADB_AALG_MAX or sa.encrypt > SADB_EALG_MAX or (
        msg.satype == SAType.IPCOMP and sa.encrypt > SADB_X_CALG_MAX
    ):
        raise _fail()
    if isinstance(akey, KeyExt) and sa.auth != AuthAlg.X_NULL and akey.bits == 0:
        raise _fail()
    if isinstance(ekey, KeyExt) and sa.encrypt != EncAlg.NULL and ekey.bits == 0:
        raise _fail()
    attrs = b""
    if sa.auth:
        a = algs.AUTH_BY_ID.get(sa.auth)
        if a is None:
            raise _fail(E.ENOSYS)
        bits, key = _key(akey)
        attrs += nl.encode_attr(S.XFRMA_ALG_AUTH, S.Algo(a.name, bits, key).pack())
    if sa.encrypt:
        if msg.satype == SAType.IPCOMP:
            c = algs.COMP_BY_ID.get(sa.encrypt)
            if c is None:
                raise _fail(E.ENOSYS)
            attrs += nl.encode_attr(S.XFRMA_ALG_COMP, S.Algo(c.name, 0, b"").pack())
        else:
            e = algs.ENCRYPT_BY_ID.get(sa.encrypt)
            if e is None:
                raise _fail(E.ENOSYS)
            bits, key = _key(ekey)
            attrs += nl.encode_attr(S.XFRMA_ALG_CRYPT, S.Algo(e.name, bits, key).pack())
    mode, reqid = S.MODE_TRANSPORT, 0
    sa2 = exts.get(ExtType.X_SA2)
    if isinstance(sa2, SA2Ext):
        mode, reqid = _mode(sa2.mode), sa2.reqid
    sel = S.Selector(family=fam)
    proxy = exts.get(ExtType.ADDRESS_PROXY)
    if isinstance(proxy, AddressExt):
        sel = sel._replace(family=proxy.sockaddr.family, saddr=S.addr_bytes(proxy.sockaddr.addr),
                           prefixlen_s=proxy.prefixlen)
    ntype = exts.get(ExtType.X_NAT_T_TYPE)
    if isinstance(ntype, NatTTypeExt):
        sp, dp = exts.get(ExtType.X_NAT_T_SPORT), exts.get(ExtType.X_NAT_T_DPORT)
        oa = exts.get(ExtType.X_NAT_T_OA)
        encap = S.EncapTmpl(ntype.type, sp.port if isinstance(sp, NatTPortExt) else 0,
                            dp.port if isinstance(dp, NatTPortExt) else 0,
                            S.addr_bytes(oa.sockaddr.addr) if isinstance(oa, AddressExt) else bytes(16))
        attrs += nl.encode_attr(S.XFRMA_ENCAP, encap.pack())
    attrs += _sec_ctx_attr(msg)
    flags = 0
    for pf, xf in _SA_FLAGS:
        if sa.flags & pf:
            flags |= xf
    info = S.UserSAInfo(
        sel=sel, daddr=S.addr_bytes(dst.sockaddr.addr), spi=sa.spi, proto=proto,
        saddr=S.addr_bytes(src.sockaddr.addr), lft=_limits(hard, soft), seq=msg.seq, reqid=reqid, family=fam,
        mode=mode, replay_window=sa.replay & 0xFF, flags=flags,
    )
    nl_type = S.NEWSA if msg.type == MsgType.ADD else S.UPDSA
    return XfrmRequest(nl_type, ACK, info.pack() + attrs, REPLY_ACK, msg.type)


def sa_by_id(msg: Message) -> XfrmRequest:
    """DELETE → XFRM_MSG_DELSA, GET → XFRM_MSG_GETSA (by destination, SPI and protocol)."""
    sa = msg.get(ExtType.SA)
    if not isinstance(sa, SAExt):
        raise _fail()
    _src, dst, fam = _pair(msg)
    proto = SATYPE_TO_PROTO.get(msg.satype)
    if proto is None:
        raise _fail(E.ESRCH)
    sid = S.UserSAId(S.addr_bytes(dst.sockaddr.addr), sa.spi, fam, proto)
    if msg.type == MsgType.DELETE:
        return XfrmRequest(S.DELSA, ACK, sid.pack(), REPLY_ACK, MsgType.DELETE)
    return XfrmRequest(S.GETSA, ACK, sid.pack(), REPLY_STATE, MsgType.GET)


def getspi(msg: Message) -> XfrmRequest:
    """GETSPI → XFRM_MSG_ALLOCSPI (find or make the larval SA, then pick an SPI in the range)."""
    src, dst, fam = _pair(msg)
    proto = SATYPE_TO_PROTO.get(msg.satype)
    if proto is None:
        raise _fail()
    mode, reqid = S.MODE_TRANSPORT, 0
    sa2 = msg.get(ExtType.X_SA2)
    if isinstance(sa2, SA2Ext):
        mode, reqid = _mode(sa2.mode), sa2.reqid
    lo, hi = SPI_MIN_DEFAULT, SPI_MAX_DEFAULT
    rng = msg.get(ExtType.SPIRANGE)
    if isinstance(rng, SPIRangeExt):
        lo, hi = rng.min, rng.max
    if lo > hi or (proto == IPPROTO_COMP and hi >= 0x10000):
        raise _fail()
    info = S.UserSAInfo(sel=S.Selector(), daddr=S.addr_bytes(dst.sockaddr.addr), spi=0, proto=proto,
                        saddr=S.addr_bytes(src.sockaddr.addr), seq=msg.seq, reqid=reqid, family=fam, mode=mode)
    return XfrmRequest(S.ALLOCSPI, ACK, S.pack_userspi_info(info, lo, hi), REPLY_STATE, MsgType.GETSPI)


def _satype_proto(satype: int) -> int:
    if satype == SAType.UNSPEC:
        return IPSEC_PROTO_ANY
    proto = SATYPE_TO_PROTO.get(satype)
    if proto is None:
        raise _fail()
    return proto


def flush(msg: Message) -> XfrmRequest:
    """FLUSH → XFRM_MSG_FLUSHSA; the sender also gets af_key's unicast copy of its request."""
    proto = _satype_proto(msg.satype)
    copy = Message(MsgType.FLUSH, msg.satype, msg.seq, msg.pid)
    return XfrmRequest(S.FLUSHSA, ACK, S.pack_usersa_flush(proto), REPLY_ACK, MsgType.FLUSH, copy)


def dump(msg: Message) -> XfrmRequest:
    """DUMP → an XFRM_MSG_GETSA dump, filtered by the kernel to the satype's protocol and, with Linux's
    SADB_X_EXT_FILTER, to source and destination prefixes (XFRMA_ADDRESS_FILTER)."""
    proto = _satype_proto(msg.satype)
    attrs = b""
    filt = msg.get(ExtType.X_FILTER)
    if isinstance(filt, FilterExt):
        if filt.splen > 128 or filt.dplen > 128:
            raise _fail()
        attrs += nl.encode_attr(S.XFRMA_ADDRESS_FILTER, S.pack_address_filter(
            S.addr_bytes(filt.saddr[:16]), S.addr_bytes(filt.daddr[:16]), filt.family, filt.splen, filt.dplen))
    if proto != IPSEC_PROTO_ANY:
        attrs += nl.encode_attr(S.XFRMA_PROTO, bytes([proto]))
    return XfrmRequest(S.GETSA, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, attrs, REPLY_DUMP_SA, MsgType.DUMP, None, proto)


def _selector(msg: Message) -> S.Selector:
    src, dst, fam = _pair(msg)
    sport, dport = src.sockaddr.port, dst.sockaddr.port
    proto = dst.proto if dst.proto != IPSEC_PROTO_ANY else 0
    return S.Selector(
        daddr=S.addr_bytes(dst.sockaddr.addr), saddr=S.addr_bytes(src.sockaddr.addr), dport=dport,
        dport_mask=0xFFFF if dport else 0, sport=sport, sport_mask=0xFFFF if sport else 0, family=fam,
        prefixlen_d=dst.prefixlen, prefixlen_s=src.prefixlen, proto=proto,
    )


def _policy_ext(msg: Message) -> PolicyExt:
    pol = msg.get(ExtType.X_POLICY)
    if not isinstance(pol, PolicyExt):
        raise _fail()
    if not 0 < pol.dir < Direction.MAX:
        raise _fail()
    return pol


def _templates(pol: PolicyExt, family: int, gen_reqid: Callable[[], int]) -> tuple[S.UserTmpl, ...]:
    """parse_ipsecrequests: one template per request."""
    out: list[S.UserTmpl] = []
    for rq in pol.requests:
        if len(out) >= XFRM_MAX_DEPTH:
            raise _fail(E.ELOOP)
        if rq.mode == 0 or rq.proto not in _VALID_TMPL_PROTOS:
            raise _fail()
        mode = _mode(rq.mode)
        optional, reqid = 0, 0
        if rq.level == Level.USE:
            if mode in (S.MODE_TUNNEL, S.MODE_BEET) and pol.dir == Direction.OUTBOUND:
                raise _fail()
            optional = 1
        elif rq.level == Level.UNIQUE:
            reqid = rq.reqid if rq.reqid <= IPSEC_MANUAL_REQID_MAX else 0
            if not reqid:
                reqid = gen_reqid()
                if not reqid:
                    raise _fail(E.ENOBUFS)
        saddr = daddr = bytes(16)
        tfam = family
        if mode == S.MODE_TUNNEL:
            if rq.src is None or rq.dst is None or rq.src.family != rq.dst.family:
                raise _fail()
            if rq.src.family not in (AF_INET, AF_INET6):
                raise _fail()
            tfam = rq.src.family
            saddr, daddr = S.addr_bytes(rq.src.addr), S.addr_bytes(rq.dst.addr)
        out.append(S.UserTmpl(daddr, 0, rq.proto, tfam, saddr, reqid, mode, 0, optional))
    return tuple(out)


def spd_add(msg: Message, gen_reqid: Callable[[], int]) -> XfrmRequest:
    """X_SPDADD / X_SPDSETIDX → XFRM_MSG_NEWPOLICY, X_SPDUPDATE → XFRM_MSG_UPDPOLICY (pfkey_spdadd)."""
    sel = _selector(msg)
    pol = _policy_ext(msg)
    if pol.policy_type > PolicyType.IPSEC:
        raise _fail()
    templates = _templates(pol, sel.family, gen_reqid) if pol.policy_type == PolicyType.IPSEC else ()
    lft = _limits(msg.get(ExtType.LIFETIME_HARD), msg.get(ExtType.LIFETIME_SOFT))
    action = S.POLICY_BLOCK if pol.policy_type == PolicyType.DISCARD else S.POLICY_ALLOW
    info = S.UserPolicyInfo(sel, lft, S.LifetimeCur(), pol.priority, 0, pol.dir - 1, action)
    attrs = b""
    if templates:
        attrs += nl.encode_attr(S.XFRMA_TMPL, b"".join(t.pack() for t in templates))
    attrs += _sec_ctx_attr(msg)
    update = msg.type == MsgType.X_SPDUPDATE
    nl_type = S.UPDPOLICY if update else S.NEWPOLICY
    return XfrmRequest(nl_type, ACK, info.pack() + attrs, REPLY_ACK,
                       MsgType.X_SPDUPDATE if update else MsgType.X_SPDADD)


def spd_delete(msg: Message) -> XfrmRequest:
    """X_SPDDELETE → XFRM_MSG_DELPOLICY by selector and direction."""
    sel = _selector(msg)
    pol = _policy_ext(msg)
    pid = S.UserPolicyId(sel, 0, pol.dir - 1)
    return XfrmRequest(S.DELPOLICY, ACK, pid.pack() + _sec_ctx_attr(msg), REPLY_ACK, MsgType.X_SPDDELETE)


def spd_by_id(msg: Message) -> XfrmRequest:
    """X_SPDGET → XFRM_MSG_GETPOLICY, X_SPDDELETE2 → XFRM_MSG_DELPOLICY, by index (direction = index & 7)."""
    pol = msg.get(ExtType.X_POLICY)
    if not isinstance(pol, PolicyExt):
        raise _fail()
    xdir = pol.id & 7
    if xdir >= S.POLICY_MAX:
        raise _fail()
    pid = S.UserPolicyId(S.Selector(), pol.id, xdir)
    if msg.type == MsgType.X_SPDDELETE2:
        return XfrmRequest(S.DELPOLICY, ACK, pid.pack(), REPLY_ACK, MsgType.X_SPDDELETE2)
    return XfrmRequest(S.GETPOLICY, ACK, pid.pack(), REPLY_POLICY, MsgType.X_SPDGET)


def spd_dump(msg: Message) -> XfrmRequest:
    """X_SPDDUMP → an XFRM_MSG_GETPOLICY dump (main policies only, as af_key walks them)."""
    return XfrmRequest(S.GETPOLICY, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, b"", REPLY_DUMP_SP, MsgType.X_SPDDUMP)


def spd_flush(msg: Message) -> XfrmRequest:
    """X_SPDFLUSH → XFRM_MSG_FLUSHPOLICY (main policies); the sender gets af_key's unicast copy."""
    copy = Message(MsgType.X_SPDFLUSH, msg.satype, msg.seq, msg.pid)
    return XfrmRequest(S.FLUSHPOLICY, ACK, b"", REPLY_ACK, MsgType.X_SPDFLUSH, copy)


def translate(msg: Message, gen_reqid: Callable[[], int]) -> XfrmRequest:
    """The XFRM request for one PF_KEY request; :class:`PfkeyError` with af_key's errno when it refuses."""
    check_extensions(msg)
    t = msg.type
    if t in (MsgType.ADD, MsgType.UPDATE):
        return sa_add(msg)
    if t in (MsgType.DELETE, MsgType.GET):
        return sa_by_id(msg)
    if t == MsgType.GETSPI:
        return getspi(msg)
    if t == MsgType.FLUSH:
        return flush(msg)
    if t == MsgType.DUMP:
        return dump(msg)
    if t in (MsgType.X_SPDADD, MsgType.X_SPDUPDATE, MsgType.X_SPDSETIDX):
        return spd_add(msg, gen_reqid)
    if t == MsgType.X_SPDDELETE:
        return spd_delete(msg)
    if t in (MsgType.X_SPDGET, MsgType.X_SPDDELETE2):
        return spd_by_id(msg)
    if t == MsgType.X_SPDDUMP:
        return spd_dump(msg)
    if t == MsgType.X_SPDFLUSH:
        return spd_flush(msg)
    if t == MsgType.X_MIGRATE:
        raise _fail(E.ENOPROTOOPT)
    raise _fail(E.EOPNOTSUPP)


def error_reply(request: bytes, err: int) -> bytes:
    """pfkey_error: the request's 16-byte header, length 2, ``sadb_msg_errno`` set (ERESTART* → EINTR,
    ≥ 512 → EINVAL)."""
    if err in (512, 513, 514):
        err = E.EINTR
    if err >= 256:
        err = E.EINVAL
    head = bytearray(request[:16])
    head[2] = err & 0xFF
    head[4:6] = (2).to_bytes(2, sys.byteorder)
    return bytes(head)
