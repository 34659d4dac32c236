"""The simulated kernel's core: every message type, the errnos, who receives what, expiry, acquire."""

from __future__ import annotations

import errno

import pytest
from sim_build import (
    PID,
    for_socket,
    getspi_msg,
    header,
    lookup_msg,
    policy_msg,
    sa_msg,
    send,
)

from setkey_tui.kernel.sim.kernel import Refused, SimKernel
from setkey_tui.packet import MAX_PACKET_SIZE, Packet
from setkey_tui.pfkey.constants import (
    AuthAlg,
    CompAlg,
    Direction,
    EncAlg,
    ExtType,
    Level,
    Mode,
    MsgType,
    PolicyType,
    SAState,
    SAType,
)
from setkey_tui.pfkey.extensions import AddressExt, IpsecRequest, LifetimeExt, PolicyExt, ProposalExt, SAExt
from setkey_tui.pfkey.message import Message, header_only
from setkey_tui.pfkey.platform import LINUX

T0 = 1_700_000_000


@pytest.fixture
def k() -> SimKernel:
    return SimKernel(clock=lambda: T0, seed=1)


def two(k: SimKernel) -> tuple[int, int]:
    return k.open_socket(), k.open_socket()


def err_of(msgs: list[Message]) -> int:
    assert len(msgs) == 1 and not msgs[0].extensions
    return msgs[0].errno


# ------------------------------------------------------------------------------------------------ delivery
def test_add_is_broadcast_to_all_with_keys_and_linux_layout(k: SimKernel) -> None:
    a, b = two(k)
    out = send(k, a, sa_msg(replay=64))
    ma, mb = for_socket(out, a), for_socket(out, b)
    assert ma == mb and len(ma) == 1
    m = ma[0]
    assert (m.type, m.satype, m.pid, m.errno) == (MsgType.ADD, SAType.ESP, PID, 0)
    assert [e.ext_type for e in m.extensions] == [1, 3, 4, 2, 5, 6, 7, 8, 9, 19]
    sa = m.get(ExtType.SA)
    assert isinstance(sa, SAExt)
    assert (sa.state, sa.flags, sa.replay) == (SAState.MATURE, 0, 32)  # flags not kept, replay capped
    src = m.get(ExtType.ADDRESS_SRC)
    assert isinstance(src, AddressExt) and (src.proto, src.prefixlen, src.sockaddr.port) == (0, 32, 0)
    proxy = m.get(ExtType.ADDRESS_PROXY)
    assert isinstance(proxy, AddressExt) and (proxy.proto, proxy.prefixlen) == (255, 0)
    assert m.get(ExtType.X_SA2).mode == Mode.TRANSPORT  # -m any is stored as transport


def test_promiscuous_socket_sees_requests_once_and_broadcasts_twice(k: SimKernel) -> None:
    mon, me = two(k)
    echo = for_socket(send(k, mon, header(MsgType.X_PROMISC, 1)), mon)
    assert [m.type for m in echo] == [MsgType.X_PROMISC] * 2  # promisc copy + ALL copy of its own echo
    out = send(k, me, sa_msg())
    seen = for_socket(out, mon)
    assert [m.type for m in seen] == [MsgType.ADD] * 3
    assert seen[0].get(ExtType.SA).state == SAState.LARVAL  # the request itself (setkey sends state 0)
    assert seen[1] == seen[2]
    # errors go to the sender only, plus a promiscuous copy
    out = send(k, me, sa_msg())
    assert err_of(for_socket(out, me)) == errno.EEXIST
    assert [m.errno for m in for_socket(out, mon)] == [0, errno.EEXIST]


def test_promisc_off_and_bad_value(k: SimKernel) -> None:
    a = k.open_socket()
    send(k, a, header(MsgType.X_PROMISC, 1))
    assert k.sockets[a].promisc
    send(k, a, header(MsgType.X_PROMISC, 0))
    assert not k.sockets[a].promisc
    assert err_of(for_socket(send(k, a, header(MsgType.X_PROMISC, 2)), a)) == errno.EINVAL


