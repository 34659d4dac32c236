"""The XFRM codec and the PF_KEY ↔ XFRM translation, without a kernel.

The strongest check here is differential: a PF_KEY request is translated to XFRM, the XFRM notification a
kernel would send back for it is built from that request, and its translation back to PF_KEY must equal
what the simulated kernel (itself checked against recordings of a real af_key) answers to the same request.
"""

from __future__ import annotations

import errno
import struct

import pytest

from setkey_tui.kernel.sim.kernel import SimKernel
from setkey_tui.kernel.xfrm import netlink as nl
from setkey_tui.kernel.xfrm import structs as S
from setkey_tui.kernel.xfrm import to_pfkey as P
from setkey_tui.kernel.xfrm import to_xfrm as X
from setkey_tui.kernel.xfrm.events import ALL, REGISTERED, Translator
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.grammar import parse_one
from setkey_tui.pfkey.constants import EncAlg, ExtType, MsgType, PolicyType, SAState, SAType
from setkey_tui.pfkey.extensions import LifetimeExt, PolicyExt, SAExt
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import LINUX

NOW = 1_700_000_000


def _msgs(text: str) -> list[Message]:
    return [m._replace(seq=i + 5, pid=4242) for i, m in enumerate(compile_statement(parse_one(text)))]


def _no_reqid() -> int:
    raise AssertionError("no automatic reqid expected")


# ----------------------------------------------------------------------------------------------- structs
def test_struct_sizes_are_the_kernels() -> None:
    assert S.SIZES["xfrm_usersa_info"] == 224
    assert S.SIZES["xfrm_userpolicy_info"] == 168
    assert S.SIZES["xfrm_user_tmpl"] == 64
    assert S.SIZES["xfrm_user_acquire"] == 280
    assert S.SIZES["xfrm_selector"] == 56 and S.SIZES["xfrm_usersa_id"] == 24
    assert S.SIZES["xfrm_userpolicy_id"] == 64 and S.SIZES["xfrm_user_expire"] == 232
    assert S.SIZES["xfrm_userspi_info"] == 232 and S.SIZES["xfrm_encap_tmpl"] == 24
    assert S.SIZES["xfrm_address_filter"] == 36


def _sel() -> S.Selector:
    return S.Selector(S.addr_bytes(bytes([10, 2, 0, 0])), S.addr_bytes(bytes([10, 1, 0, 0])), 443, 0xFFFF, 0, 0,
                      S.AF_INET, 24, 16, 6, 3, 7)


def test_structures_round_trip() -> None:
    info = S.UserSAInfo(_sel(), S.addr_bytes(b"\x0a\0\0\x02"), 0x12345678, 50, S.addr_bytes(b"\x0a\0\0\x01"),
                        S.LifetimeCfg(1, 2, 3, 4, 5, 6, 7, 8), S.LifetimeCur(9, 10, 11, 12), (1, 2, 3), 99, 7,
                        S.AF_INET, S.MODE_TUNNEL, 32, S.STATE_ESN)
    raw = info.pack()
    assert len(raw) == 224 and S.UserSAInfo.unpack(raw) == info
    assert raw[72:76] == b"\x12\x34\x56\x78"  # id.spi in network order
    assert raw[32:34] == struct.pack(">H", 443)  # sel.dport in network order
    pol = S.UserPolicyInfo(_sel(), S.LifetimeCfg(), S.LifetimeCur(1, 2, 3, 4), 0x80000000, 17, 1, 1, 2, 0)
    assert S.UserPolicyInfo.unpack(pol.pack()) == pol
    tmpl = S.UserTmpl(S.addr_bytes(b"\1\2\3\4"), 0, 50, S.AF_INET, S.addr_bytes(b"\4\3\2\1"), 5, 1, 0, 1, 7, 8, 9)
    assert S.UserTmpl.unpack_all(tmpl.pack() * 2) == (tmpl, tmpl)
    acq = S.UserAcquire(S.addr_bytes(b"\1\2\3\4"), 0, 50, S.addr_bytes(b"\4\3\2\1"), _sel(), pol, 1, 2, 3, 77)
    assert len(acq.pack()) == 280 and S.UserAcquire.unpack(acq.pack()) == acq
    sid = S.UserSAId(S.addr_bytes(b"\1\2\3\4"), 0x1000, S.AF_INET, 51)
    assert S.UserSAId.unpack(sid.pack()) == sid
    assert S.EncapTmpl.unpack(S.EncapTmpl(2, 4500, 4501).pack()) == S.EncapTmpl(2, 4500, 4501)
    algo = S.Algo("hmac(sha256)", 256, bytes(range(32)), 128)
    assert S.Algo.unpack(algo.pack(), with_extra=True) == algo


