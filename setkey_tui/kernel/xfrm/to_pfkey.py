"""XFRM states, policies and notifications → the PF_KEY messages Linux's af_key would have sent.

The layouts follow af_key's ``__pfkey_xfrm_state2msg``, ``pfkey_xfrm_policy2msg`` and ``pfkey_send_acquire``
(see :mod:`setkey_tui.kernel.sim.records`, which the recordings of a real kernel pinned down): extension
order, full prefixes and proto 0 in SA addresses, ADDRESS_PROXY when the selector's source differs, keys
only when asked for, policy refcounts in ``sadb_msg_reserved``. What XFRM does not report and af_key reads
from the kernel's own state (larval/mature/dying) is derived: a state without any algorithm is an acquire
(larval) state; a valid state past one of its soft limits is dying.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.kernel.xfrm import algs
from setkey_tui.kernel.xfrm import structs as S
from setkey_tui.pfkey.constants import (
    IPPROTO_AH,
    IPPROTO_ESP,
    IPSEC_PROTO_ANY,
    IPSEC_REPLAYWSIZE,
    PROTO_TO_SATYPE,
    Direction,
    ExtType,
    Level,
    Mode,
    MsgType,
    PolicyType,
    SAState,
    SAType,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Alg,
    Comb,
    Extension,
    IpsecRequest,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    ProposalExt,
    SA2Ext,
    SAExt,
    SecCtxExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.pfkey.wire import codec_for

MODE_FROM_XFRM = {S.MODE_TRANSPORT: Mode.TRANSPORT, S.MODE_TUNNEL: Mode.TUNNEL, S.MODE_BEET: Mode.BEET}
# The refcounts af_key reports in sadb_msg_reserved of policy messages (see sim/kernel.py).
REFCNT_NOTIFY = 3
REFCNT_DUMP = 2
REFCNT_DELETED = 1
ALG_ATTRS = (S.XFRMA_ALG_AUTH, S.XFRMA_ALG_AUTH_TRUNC, S.XFRMA_ALG_CRYPT, S.XFRMA_ALG_COMP, S.XFRMA_ALG_AEAD)
COMB_TIMES = {"hard_addtime": 86400, "soft_addtime": 72000, "hard_usetime": 28800, "soft_usetime": 25200}
_SA_FLAGS = ((S.STATE_NOECN, 0x80000000), (S.STATE_DECAP_DSCP, 0x40000000), (S.STATE_NOPMTUDISC, 0x20000000))


class Untranslatable(ValueError):
    """An XFRM entry af_key would not report at all (another protocol, family or mode)."""


def _x2key(v: int) -> int:
    return 0 if v == S.XFRM_INF else v


def _sockaddr(family: int, raw: bytes, port: int = 0) -> Sockaddr:
    return Sockaddr(family, port, S.addr_of(family, raw))


def _full(family: int) -> int:
    return 32 if family == S.AF_INET else 128


def _check_family(family: int) -> None:
    if family not in (S.AF_INET, S.AF_INET6):
        raise Untranslatable(f"address family {family}")


def is_larval(attrs: dict[int, bytes]) -> bool:
    """An acquire (larval) state: XFRM does not say so, but only those carry no algorithm at all."""
    return not any(a in attrs for a in ALG_ATTRS)


def is_dying(info: S.UserSAInfo, now: float) -> bool:
    """Whether the kernel has marked this valid state dying: one of its soft limits has been reached."""
    lft, cur = info.lft, info.curlft
    if lft.soft_add_expires_seconds and cur.add_time and now >= cur.add_time + lft.soft_add_expires_seconds:
        return True
    if lft.soft_use_expires_seconds and cur.use_time and now >= cur.use_time + lft.soft_use_expires_seconds:
        return True
    if lft.soft_byte_limit != S.XFRM_INF and cur.bytes >= lft.soft_byte_limit:
        return True
    return lft.soft_packet_limit != S.XFRM_INF and cur.packets >= lft.soft_packet_limit


def sa_state(info: S.UserSAInfo, attrs: dict[int, bytes], now: float) -> int:
    """The ``sadb_sa_state`` af_key would show for a state found in the SAD."""
    if is_larval(attrs):
        return SAState.LARVAL
    return SAState.DYING if is_dying(info, now) else SAState.MATURE


def sa_algorithms(info: S.UserSAInfo, attrs: dict[int, bytes]) -> tuple[int, int, KeyExt | None, KeyExt | None]:
    """(auth id, encrypt-or-compression id, auth key, encryption key) as af_key reports them."""
    auth = encrypt = 0
    akey = ekey = None
    raw = attrs.get(S.XFRMA_ALG_AUTH_TRUNC)
    a = None
    if raw is not None:
        a = S.Algo.unpack(raw, with_extra=True)
    elif (raw := attrs.get(S.XFRMA_ALG_AUTH)) is not None:
        a = S.Algo.unpack(raw)
    if a is not None:
        auth = algs.auth_id(a.name)
        if a.key_bits:
            akey = KeyExt(ExtType.KEY_AUTH, a.key_bits, a.key)
    raw = attrs.get(S.XFRMA_ALG_CRYPT)
    if raw is not None:
        e = S.Algo.unpack(raw)
        encrypt = algs.encrypt_id(e.name)
        if e.key_bits:
            ekey = KeyExt(ExtType.KEY_ENCRYPT, e.key_bits, e.key)
    raw = attrs.get(S.XFRMA_ALG_COMP)
    if raw is not None:
        encrypt = algs.comp_id(S.Algo.unpack(raw).name)
    return auth, encrypt, akey, ekey


def _sa_fields(info: S.UserSAInfo, attrs: dict[int, bytes], alg_ids: tuple[int, int] | None
               ) -> tuple[int, int, int, int, KeyExt | None, KeyExt | None, int]:
    """What both ways of writing a state's message need: satype, mode, algorithm ids, keys and SA flags
    (:class:`Untranslatable` for a protocol, family or mode PF_KEY has no word for)."""
    satype = PROTO_TO_SATYPE.get(info.proto)
    if satype is None:
        raise Untranslatable(f"protocol {info.proto}")
    _check_family(info.family)
    mode = MODE_FROM_XFRM.get(info.mode)
    if mode is None:
        raise Untranslatable(f"mode {info.mode}")
    auth, encrypt, akey, ekey = sa_algorithms(info, attrs)
    if alg_ids is not None and not (auth or encrypt):
        auth, encrypt = alg_ids
    flags = 0
    for xf, pf in _SA_FLAGS:
        if info.flags & xf:
            flags |= pf
    return satype, mode, auth, encrypt, akey, ekey, flags


def state_message(
    info: S.UserSAInfo,
    attrs: dict[int, bytes],
    msg_type: int,
    *,
    seq: int,
    pid: int,
    state: int,
    keys: bool = True,
    hsc: int = 3,
    alg_ids: tuple[int, int] | None = None,
) -> Message:
    """The PF_KEY message af_key builds for this state (``hsc``: 1 soft lifetime, 2 hard, 3 both)."""
    satype, mode, auth, encrypt, akey, ekey, flags = _sa_fields(info, attrs, alg_ids)
    fam = info.family
    lft, cur = info.lft, info.curlft
    exts: list[Extension] = [SAExt(info.spi, info.replay_window, state, auth, encrypt, flags)]
    if hsc & 2:
        exts.append(LifetimeExt(ExtType.LIFETIME_HARD, _x2key(lft.hard_packet_limit), _x2key(lft.hard_byte_limit),
                                lft.hard_add_expires_seconds, lft.hard_use_expires_seconds))
    if hsc & 1:
        exts.append(LifetimeExt(ExtType.LIFETIME_SOFT, _x2key(lft.soft_packet_limit), _x2key(lft.soft_byte_limit),
                                lft.soft_add_expires_seconds, lft.soft_use_expires_seconds))
    exts.append(LifetimeExt(ExtType.LIFETIME_CURRENT, cur.packets, cur.bytes, cur.add_time, cur.use_time))
    full = _full(fam)
    exts.append(AddressExt(ExtType.ADDRESS_SRC, _sockaddr(fam, info.saddr), 0, full))
    exts.append(AddressExt(ExtType.ADDRESS_DST, _sockaddr(fam, info.daddr), 0, full))
    sel = info.sel
    n = 4 if fam == S.AF_INET else 16
    if sel.saddr[:n] != info.saddr[:n]:
        proto = sel.proto or IPSEC_PROTO_ANY
        exts.append(AddressExt(ExtType.ADDRESS_PROXY, _sockaddr(fam, sel.saddr, sel.sport), proto, sel.prefixlen_s))
    if keys and akey is not None:
        exts.append(akey)
    if keys and ekey is not None:
        exts.append(ekey)
    exts.append(SA2Ext(mode, info.reqid, 0))
    raw = attrs.get(S.XFRMA_ENCAP)
    if raw is not None and len(raw) >= 24:
        encap = S.EncapTmpl.unpack(raw)
        if encap.encap_type:
            exts.append(NatTTypeExt(encap.encap_type))
            exts.append(NatTPortExt(ExtType.X_NAT_T_SPORT, encap.sport))
            exts.append(NatTPortExt(ExtType.X_NAT_T_DPORT, encap.dport))
    raw = attrs.get(S.XFRMA_SEC_CTX)
    if raw is not None and len(raw) >= 8:
        doi, alg, ctx = S.unpack_sec_ctx(raw)
        exts.append(SecCtxExt(doi, alg, ctx))
    return Message(msg_type, satype, seq & 0xFFFFFFFF, pid & 0xFFFFFFFF, 0, tuple(exts))


def _request(t: S.UserTmpl) -> IpsecRequest:
    mode = MODE_FROM_XFRM.get(t.mode)
    if mode is None:
        raise Untranslatable(f"template mode {t.mode}")
    level = Level.REQUIRE
    if t.reqid:
        level = Level.UNIQUE
    if t.optional:
        level = Level.USE
    src = dst = None
    if t.mode == S.MODE_TUNNEL:
        _check_family(t.family)
        src, dst = _sockaddr(t.family, t.saddr), _sockaddr(t.family, t.daddr)
    return IpsecRequest(t.proto, mode, level, t.reqid, src, dst)


def policy_message(
    info: S.UserPolicyInfo,
    templates: tuple[S.UserTmpl, ...],
    attrs: dict[int, bytes],
    msg_type: int,
    *,
    seq: int,
    pid: int,
    refcnt: int,
    direction: int | None = None,
) -> Message:
    """The PF_KEY message af_key builds for this policy (``direction``: the XFRM direction when it is not
    ``info.dir``, as in a deletion by index)."""
    sel = info.sel
    fam = sel.family
    proto, pol = _policy_head(info, templates, direction)
    lft, cur = info.lft, info.curlft
    exts: list[Extension] = [
        AddressExt(ExtType.ADDRESS_SRC, _sockaddr(fam, sel.saddr, sel.sport), proto, sel.prefixlen_s),
        AddressExt(ExtType.ADDRESS_DST, _sockaddr(fam, sel.daddr, sel.dport), proto, sel.prefixlen_d),
        LifetimeExt(ExtType.LIFETIME_HARD, _x2key(lft.hard_packet_limit), _x2key(lft.hard_byte_limit),
                    lft.hard_add_expires_seconds, lft.hard_use_expires_seconds),
        LifetimeExt(ExtType.LIFETIME_SOFT, _x2key(lft.soft_packet_limit), _x2key(lft.soft_byte_limit),
                    lft.soft_add_expires_seconds, lft.soft_use_expires_seconds),
        LifetimeExt(ExtType.LIFETIME_CURRENT, cur.packets, cur.bytes, cur.add_time, cur.use_time),
        pol,
    ]
    raw = attrs.get(S.XFRMA_SEC_CTX)
    if raw is not None and len(raw) >= 8:
        doi, alg, ctx = S.unpack_sec_ctx(raw)
        exts.append(SecCtxExt(doi, alg, ctx))
    return Message(msg_type, 0, seq & 0xFFFFFFFF, pid & 0xFFFFFFFF, 0, tuple(exts), reserved=refcnt)


def _policy_head(info: S.UserPolicyInfo, templates: tuple[S.UserTmpl, ...],
                 direction: int | None = None) -> tuple[int, PolicyExt]:
    """The selector's upper protocol as PF_KEY says it (0 is "any") and af_key's X_POLICY for this policy
    (``direction``: the XFRM direction when it is not ``info.dir``)."""
    _check_family(info.sel.family)
    if info.action == S.POLICY_BLOCK:
        ptype = PolicyType.DISCARD
    else:
        ptype = PolicyType.IPSEC if templates else PolicyType.NONE
    xdir = info.dir if direction is None else direction
    reqs = tuple(_request(t) for t in templates)
    return info.sel.proto or IPSEC_PROTO_ANY, PolicyExt(ptype, xdir + 1, info.idx, info.priority, reqs)


def _tmpl_bit(mask: int, alg_id: int) -> bool:
    return alg_id < 32 and bool((mask >> alg_id) & 1)


def proposal(tmpl: S.UserTmpl | None, proto: int,
             auth: tuple[Alg, ...] = LINUX_SUPPORTED_AUTH,
             encrypt: tuple[Alg, ...] = LINUX_SUPPORTED_ENCRYPT) -> ProposalExt | None:
    """The SADB_EXT_PROPOSAL af_key puts in an ACQUIRE (``dump_ah_combs`` / ``dump_esp_combs``)."""
    aalgos = tmpl.aalgos if tmpl is not None else 0xFFFFFFFF
    ealgos = tmpl.ealgos if tmpl is not None else 0xFFFFFFFF
    if proto == IPPROTO_AH:
        combs = tuple(Comb(auth=a.id, auth_minbits=a.minbits, auth_maxbits=a.maxbits, **COMB_TIMES)
                      for a in auth if _tmpl_bit(aalgos, a.id))
    elif proto == IPPROTO_ESP:
        combs = tuple(
            Comb(auth=a.id, encrypt=e.id, auth_minbits=a.minbits, auth_maxbits=a.maxbits,
                 encrypt_minbits=e.minbits, encrypt_maxbits=e.maxbits, **COMB_TIMES)
            for e in encrypt if _tmpl_bit(ealgos, e.id)
            for a in auth[1:] if _tmpl_bit(aalgos, a.id)
        )
    else:
        return None
    return ProposalExt(IPSEC_REPLAYWSIZE, combs)


def acquire_message(ua: S.UserAcquire, attrs: dict[int, bytes]) -> Message:
    """The SADB_ACQUIRE af_key sends to registered sockets for this XFRM acquire."""
    satype = PROTO_TO_SATYPE.get(ua.proto)
    if satype is None:
        raise Untranslatable(f"protocol {ua.proto}")
    fam = ua.policy.sel.family or ua.sel.family
    _check_family(fam)
    full = _full(fam)
    templates = S.UserTmpl.unpack_all(attrs.get(S.XFRMA_TMPL, b""))
    tmpl = next((t for t in templates if t.proto == ua.proto), None)
    exts: list[Extension] = [
        AddressExt(ExtType.ADDRESS_SRC, _sockaddr(fam, ua.saddr), 0, full),
        AddressExt(ExtType.ADDRESS_DST, _sockaddr(fam, ua.daddr), 0, full),
        PolicyExt(PolicyType.IPSEC, Direction.OUTBOUND, ua.policy.idx, ua.policy.priority),
    ]
    prop = proposal(tmpl, ua.proto)
    if prop is not None:
        exts.append(prop)
    raw = attrs.get(S.XFRMA_SEC_CTX)
    if raw is not None and len(raw) >= 8:
        doi, alg, ctx = S.unpack_sec_ctx(raw)
        exts.append(SecCtxExt(doi, alg, ctx))
    return Message(MsgType.ACQUIRE, satype, ua.seq, 0, 0, tuple(exts))


def mapping_message(um: S.UserMapping) -> Message:
    """SADB_X_NAT_T_NEW_MAPPING (pfkey_send_new_mapping): the SA, its old source and port, the new ones.
    af_key puts the state's km.seq in sadb_msg_seq; XFRM's mapping event does not carry it (0 here)."""
    if um.proto != IPPROTO_ESP:
        raise Untranslatable(f"protocol {um.proto}")
    _check_family(um.family)
    full = _full(um.family)
    exts: list[Extension] = [
        SAExt(um.spi),
        AddressExt(ExtType.ADDRESS_SRC, _sockaddr(um.family, um.old_saddr), 0, full),
        NatTPortExt(ExtType.X_NAT_T_SPORT, um.old_sport),
        AddressExt(ExtType.ADDRESS_DST, _sockaddr(um.family, um.new_saddr), 0, full),
        NatTPortExt(ExtType.X_NAT_T_DPORT, um.new_sport),
    ]
    return Message(MsgType.X_NAT_T_NEW_MAPPING, SAType.ESP, 0, 0, 0, tuple(exts))


def flush_message(msg_type: int, proto: int, seq: int, pid: int) -> Message:
    """The header-only FLUSH / X_SPDFLUSH broadcast (``proto`` IPSEC_PROTO_ANY or 0: every satype)."""
    return Message(msg_type, PROTO_TO_SATYPE.get(proto, 0), seq & 0xFFFFFFFF, pid & 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------- fast encoding
# A dump of 100k SAs is dominated by building and encoding Message objects; this writes the same bytes
# directly (tests compare it with state_message(...).encode() on every kind of SA).
_HDR = struct.Struct("=BBBBHHII")
_SA = struct.Struct("=HH4sBBBBI")
_LIFE = struct.Struct("=HHIQQQ")
_SA2 = struct.Struct("=HHBBHII")
_CODEC = codec_for(LINUX)


@lru_cache(maxsize=1 << 16)
def _address_bytes(ext_type: int, family: int, raw: bytes, port: int, proto: int, prefix: int) -> bytes:
    return _CODEC.encode_exts((AddressExt(ext_type, _sockaddr(family, raw, port), proto, prefix),))


def state_bytes(info: S.UserSAInfo, attrs: dict[int, bytes], msg_type: int, *, seq: int, pid: int, state: int,
                alg_ids: tuple[int, int] | None = None) -> tuple[bytes, int, int]:
    """``state_message(..., keys=True, hsc=3).encode(LINUX)`` without the Message: (bytes, auth id, encrypt id).
    Raises :class:`Untranslatable` as state_message does; a state with a security context or NAT-T goes
    through state_message."""
    if S.XFRMA_SEC_CTX in attrs or S.XFRMA_ENCAP in attrs:
        msg = state_message(info, attrs, msg_type, seq=seq, pid=pid, state=state, alg_ids=alg_ids)
        sa = msg.extensions[0]
        assert isinstance(sa, SAExt)
        return msg.encode(LINUX), sa.auth, sa.encrypt
    satype, mode, auth, encrypt, akey, ekey, flags = _sa_fields(info, attrs, alg_ids)
    fam = info.family
    lft, cur = info.lft, info.curlft
    full = 32 if fam == S.AF_INET else 128
    parts = [
        _SA.pack(2, ExtType.SA, info.spi.to_bytes(4, "big"), info.replay_window, state, auth, encrypt, flags),
        _LIFE.pack(4, ExtType.LIFETIME_HARD, _x2key(lft.hard_packet_limit), _x2key(lft.hard_byte_limit),
                   lft.hard_add_expires_seconds, lft.hard_use_expires_seconds),
        _LIFE.pack(4, ExtType.LIFETIME_SOFT, _x2key(lft.soft_packet_limit), _x2key(lft.soft_byte_limit),
                   lft.soft_add_expires_seconds, lft.soft_use_expires_seconds),
        _LIFE.pack(4, ExtType.LIFETIME_CURRENT, cur.packets, cur.bytes, cur.add_time, cur.use_time),
        _address_bytes(ExtType.ADDRESS_SRC, fam, info.saddr, 0, 0, full),
        _address_bytes(ExtType.ADDRESS_DST, fam, info.daddr, 0, 0, full),
    ]
    sel = info.sel
    n = 4 if fam == S.AF_INET else 16
    if sel.saddr[:n] != info.saddr[:n]:
        parts.append(_address_bytes(ExtType.ADDRESS_PROXY, fam, sel.saddr, sel.sport, sel.proto or IPSEC_PROTO_ANY,
                                    sel.prefixlen_s))
    if akey is not None or ekey is not None:
        parts.append(_CODEC.encode_exts(tuple(k for k in (akey, ekey) if k is not None)))
    parts.append(_SA2.pack(2, ExtType.X_SA2, mode, 0, 0, 0, info.reqid))
    body = b"".join(parts)
    head = _HDR.pack(2, msg_type, 0, satype, (16 + len(body)) // 8, 0, seq & 0xFFFFFFFF, pid & 0xFFFFFFFF)
    return head + body, auth, encrypt


def policy_bytes(info: S.UserPolicyInfo, templates: tuple[S.UserTmpl, ...], attrs: dict[int, bytes],
                 msg_type: int, *, seq: int, pid: int, refcnt: int) -> bytes:
    """``policy_message(...).encode(LINUX)`` without the Message (a policy with a security context goes through
    policy_message)."""
    if S.XFRMA_SEC_CTX in attrs:
        return policy_message(info, templates, attrs, msg_type, seq=seq, pid=pid, refcnt=refcnt).encode(LINUX)
    sel = info.sel
    fam = sel.family
    proto, pol_ext = _policy_head(info, templates)
    lft, cur = info.lft, info.curlft
    pol = _CODEC.encode_exts((pol_ext,))
    body = b"".join((
        _address_bytes(ExtType.ADDRESS_SRC, fam, sel.saddr, sel.sport, proto, sel.prefixlen_s),
        _address_bytes(ExtType.ADDRESS_DST, fam, sel.daddr, sel.dport, proto, sel.prefixlen_d),
        _LIFE.pack(4, ExtType.LIFETIME_HARD, _x2key(lft.hard_packet_limit), _x2key(lft.hard_byte_limit),
                   lft.hard_add_expires_seconds, lft.hard_use_expires_seconds),
        _LIFE.pack(4, ExtType.LIFETIME_SOFT, _x2key(lft.soft_packet_limit), _x2key(lft.soft_byte_limit),
                   lft.soft_add_expires_seconds, lft.soft_use_expires_seconds),
        _LIFE.pack(4, ExtType.LIFETIME_CURRENT, cur.packets, cur.bytes, cur.add_time, cur.use_time),
        pol,
    ))
    return _HDR.pack(2, msg_type, 0, 0, (16 + len(body)) // 8, refcnt, seq & 0xFFFFFFFF, pid & 0xFFFFFFFF) + body