def test_register_answers_requester_and_registered_only(k: SimKernel) -> None:
    a, b, c = k.open_socket(), k.open_socket(), k.open_socket()
    send(k, b, header(MsgType.REGISTER, SAType.ESP))
    out = send(k, a, header(MsgType.REGISTER, 0))
    assert for_socket(out, c) == []
    ra, rb = for_socket(out, a), for_socket(out, b)
    assert ra == rb and len(ra) == 1
    auth, enc = ra[0].get(ExtType.SUPPORTED_AUTH), ra[0].get(ExtType.SUPPORTED_ENCRYPT)
    assert [x.id for x in auth.algs][:3] == [AuthAlg.X_NULL, AuthAlg.MD5HMAC, AuthAlg.SHA1HMAC]
    assert EncAlg.AESCTR in [x.id for x in enc.algs]
    assert err_of(for_socket(send(k, b, header(MsgType.REGISTER, SAType.ESP)), b)) == errno.EEXIST
    assert err_of(for_socket(send(k, b, header(MsgType.REGISTER, 10)), b)) == errno.EINVAL


def test_flush_sends_one_then_all_and_only_one_when_empty(k: SimKernel) -> None:
    a, b = two(k)
    out = send(k, a, header(MsgType.FLUSH))
    assert [m.type for m in for_socket(out, a)] == [MsgType.FLUSH]
    assert for_socket(out, b) == []
    send(k, a, sa_msg())
    out = send(k, a, header(MsgType.FLUSH, SAType.ESP))
    assert [m.type for m in for_socket(out, a)] == [MsgType.FLUSH, MsgType.FLUSH]
    assert [m.type for m in for_socket(out, b)] == [MsgType.FLUSH]
    assert err_of(for_socket(send(k, a, header(MsgType.DUMP)), a)) == errno.ENOENT


def test_flush_per_satype(k: SimKernel) -> None:
    a = k.open_socket()
    send(k, a, sa_msg(spi=0x101))
    send(k, a, sa_msg(spi=0x102, satype=SAType.AH, enc=0, enc_key=None))
    send(k, a, sa_msg(spi=0x103, satype=SAType.IPCOMP, enc=CompAlg.DEFLATE, enc_key=None, auth_key=None))
    send(k, a, header(MsgType.FLUSH, SAType.AH))
    left = for_socket(send(k, a, header(MsgType.DUMP)), a)
    assert sorted(m.satype for m in left) == [SAType.ESP, SAType.IPCOMP]
    assert err_of(for_socket(send(k, a, header(MsgType.FLUSH, 7)), a)) == errno.EINVAL


# ------------------------------------------------------------------------------------------------- SAD ops
def test_dump_is_newest_first_with_linux_seq_numbers(k: SimKernel) -> None:
    a, b = two(k)
    for spi in (0x201, 0x202, 0x203):
        send(k, a, sa_msg(spi=spi))
    out = send(k, a, header(MsgType.DUMP))
    assert for_socket(out, b) == []
    got = for_socket(out, a)
    assert [m.seq for m in got] == [1, 2, 0]
    assert [m.get(ExtType.SA).spi for m in got] == [0x203, 0x202, 0x201]
    assert {m.pid for m in got} == {PID}
    only_ah = for_socket(send(k, a, header(MsgType.DUMP, SAType.AH)), a)
    assert err_of(only_ah) == errno.ENOENT