def test_netlink_framing_and_bad_lengths() -> None:
    a = nl.encode_msg(S.NEWSA, nl.NLM_F_REQUEST, 3, 4, b"\1\2\3")
    b = nl.encode_msg(nl.NLMSG_DONE, nl.NLM_F_MULTI, 3, 4, b"\0\0\0\0")
    got = list(nl.split_msgs(a + b))
    assert [(m.type, m.seq, m.pid, m.payload) for m in got] == [(S.NEWSA, 3, 4, b"\1\2\3"),
                                                                  (nl.NLMSG_DONE, 3, 4, b"\0\0\0\0")]
    with pytest.raises(nl.NetlinkError) as exc:
        list(nl.split_msgs(a + nl.NLMSGHDR.pack(100, S.NEWSA, 0, 0, 0) + bytes(4)))
    assert exc.value.offset == 20
    attrs = nl.encode_attr(1, b"abc") + nl.encode_attr(0x4000 | 5, b"defg")
    assert nl.parse_attrs(attrs) == {1: b"abc", 5: b"defg"}
    with pytest.raises(nl.NetlinkError):
        nl.parse_attrs(attrs + b"\x40\0\1\0")
    ack = struct.pack("=i", -errno.EEXIST) + nl.NLMSGHDR.pack(16, S.NEWSA, 5, 9, 1)
    assert nl.ack_errno(ack) == errno.EEXIST and nl.acked_seq(ack) == 9


# ------------------------------------------------------------------------------- differential vs the sim
def _sim_reply(msg: Message) -> Message:
    k = SimKernel(clock=lambda: NOW, seed=1)
    sid = k.open_socket()
    out = [decode(d, LINUX) for s, d in k.handle(sid, msg.encode(LINUX), NOW) if s == sid]
    return out[-1]


def _as_reported(req: X.XfrmRequest, *, index: int = 0) -> tuple[int, bytes]:
    """What xfrm_user multicasts for an accepted NEWSA/NEWPOLICY: the stored entry as it reports it."""
    if req.nl_type in (S.NEWSA, S.UPDSA):
        info = S.UserSAInfo.unpack(req.payload)
        attrs = nl.parse_attrs(req.payload, 224)
        extra = b""
        if S.XFRMA_ALG_AUTH in attrs:  # the kernel adds the truncation af_key's table gives
            a = S.Algo.unpack(attrs[S.XFRMA_ALG_AUTH])
            trunc = P.algs.default_trunc(a.name) or 0
            extra = nl.encode_attr(S.XFRMA_ALG_AUTH_TRUNC, a._replace(extra=trunc).pack())
        info = info._replace(curlft=S.LifetimeCur(add_time=NOW), replay_window=min(info.replay_window, 32))
        return req.nl_type, info.pack() + req.payload[224:] + extra
    info_p = S.UserPolicyInfo.unpack(req.payload)._replace(idx=index, curlft=S.LifetimeCur(add_time=NOW))
    return req.nl_type, info_p.pack() + req.payload[168:]


SA_CASES = [
    "add 10.0.0.1 10.0.0.2 esp 0x1003 -m tunnel -u 5 -E aes-cbc 0x" + "22" * 32 + " -A hmac-sha256 0x" + "33" * 32
    + ";",
    "add 10.0.0.2 10.0.0.1 ah 0x2000 -A hmac-sha1 0x" + "11" * 20 + ";",
    "add 10.0.0.2 10.0.0.1 esp 0x2001 -lh 100 -ls 50 -bh 1000 -bs 500 -E 3des-cbc 0x" + "44" * 24 + ";",
    "add fc00::1 fc00::2 esp 0x3000 -m transport -E aes-ctr 0x" + "55" * 20 + " -A hmac-sha512 0x" + "66" * 64
    + ";",
    "add 10.0.0.1 10.0.0.2 ipcomp 0x4000 -C deflate;",
    "add 10.0.0.1 10.0.0.2 esp-udp 0x5000 -m tunnel -E null -A hmac-md5 0x" + "77" * 16 + ";",
    "add -4n 192.0.2.1[4500] 192.0.2.2[4501] esp-udp 0x5001 -E aes-cbc 0x" + "88" * 16 + ";",
]