def test_get_delete_and_their_errors(k: SimKernel) -> None:
    a, b = two(k)
    send(k, a, sa_msg(spi=0x300))
    out = send(k, a, lookup_msg(MsgType.GET, 0x300))
    assert for_socket(out, b) == []
    got = for_socket(out, a)[0]
    assert got.type == MsgType.GET and got.get(ExtType.KEY_ENCRYPT) is not None
    assert err_of(for_socket(send(k, a, lookup_msg(MsgType.GET, 0x999)), a)) == errno.ESRCH
    out = send(k, a, lookup_msg(MsgType.DELETE, 0x300, src="192.0.2.9"))  # Linux ignores the source
    gone = for_socket(out, b)
    assert gone[0].type == MsgType.DELETE and gone[0].get(ExtType.SA).state == SAState.DEAD
    assert err_of(for_socket(send(k, a, lookup_msg(MsgType.DELETE, 0x300)), a)) == errno.ESRCH
    no_sa = Message(MsgType.DELETE, SAType.ESP, 0, PID, 0, lookup_msg(MsgType.DELETE, 1).extensions[1:])
    assert err_of(for_socket(send(k, a, no_sa), a)) == errno.EINVAL


@pytest.mark.parametrize(
    ("msg", "err"),
    [
        (sa_msg(enc_key=bytes(15)), errno.EINVAL),  # AES key of 120 bits
        (sa_msg(enc=EncAlg.DESCBC, enc_key=bytes(7)), errno.EINVAL),
        (sa_msg(enc=EncAlg.AES_GCM_ICV16, enc_key=bytes(20)), errno.ENOSYS),
        (sa_msg(satype=SAType.AH, enc=0, enc_key=None, auth=AuthAlg.X_NULL, auth_key=None), errno.EINVAL),
        (sa_msg(satype=SAType.AH, enc=0, enc_key=None, auth_key=None), errno.EINVAL),  # AH without a key
        (sa_msg(enc_key=None), errno.EINVAL),  # ESP without KEY_ENCRYPT
        (sa_msg(satype=SAType.IPCOMP, enc=CompAlg.LZS, enc_key=None, auth_key=None), errno.ENOSYS),
        (sa_msg(satype=SAType.IPCOMP, enc=CompAlg.LZJH, enc_key=None, auth_key=None), errno.ENOSYS),
        (sa_msg(satype=0), errno.EINVAL),
        (sa_msg(hard=LifetimeExt(ExtType.LIFETIME_HARD, addtime=100)), errno.EINVAL),  # hard without soft
        (sa_msg(soft=LifetimeExt(ExtType.LIFETIME_SOFT, byte_count=5)), errno.EINVAL),
        (sa_msg(mode=7), errno.EINVAL),
        (sa_msg(auth=AuthAlg.AES_XCBC_MAC, auth_key=bytes(10)), errno.EINVAL),
    ],
)
def test_add_errors(k: SimKernel, msg: Message, err: int) -> None:
    a = k.open_socket()
    assert err_of(for_socket(send(k, a, msg), a)) == err


def test_update_of_a_mature_sa_changes_lifetimes_only(k: SimKernel) -> None:
    a = k.open_socket()
    assert err_of(for_socket(send(k, a, sa_msg(MsgType.UPDATE, spi=0x400)), a)) == errno.ESRCH
    send(k, a, sa_msg(spi=0x400))
    hard = LifetimeExt(ExtType.LIFETIME_HARD, addtime=100)
    soft = LifetimeExt(ExtType.LIFETIME_SOFT, addtime=50)
    upd = sa_msg(MsgType.UPDATE, spi=0x400, enc_key=bytes(16), hard=hard, soft=soft)
    out = for_socket(send(k, a, upd), a)
    assert out[0].type == MsgType.UPDATE
    got = for_socket(send(k, a, lookup_msg(MsgType.GET, 0x400)), a)[0]
    assert got.get(ExtType.LIFETIME_HARD).addtime == 100
    assert got.get(ExtType.KEY_ENCRYPT).key == bytes(range(16))  # keys of a mature SA are kept