@pytest.mark.parametrize("text", SA_CASES, ids=[t.split(" 0x")[0] for t in SA_CASES])
def test_sa_add_translates_back_to_what_af_key_sends(text: str) -> None:
    msg = _msgs(text)[0]
    req = X.translate(msg, _no_reqid)
    assert req.nl_type == S.NEWSA and req.reply == X.REPLY_ACK
    nl_type, payload = _as_reported(req)
    outs = Translator(lambda: NOW, shared=False).event(nl_type, msg.seq, msg.pid, payload)
    assert [o.target for o in outs] == [ALL]
    assert outs[0].message == _sim_reply(msg)


POLICY_CASES = [
    "spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;",
    "spdadd 10.2.0.0/24[80] 10.1.0.0/24[any] tcp -P in ipsec ah/transport//use esp/transport//unique:7;",
    "spdadd fc00:1::/64 fc00:2::/64 icmp6 -P out prio 10 discard;",
    "spdadd 10.3.0.1 10.3.0.2 any -P fwd none;",
    "spdadd 10.3.0.1 10.3.0.2 any -P out ipsec ipcomp/transport//use esp/transport//require;",
]


@pytest.mark.parametrize("text", POLICY_CASES, ids=[f"p{i}" for i in range(len(POLICY_CASES))])
def test_spdadd_translates_back_to_what_af_key_sends(text: str) -> None:
    msg = _msgs(text)[0]
    expected = _sim_reply(msg)
    pol = expected.get(ExtType.X_POLICY)
    assert isinstance(pol, PolicyExt)
    req = X.translate(msg, _no_reqid)
    nl_type, payload = _as_reported(req, index=pol.id)
    outs = Translator(lambda: NOW, shared=False).event(nl_type, msg.seq, msg.pid, payload)
    assert [o.message for o in outs] == [expected]


def test_unique_without_reqid_asks_for_an_automatic_one() -> None:
    msg = _msgs("spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/transport//unique;")[0]
    req = X.translate(msg, lambda: 0x4001)
    tmpl, = S.UserTmpl.unpack_all(nl.parse_attrs(req.payload, 168)[S.XFRMA_TMPL])
    assert tmpl.reqid == 0x4001 and tmpl.optional == 0
    with pytest.raises(X.PfkeyError) as exc:
        X.translate(msg, lambda: 0)
    assert exc.value.errno == errno.ENOBUFS


# ------------------------------------------------------------------------------------------ af_key's errors
def _err(msg: Message) -> int:
    with pytest.raises(X.PfkeyError) as exc:
        X.translate(msg, lambda: 0x4000)
    return exc.value.errno


def test_requests_af_key_refuses_get_its_errno() -> None:
    add = _msgs("add 10.0.0.1 10.0.0.2 esp 0x1003 -E aes-cbc 0x" + "22" * 16 + ";")[0]
    assert _err(add.without(ExtType.KEY_ENCRYPT)) == errno.EINVAL
    assert _err(add._replace(extensions=add.extensions + (add.get(ExtType.SA),))) == errno.EINVAL  # twice
    sa = add.get(ExtType.SA)
    assert isinstance(sa, SAExt)
    assert _err(add.with_ext(sa._replace(encrypt=EncAlg.AES_GCM_ICV16))) == errno.ENOSYS
    assert _err(add._replace(satype=SAType.UNSPEC)) == errno.EINVAL
    assert _err(add.with_ext(LifetimeExt(ExtType.LIFETIME_HARD, 1))) == errno.EINVAL  # hard without soft
    spd = _msgs("spdadd 10.1.0.0/24 10.2.0.0/24 any -P out discard;")[0]
    pol = spd.get(ExtType.X_POLICY)
    assert isinstance(pol, PolicyExt)
    assert _err(spd.with_ext(pol._replace(dir=0))) == errno.EINVAL
    assert _err(spd.with_ext(pol._replace(policy_type=PolicyType.BYPASS))) == errno.EINVAL
    assert _err(Message(MsgType.X_SPDGET, extensions=(pol._replace(id=0x1003),))) == errno.EINVAL
    assert _err(header_only(MsgType.X_MIGRATE)) == errno.ENOPROTOOPT
    assert _err(header_only(MsgType.EXPIRE)) == errno.EOPNOTSUPP
    assert _err(header_only(MsgType.FLUSH, 5)) == errno.EINVAL