def test_getspi_larval_range_and_update(k: SimKernel) -> None:
    a = k.open_socket()
    got = for_socket(send(k, a, getspi_msg(lo=0x5000, hi=0x5000)), a)[0]
    sa = got.get(ExtType.SA)
    assert (got.type, sa.spi, sa.state) == (MsgType.GETSPI, 0x5000, SAState.LARVAL)
    assert got.get(ExtType.LIFETIME_HARD).addtime == 30
    assert err_of(for_socket(send(k, a, getspi_msg(lo=0x5000, hi=0x5000)), a)) == errno.ENOENT
    assert err_of(for_socket(send(k, a, getspi_msg(lo=9, hi=3)), a)) == errno.EINVAL
    spi = for_socket(send(k, a, getspi_msg(src="10.0.0.3")), a)[0].get(ExtType.SA).spi
    assert 0x100 <= spi <= 0x0FFFFFFF
    assert err_of(for_socket(send(k, a, sa_msg(spi=0x5000)), a)) == errno.EEXIST  # ADD over a larval SA
    upd = for_socket(send(k, a, sa_msg(MsgType.UPDATE, spi=0x5000)), a)[0]
    assert upd.get(ExtType.SA).state == SAState.MATURE
    states = {
        m.get(ExtType.SA).spi: m.get(ExtType.SA).state
        for m in for_socket(send(k, a, header(MsgType.DUMP)), a)
    }
    # as in Linux, the failed GETSPIs leave their (SPI-less) larval SA until it times out
    assert states == {0x5000: SAState.MATURE, spi: SAState.LARVAL, 0: SAState.LARVAL}


def test_larval_sa_times_out_with_a_hard_expire(k: SimKernel) -> None:
    a = k.open_socket()
    send(k, a, header(MsgType.REGISTER, SAType.ESP))
    send(k, a, getspi_msg())
    assert k.tick(T0 + 29) == []
    got = for_socket(k.tick(T0 + 30), a)
    assert [m.type for m in got] == [MsgType.EXPIRE]
    assert ExtType.LIFETIME_HARD in got[0]
    assert k.sas == {}


# ---------------------------------------------------------------------------------------------- expiry
def test_soft_then_hard_time_expiry_goes_to_registered_sockets(k: SimKernel) -> None:
    reg, other = two(k)
    send(k, reg, header(MsgType.REGISTER, SAType.ESP))
    hard = LifetimeExt(ExtType.LIFETIME_HARD, addtime=60)
    soft = LifetimeExt(ExtType.LIFETIME_SOFT, addtime=2)
    send(k, other, sa_msg(spi=0xA001, hard=hard, soft=soft), now=T0)
    assert k.tick(T0 + 1) == []
    out = k.tick(T0 + 2)
    assert for_socket(out, other) == []
    soft_msg = for_socket(out, reg)[0]
    assert (soft_msg.type, soft_msg.seq, soft_msg.pid) == (MsgType.EXPIRE, 0, 0)
    assert [e.ext_type for e in soft_msg.extensions] == [1, 4, 2, 5, 6, 7, 19]  # soft lifetime, no keys
    assert soft_msg.get(ExtType.SA).state == SAState.DYING
    dumped = for_socket(send(k, other, header(MsgType.DUMP), now=T0 + 3), other)
    assert dumped[0].get(ExtType.SA).state == SAState.DYING
    hard_msg = for_socket(k.tick(T0 + 60), reg)[0]
    assert ExtType.LIFETIME_HARD in hard_msg and hard_msg.get(ExtType.SA).state == SAState.DEAD
    assert k.sas == {}


def test_byte_and_packet_lifetimes_fire_on_traffic(k: SimKernel) -> None:
    reg = k.open_socket()
    send(k, reg, header(MsgType.REGISTER, SAType.ESP))
    hard = LifetimeExt(ExtType.LIFETIME_HARD, allocations=3)
    soft = LifetimeExt(ExtType.LIFETIME_SOFT, byte_count=100)
    send(k, reg, sa_msg(spi=0xB001, src="10.1.0.1", dst="10.2.0.1", hard=hard, soft=soft))
    send(k, reg, policy_msg())
    verdicts, expires = [], []
    for _ in range(4):
        r = k.simulate_traffic(Packet.parse("10.1.0.1", "10.2.0.1", 6, size=80))
        verdicts.append(r.verdict)
        expires += [m for m in for_socket(r.deliveries, reg) if m.type == MsgType.EXPIRE]
    assert verdicts[:3] == ["protected"] * 3 and verdicts[3] == "expired"
    assert [ExtType.LIFETIME_SOFT in m for m in expires] == [True, False]
    cur = expires[0].get(ExtType.LIFETIME_CURRENT)
    assert (cur.allocations, cur.bytes) == (2, 160) and cur.usetime == T0


# ---------------------------------------------------------------------------------------------- acquire
def test_acquire_when_a_require_policy_has_no_sa(k: SimKernel) -> None:
    reg, other = two(k)
    send(k, reg, header(MsgType.REGISTER, SAType.ESP))
    pol = for_socket(send(k, other, policy_msg()), other)[0].get(ExtType.X_POLICY)
    r = k.simulate_traffic(Packet.parse("10.1.0.5", "10.2.0.9", 6))
    assert (r.verdict, r.acquires, r.policy_id) == ("acquire", 1, pol.id)
    assert for_socket(r.deliveries, other) == []
    acq = for_socket(r.deliveries, reg)[0]
    assert (acq.type, acq.satype, acq.pid) == (MsgType.ACQUIRE, SAType.ESP, 0) and acq.seq > 0
    assert [e.ext_type for e in acq.extensions] == [5, 6, 18, 13]
    ppol = acq.get(ExtType.X_POLICY)
    assert (ppol.dir, ppol.id) == (Direction.OUTBOUND, pol.id)
    prop = acq.get(ExtType.PROPOSAL)
    assert isinstance(prop, ProposalExt) and prop.replay == 32 and len(prop.combs) == 70
    assert prop.combs[0].hard_addtime == 86400
    again = k.simulate_traffic(Packet.parse("10.1.0.5", "10.2.0.9", 6))
    assert again.acquires == 0 and for_socket(again.deliveries, reg) == []  # one acquire per larval SA
    # the key manager answers with GETSPI (by the acquire's seq) and UPDATE
    spi = (
        for_socket(send(k, reg, getspi_msg("10.1.0.5", "10.2.0.9", seq=acq.seq)), reg)[0].get(ExtType.SA).spi
    )
    send(k, reg, sa_msg(MsgType.UPDATE, spi=spi, src="10.1.0.5", dst="10.2.0.9"))
    ok = k.simulate_traffic(Packet.parse("10.1.0.5", "10.2.0.9", 6))
    assert (ok.verdict, ok.sa_spis) == ("protected", (spi,))


def test_traffic_verdicts_without_ipsec(k: SimKernel) -> None:
    a = k.open_socket()
    assert k.simulate_traffic(Packet.parse("10.9.0.1", "10.9.0.2")).verdict == "no-policy"
    send(k, a, policy_msg(ptype=PolicyType.DISCARD))
    assert k.simulate_traffic(Packet.parse("10.1.0.1", "10.2.0.1")).verdict == "discard"
    send(k, a, policy_msg(src="10.1.0.0", prefix=16, ptype=PolicyType.NONE, priority=0x40000000))
    assert k.simulate_traffic(Packet.parse("10.1.0.1", "10.2.0.1")).verdict == "bypass"  # higher priority wins
    before = k.simulate_traffic(Packet.parse("10.1.0.1", "10.2.0.1", size=MAX_PACKET_SIZE))
    assert before.verdict == "bypass" and not before.deliveries