def test_error_reply_is_the_request_header_with_errno() -> None:
    req = _msgs("add 10.0.0.1 10.0.0.2 esp 0x1003 -E aes-cbc 0x" + "22" * 16 + ";")[0].encode(LINUX)
    reply = decode(X.error_reply(req, errno.EEXIST), LINUX)
    assert (reply.type, reply.satype, reply.seq, reply.pid, reply.errno, reply.extensions) == (
        MsgType.ADD, SAType.ESP, 5, 4242, errno.EEXIST, ())
    assert decode(X.error_reply(req, 600), LINUX).errno == errno.EINVAL
    assert decode(X.error_reply(req, 512), LINUX).errno == errno.EINTR


# ----------------------------------------------------------------------------- what PF_KEY cannot say
def _state(attrs: bytes, **kw: object) -> bytes:
    info = S.UserSAInfo(S.Selector(family=S.AF_INET), S.addr_bytes(b"\x0a\0\0\x02"), 0x6000, 50,
                        S.addr_bytes(b"\x0a\0\0\x01"), curlft=S.LifetimeCur(add_time=NOW - 10), **kw)  # type: ignore[arg-type]
    return info.pack() + attrs


def test_an_aead_sa_is_shown_as_af_key_shows_it_and_said_to_be_inexpressible() -> None:
    aead = nl.encode_attr(S.XFRMA_ALG_AEAD, S.Algo("rfc4106(gcm(aes))", 160, bytes(20), 128).pack())
    esn = nl.encode_attr(S.XFRMA_REPLAY_ESN_VAL, struct.pack("=6I", 4, 0, 0, 0, 0, 128) + bytes(16))
    mark = nl.encode_attr(S.XFRMA_MARK, S.pack_mark(7, 0xFF))
    tr = Translator(lambda: NOW, shared=False)
    out, = tr.event(S.NEWSA, 1, 2, _state(aead + esn + mark, flags=S.STATE_ESN))
    m = out.message
    sa = m.get(ExtType.SA)
    assert isinstance(sa, SAExt) and (sa.auth, sa.encrypt, sa.state) == (0, 0, SAState.MATURE)
    assert ExtType.KEY_ENCRYPT not in m and ExtType.KEY_AUTH not in m
    notes = tr.notes_for(m)
    assert notes is not None
    text = "\n".join(notes.text())
    assert "not expressible in PF_KEY: AEAD rfc4106(gcm(aes))" in text
    assert "aead rfc4106(gcm(aes)) key 160 bits icv 128 bits" in text
    assert "replay-esn window 128" in text and "flag esn" in text and "mark 0x7/0xff" in text


def test_a_truncation_other_than_af_keys_and_a_full_selector_are_noted() -> None:
    trunc = nl.encode_attr(S.XFRMA_ALG_AUTH_TRUNC, S.Algo("hmac(sha256)", 256, bytes(32), 128).pack())
    crypt = nl.encode_attr(S.XFRMA_ALG_CRYPT, S.Algo("cbc(aes)", 128, bytes(16)).pack())
    sel = S.Selector(S.addr_bytes(b"\x0a\0\0\x02"), S.addr_bytes(b"\x0a\0\0\x01"), family=S.AF_INET,
                     prefixlen_d=32, prefixlen_s=32)
    tr = Translator(lambda: NOW, shared=False)
    payload = S.UserSAInfo(sel, S.addr_bytes(b"\x0a\0\0\x02"), 0x6001, 50, S.addr_bytes(b"\x0a\0\0\x01")).pack()
    out, = tr.event(S.NEWSA, 1, 2, payload + trunc + crypt)
    sa = out.message.get(ExtType.SA)
    assert isinstance(sa, SAExt) and (sa.auth, sa.encrypt) == (5, EncAlg.AESCBC)
    assert ExtType.ADDRESS_PROXY not in out.message  # the selector's source is the SA's: af_key shows none
    notes = tr.notes_for(out.message)
    assert notes is not None and notes.inexpressible is None
    assert notes.lines == (("auth-trunc", "hmac(sha256) 128 bits (PF_KEY implies 96)"),
                           ("sel", "src 10.0.0.1/32 dst 10.0.0.2/32"))
    plain = tr.event(S.NEWSA, 1, 2, _state(crypt))[0].message
    assert tr.notes_for(plain) is None