def test_negative_acquire_reply_removes_the_larval_sa(k: SimKernel) -> None:
    reg = k.open_socket()
    send(k, reg, header(MsgType.REGISTER, SAType.ESP))
    send(k, reg, policy_msg())
    acq = for_socket(k.simulate_traffic(Packet.parse("10.1.0.5", "10.2.0.9")).deliveries, reg)[0]
    out = send(k, reg, header_only(MsgType.ACQUIRE, SAType.ESP, seq=acq.seq, pid=PID, errno=errno.ENOENT))
    assert for_socket(out, reg) == [] and k.sas == {}


# ------------------------------------------------------------------------------------------------- SPD
def test_spdadd_layout_ids_and_refcounts(k: SimKernel) -> None:
    a = k.open_socket()
    m = for_socket(send(k, a, policy_msg()), a)[0]
    assert (m.type, m.reserved, m.pid) == (MsgType.X_SPDADD, 3, PID)
    assert [e.ext_type for e in m.extensions] == [5, 6, 3, 4, 2, 18]
    pol = m.get(ExtType.X_POLICY)
    assert pol.id % 8 == Direction.OUTBOUND - 1
    m_in = for_socket(send(k, a, policy_msg(direction=Direction.INBOUND)), a)[0]
    assert m_in.get(ExtType.X_POLICY).id % 8 == 0
    m_fwd = for_socket(send(k, a, policy_msg(direction=Direction.FWD)), a)[0]
    assert m_fwd.get(ExtType.X_POLICY).id % 8 == 2
    assert err_of(for_socket(send(k, a, policy_msg()), a)) == errno.EEXIST
    dump = for_socket(send(k, a, header(MsgType.X_SPDDUMP)), a)
    assert [d.seq for d in dump] == [1, 2, 0] and {d.reserved for d in dump} == {2}
    assert [d.get(ExtType.X_POLICY).dir for d in dump] == [3, 1, 2]  # newest first


@pytest.mark.parametrize(
    ("level", "reqid", "want_level", "want_reqid"),
    [
        (Level.DEFAULT, 0, Level.REQUIRE, 0),
        (Level.USE, 0, Level.USE, 0),
        (Level.REQUIRE, 9, Level.REQUIRE, 0),
        (Level.UNIQUE, 7, Level.UNIQUE, 7),
        (Level.UNIQUE, 0, Level.UNIQUE, 0x4000),
    ],
)
def test_request_levels_as_linux_stores_them(
    k: SimKernel, level: int, reqid: int, want_level: int, want_reqid: int
) -> None:
    a = k.open_socket()
    req = IpsecRequest(50, Mode.TRANSPORT, level, reqid)
    got = for_socket(send(k, a, policy_msg(requests=(req,))), a)[0].get(ExtType.X_POLICY).requests[0]
    assert (got.level, got.reqid) == (want_level, want_reqid)


def test_policy_type_and_request_errors(k: SimKernel) -> None:
    a = k.open_socket()
    for bad in (
        policy_msg(ptype=PolicyType.BYPASS),
        policy_msg(direction=0),
        policy_msg(direction=Direction.MAX),
        policy_msg(requests=(IpsecRequest(50, 0, Level.REQUIRE),)),
        policy_msg(requests=(IpsecRequest(99, Mode.TRANSPORT, Level.REQUIRE),)),
        # an optional tunnel template in an outbound policy
        policy_msg(requests=(IpsecRequest(108, Mode.TUNNEL, Level.USE, 0, None, None),)),
    ):
        assert err_of(for_socket(send(k, a, bad), a)) == errno.EINVAL
    empty_ipsec = for_socket(send(k, a, policy_msg(requests=())), a)[0]
    assert empty_ipsec.get(ExtType.X_POLICY).policy_type == PolicyType.NONE


def test_spdupdate_spddelete_spdget_spddelete2_spdflush(k: SimKernel) -> None:
    a, b = two(k)
    up = for_socket(send(k, a, policy_msg(MsgType.X_SPDUPDATE, ptype=PolicyType.NONE)), b)[0]
    assert up.type == MsgType.X_SPDUPDATE
    pid_ = up.get(ExtType.X_POLICY).id
    up2 = for_socket(send(k, a, policy_msg(MsgType.X_SPDUPDATE)), a)[0]
    assert up2.get(ExtType.X_POLICY).id == pid_ and up2.get(ExtType.X_POLICY).policy_type == PolicyType.IPSEC
    get = Message(MsgType.X_SPDGET, 0, 0, PID, 0, (PolicyExt(0, 0, pid_),))
    got = send(k, a, get)
    assert for_socket(got, b) == [] and for_socket(got, a)[0].type == MsgType.X_SPDGET
    assert (
        err_of(for_socket(send(k, a, get._replace(extensions=(PolicyExt(0, 0, pid_ + 8),))), a))
        == errno.ENOENT
    )
    assert err_of(for_socket(send(k, a, get._replace(extensions=(PolicyExt(0, 0, 7),))), a)) == errno.EINVAL
    d2 = for_socket(send(k, a, get._replace(type=MsgType.X_SPDDELETE2)), b)[0]
    assert d2.type == MsgType.X_SPDDELETE2
    assert err_of(for_socket(send(k, a, policy_msg(MsgType.X_SPDDELETE)), a)) == errno.ENOENT
    send(k, a, policy_msg())
    dl = for_socket(send(k, a, policy_msg(MsgType.X_SPDDELETE)), b)[0]
    assert dl.type == MsgType.X_SPDDELETE
    send(k, a, policy_msg())
    out = send(k, a, header(MsgType.X_SPDFLUSH))
    assert [m.type for m in for_socket(out, a)] == [MsgType.X_SPDFLUSH] * 2
    assert [m.type for m in for_socket(out, b)] == [MsgType.X_SPDFLUSH]
    assert err_of(for_socket(send(k, a, header(MsgType.X_SPDDUMP)), a)) == errno.ENOENT


def test_policy_hard_lifetime_removes_it_and_spdexpire_is_optional() -> None:
    for spdexpire in (False, True):
        k = SimKernel(clock=lambda: T0, spdexpire=spdexpire)
        a = k.open_socket()
        send(k, a, header(MsgType.REGISTER, SAType.ESP))
        msg = policy_msg()
        lifetimes = (
            LifetimeExt(ExtType.LIFETIME_HARD, addtime=10),
            LifetimeExt(ExtType.LIFETIME_SOFT, addtime=4),
        )
        send(k, a, msg._replace(extensions=msg.extensions + lifetimes))
        soft = for_socket(k.tick(T0 + 4) + k.tick(T0 + 5), a)
        assert [m.type for m in soft] == ([MsgType.X_SPDEXPIRE] if spdexpire else [])  # once
        assert len(k.policies) == 1
        hard = for_socket(k.tick(T0 + 10), a)
        assert [m.type for m in hard] == ([MsgType.X_SPDEXPIRE] if spdexpire else [])
        assert k.policies == {}


# ------------------------------------------------------------------------------------------ bad messages
def test_bad_headers_are_refused_by_send(k: SimKernel) -> None:
    a = k.open_socket()
    good = header(MsgType.DUMP).encode(LINUX)
    with pytest.raises(Refused) as e1:
        k.handle(a, good[:8])
    assert e1.value.errno == errno.EMSGSIZE
    with pytest.raises(Refused) as e2:
        k.handle(a, bytes([3]) + good[1:])  # version 3
    assert e2.value.errno == errno.EINVAL
    with pytest.raises(Refused):
        k.handle(a, good + bytes(8))  # length field disagrees