def test_states_xfrm_does_not_name_are_derived() -> None:
    tr = Translator(lambda: NOW, shared=False)
    crypt = nl.encode_attr(S.XFRMA_ALG_CRYPT, S.Algo("cbc(aes)", 128, bytes(16)).pack())

    def state(payload: bytes) -> int:
        sa = tr.event(S.NEWSA, 0, 0, payload)[0].message.get(ExtType.SA)
        assert isinstance(sa, SAExt)
        return sa.state

    assert state(_state(b"")) == SAState.LARVAL  # no algorithm at all: an acquire state
    assert state(_state(crypt)) == SAState.MATURE
    assert state(_state(crypt, lft=S.LifetimeCfg(soft_add_expires_seconds=5))) == SAState.DYING
    assert state(_state(crypt, lft=S.LifetimeCfg(soft_add_expires_seconds=50))) == SAState.MATURE
    assert state(_state(crypt, lft=S.LifetimeCfg(soft_packet_limit=3),
                        )) == SAState.MATURE
    assert state(S.UserSAInfo.unpack(_state(crypt))._replace(
        lft=S.LifetimeCfg(soft_byte_limit=100), curlft=S.LifetimeCur(bytes=100)).pack() + crypt) == SAState.DYING


def test_expire_keeps_the_algorithm_ids_seen_before() -> None:
    tr = Translator(lambda: NOW, shared=False)
    crypt = nl.encode_attr(S.XFRMA_ALG_CRYPT, S.Algo("cbc(aes)", 128, bytes(16)).pack())
    tr.event(S.NEWSA, 0, 0, _state(crypt))
    info = S.UserSAInfo.unpack(_state(b""))
    out, = tr.event(S.EXPIRE, 0, 0, S.pack_user_expire(info, hard=False))
    assert out.target == REGISTERED
    m = out.message
    sa = m.get(ExtType.SA)
    assert isinstance(sa, SAExt) and (sa.encrypt, sa.state) == (EncAlg.AESCBC, SAState.DYING)
    assert [e.ext_type for e in m.extensions] == [ExtType.SA, ExtType.LIFETIME_SOFT, ExtType.LIFETIME_CURRENT,
                                                  ExtType.ADDRESS_SRC, ExtType.ADDRESS_DST, ExtType.ADDRESS_PROXY,
                                                  ExtType.X_SA2]
    assert ExtType.KEY_ENCRYPT not in m


def test_acquire_proposal_follows_the_template_masks() -> None:
    pol = S.UserPolicyInfo(S.Selector(family=S.AF_INET), idx=9, dir=S.POLICY_OUT, priority=3)
    ua = S.UserAcquire(S.addr_bytes(b"\x0a\0\0\x02"), 0, 50, S.addr_bytes(b"\x0a\0\0\x01"),
                       S.Selector(family=S.AF_INET), pol, 0, 0, 0, 33)
    tmpl = S.UserTmpl(bytes(16), 0, 50, S.AF_INET, bytes(16), aalgos=1 << 3, ealgos=1 << EncAlg.AESCBC)
    out, = Translator(shared=False).event(S.ACQUIRE, 0, 0, ua.pack() + nl.encode_attr(S.XFRMA_TMPL, tmpl.pack()))
    m = out.message
    assert (m.type, m.satype, m.seq, m.pid, out.target) == (MsgType.ACQUIRE, SAType.ESP, 33, 0, REGISTERED)
    p = m.get(ExtType.X_POLICY)
    assert isinstance(p, PolicyExt) and (p.id, p.dir, p.priority) == (9, 2, 3)
    prop = m.get(ExtType.PROPOSAL)
    assert prop is not None and [(c.auth, c.encrypt) for c in prop.combs] == [(3, EncAlg.AESCBC)]  # type: ignore[union-attr]