def test_bad_extensions_and_unhandled_types(k: SimKernel) -> None:
    a = k.open_socket()
    dup = sa_msg()
    dup = dup._replace(extensions=dup.extensions + (dup.extensions[-1],))
    assert err_of(for_socket(send(k, a, dup), a)) == errno.EINVAL
    wide = policy_msg(prefix=33)
    assert err_of(for_socket(send(k, a, wide), a)) == errno.EINVAL
    assert err_of(for_socket(send(k, a, header(MsgType.X_PCHANGE)), a)) == errno.EOPNOTSUPP
    assert err_of(for_socket(send(k, a, header(MsgType.EXPIRE)), a)) == errno.EOPNOTSUPP
    assert err_of(for_socket(send(k, a, header(MsgType.X_MIGRATE)), a)) == errno.ENOPROTOOPT
    truncated = bytearray(sa_msg().encode(LINUX))
    truncated[16:18] = (40).to_bytes(2, "little")  # first extension claims to run past the end
    assert err_of(for_socket(k.handle(a, bytes(truncated)), a)) == errno.EINVAL


def test_acquire_proposals_per_protocol(k: SimKernel) -> None:
    reg = k.open_socket()
    send(k, reg, header(MsgType.REGISTER, SAType.AH))
    reqs = (
        IpsecRequest(108, Mode.TRANSPORT, Level.REQUIRE),
        IpsecRequest(51, Mode.TRANSPORT, Level.REQUIRE),
    )
    send(k, reg, policy_msg(requests=reqs))
    r = k.simulate_traffic(Packet.parse("10.1.0.1", "10.2.0.1"))
    acq = for_socket(r.deliveries, reg)
    assert [m.satype for m in acq] == [SAType.IPCOMP, SAType.AH] and r.acquires == 2
    assert ExtType.PROPOSAL not in acq[0]
    ah = acq[1].get(ExtType.PROPOSAL)
    assert [c.auth for c in ah.combs][0] == AuthAlg.X_NULL and len(ah.combs) == 8
    assert {c.encrypt for c in ah.combs} == {0}


def test_a_larval_sa_with_a_soft_lifetime_does_not_spin_the_clock(k: SimKernel) -> None:
    from setkey_tui.kernel.sim.records import Limits

    a = k.open_socket()
    send(k, a, getspi_msg(lo=0x5000, hi=0x5000))
    (said, rec) = next(iter(k.sas.items()))
    assert rec.larval
    rec.soft = Limits(addtime=1)  # larval SAs never go dying: no timer may be due for that
    k.sad.schedule(said, rec)
    assert k.tick(T0 + 5) == [] and all(when > T0 + 5 for when, *_ in k.timers.heap)


# ------------------------------------------------------------------------- what the model view cannot say
def test_a_security_context_comes_back_last_on_sas_and_policies(k: SimKernel) -> None:
    from setkey_tui.pfkey.extensions import SecCtxExt

    a = k.open_socket()
    ctx = SecCtxExt(1, 1, b"system_u:object_r:ipsec_spd_t:s0\0")
    (added,) = for_socket(send(k, a, sa_msg(extra=(ctx,))), a)
    assert added.extensions[-1] == ctx
    pol = policy_msg()
    (spd,) = for_socket(send(k, a, pol._replace(extensions=(*pol.extensions, ctx))), a)
    assert spd.extensions[-1] == ctx and spd.extensions[-2].ext_type == ExtType.X_POLICY
    dumped = for_socket(send(k, a, header(MsgType.DUMP)), a)
    assert dumped[0].extensions[-1] == ctx


def test_a_key_of_odd_bits_keeps_its_bit_count(k: SimKernel) -> None:
    from setkey_tui.pfkey.extensions import KeyExt

    a = k.open_socket()
    msg = sa_msg(auth_key=bytes(13))
    msg = msg.with_ext(KeyExt(ExtType.KEY_AUTH, 100, bytes(13)))  # 100 bits in 13 bytes (HMACs take any)
    (added,) = for_socket(send(k, a, msg), a)
    assert added.get(ExtType.KEY_AUTH).bits == 100 and added.get(ExtType.KEY_ENCRYPT).bits == 128
    view = k.sas[next(iter(k.sas))].view()
    assert view.auth_key == bytes(13) and view.spi == 0x1000 and str(view.dst.address) == "10.0.0.2"