@pytest.mark.parametrize("text", SA_CASES, ids=[t.split(" 0x")[0] for t in SA_CASES])
def test_fast_state_encoding_equals_the_message_path(text: str) -> None:
    _t, payload = _as_reported(X.translate(_msgs(text)[0], _no_reqid))
    variants = [payload, payload[:224]]  # as added, and as a larval state (no algorithm)
    aead = nl.encode_attr(S.XFRMA_ALG_AEAD, S.Algo("rfc4106(gcm(aes))", 160, bytes(20), 128).pack())
    variants.append(payload[:224] + aead)
    info0 = S.UserSAInfo.unpack(payload)
    variants.append(info0._replace(sel=info0.sel._replace(saddr=info0.saddr, prefixlen_s=32, sport=9)).pack()
                    + payload[224:])
    for raw in variants:
        info, attrs = S.UserSAInfo.unpack(raw), nl.parse_attrs(raw, 224)
        for state in (SAState.LARVAL, SAState.MATURE, SAState.DYING):
            want = P.state_message(info, attrs, MsgType.DUMP, seq=7, pid=99, state=state).encode(LINUX)
            got, _a, _e = P.state_bytes(info, attrs, MsgType.DUMP, seq=7, pid=99, state=state)
            assert got == want


def test_remembered_algorithms_serve_only_expires() -> None:
    """A larval SA that reuses the key of an SA seen before must not borrow its algorithms."""
    tr = Translator(lambda: NOW, shared=False)
    crypt = nl.encode_attr(S.XFRMA_ALG_CRYPT, S.Algo("cbc(aes)", 128, bytes(16)).pack())
    tr.event(S.NEWSA, 0, 0, _state(crypt))
    larval = tr.event(S.NEWSA, 0, 0, _state(b""))[0].message.get(ExtType.SA)
    assert isinstance(larval, SAExt) and (larval.encrypt, larval.state) == (0, SAState.LARVAL)
    info = S.UserSAInfo.unpack(_state(b""))
    data = tr.state_bytes(info, {}, MsgType.DUMP, seq=1, pid=2)
    assert data is not None and decode(data, LINUX).get(ExtType.SA).encrypt == 0  # type: ignore[union-attr]


def test_nat_t_mapping_becomes_new_mapping() -> None:
    assert S.SIZES["xfrm_user_mapping"] == 64
    um = S.UserMapping(S.addr_bytes(b"\x0a\0\0\x02"), 0x7000, S.AF_INET, 50, 3, S.addr_bytes(b"\xc0\0\2\1"),
                       S.addr_bytes(b"\xc0\0\2\x09"), 4500, 31000)
    assert S.UserMapping.unpack(um.pack()) == um
    out, = Translator(shared=False).event(S.MAPPING, 0, 0, um.pack())
    m = out.message
    assert (m.type, m.satype, out.target) == (MsgType.X_NAT_T_NEW_MAPPING, SAType.ESP, REGISTERED)
    assert [e.ext_type for e in m.extensions] == [ExtType.SA, ExtType.ADDRESS_SRC, ExtType.X_NAT_T_SPORT,
                                                  ExtType.ADDRESS_DST, ExtType.X_NAT_T_DPORT]
    assert m.get(ExtType.X_NAT_T_DPORT).port == 31000  # type: ignore[union-attr]
    assert decode(m.encode(LINUX), LINUX) == m


@pytest.mark.parametrize("text", POLICY_CASES, ids=[f"p{i}" for i in range(len(POLICY_CASES))])
def test_fast_policy_encoding_equals_the_message_path(text: str) -> None:
    _t, payload = _as_reported(X.translate(_msgs(text)[0], lambda: 0x4000), index=17)
    info, attrs = S.UserPolicyInfo.unpack(payload), nl.parse_attrs(payload, 168)
    templates = S.UserTmpl.unpack_all(attrs.get(S.XFRMA_TMPL, b""))
    for refcnt in (1, 2, 3):
        want = P.policy_message(info, templates, attrs, MsgType.X_SPDDUMP, seq=3, pid=5, refcnt=refcnt)
        assert P.policy_bytes(info, templates, attrs, MsgType.X_SPDDUMP, seq=3, pid=5, refcnt=refcnt) == \
            want.encode(LINUX)
