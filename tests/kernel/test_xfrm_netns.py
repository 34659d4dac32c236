"""The XFRM transport on this machine's own kernel, inside `unshare -Urn` namespaces (never the host's SAD/SPD).

What a namespace allows without ESP/AH in the kernel: policies, larval SAs (GETSPI → XFRM_MSG_ALLOCSPI), an
ACQUIRE raised by a packet over a veth pair, the EXPIRE of a larval SA, notifications from `ip xfrm`, and
ENOBUFS on the event socket. Each test runs its body in a forked child (xfrm_netns.run_in_netns).
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import time

import pytest
from xfrm_netns import run_in_netns

from setkey_tui.kernel.base import MessagesLost
from setkey_tui.kernel.xfrm.transport import XfrmTransport, XfrmUnavailable
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.grammar import parse_one
from setkey_tui.pfkey.constants import Direction, ExtType, Level, MsgType, PolicyType, SAState, SAType
from setkey_tui.pfkey.extensions import AddressExt, FilterExt, PolicyExt, SA2Ext, SAExt, Sockaddr, SPIRangeExt
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import AF_INET, LINUX
from setkey_tui.service import KernelReplyError, KeyService

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_NETLINK"), reason="not Linux")


def _sh(cmd: str) -> None:
    done = subprocess.run(cmd, shell=True, check=False, capture_output=True, text=True)
    assert done.returncode == 0, f"{cmd}: {done.stderr}"


def _next_of(svc: KeyService, msg_type: int, timeout: float) -> Message:
    """The next kernel message of ``msg_type`` on the service's socket (one it put aside first); the test fails
    when none comes within ``timeout`` seconds."""
    for got in list(svc.others):
        if got.type == msg_type:
            svc.others.remove(got)
            return got
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        data = svc.transport.recv(left)
        if data is not None and (got := decode(data, LINUX)).type == msg_type:
            return got
    raise AssertionError(f"no {MsgType(msg_type).name} within {timeout:g} s")


def _messages(text: str) -> list[Message]:
    return compile_statement(parse_one(text))


def _addr(ext_type: int, ip: str, prefix: int = 32, proto: int = 0) -> AddressExt:
    return AddressExt(ext_type, Sockaddr(AF_INET, 0, socket.inet_aton(ip)), proto, prefix)


def _policy_summary(m: Message) -> tuple:
    pol = m.get(ExtType.X_POLICY)
    src, dst = m.get(ExtType.ADDRESS_SRC), m.get(ExtType.ADDRESS_DST)
    assert isinstance(pol, PolicyExt) and isinstance(src, AddressExt) and isinstance(dst, AddressExt)
    return (m.type, m.seq, m.reserved, src.sockaddr.text(), src.prefixlen, dst.sockaddr.text(), dst.prefixlen,
            src.proto, pol.policy_type, pol.dir, pol.id % 8,
            tuple((r.proto, r.mode, r.level, r.reqid) for r in pol.requests))


# ----------------------------------------------------------------------------------------------- policies
def _policies_body() -> dict:
    out: dict = {}
    with XfrmTransport() as t:
        svc = KeyService(t)
        for text in ("spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;",
                     "spdadd 10.2.0.0/24 10.1.0.0/24 tcp -P in ipsec esp/tunnel/10.0.0.2-10.0.0.1/unique;",
                     "spdadd 10.3.0.1 10.3.0.2 any -P out discard;"):
            for m in _messages(text):
                out.setdefault("added", []).append(_policy_summary(svc.request(m)))
        dump = svc.spddump()
        out["dump"] = [_policy_summary(m) for m in dump]
        out["dump_pids"] = {m.pid for m in dump}
        out["pid"] = svc.pid
        try:
            svc.request(_messages("spdadd 10.3.0.1 10.3.0.2 any -P out discard;")[0])
        except KernelReplyError as exc:
            out["dup"] = exc.errno
        first = dump[-1].get(ExtType.X_POLICY)
        assert isinstance(first, PolicyExt)
        got = svc.request(Message(MsgType.X_SPDGET, extensions=(PolicyExt(PolicyType.DISCARD, first.dir, first.id),)))
        out["get"] = _policy_summary(got)
        gone = svc.request(Message(MsgType.X_SPDDELETE2,
                                   extensions=(PolicyExt(PolicyType.DISCARD, first.dir, first.id),)))
        out["deleted2"] = _policy_summary(gone)
        gone = svc.request(_messages("spddelete 10.3.0.1 10.3.0.2 any -P out;")[0])
        out["deleted"] = _policy_summary(gone)
        try:
            svc.request(_messages("spddelete 10.3.0.1 10.3.0.2 any -P out;")[0])
        except KernelReplyError as exc:
            out["missing"] = exc.errno
        flush = svc.request(header_only(MsgType.X_SPDFLUSH))
        out["flush"] = (flush.type, flush.errno, len(flush.extensions))
        second = _next_of(svc, MsgType.X_SPDFLUSH, 30)
        out["flush_broadcast"] = (second.seq == flush.seq, second.pid == flush.pid)
        out["empty"] = svc.spddump()
    return out


def test_policies_over_xfrm() -> None:
    r = run_in_netns(_policies_body)
    pid = r["pid"]
    # the SPDADD answers are the XFRM notifications of our own requests: type, our seq, refcnt 3
    out_any = (MsgType.X_SPDADD, 1, 3, "10.1.0.0", 24, "10.2.0.0", 24, 255, PolicyType.IPSEC, Direction.OUTBOUND, 1,
               ((50, 2, Level.REQUIRE, 0),))
    assert r["added"][0] == out_any
    in_tcp = r["added"][1]
    assert in_tcp[:11] == (MsgType.X_SPDADD, 2, 3, "10.2.0.0", 24, "10.1.0.0", 24, 6, PolicyType.IPSEC,
                           Direction.INBOUND, 0)
    (_p, _m, level, reqid), = in_tcp[11]
    assert level == Level.UNIQUE and reqid > 0x3FFF  # af_key's automatic reqid for `unique`
    fwd = r["added"][2]  # setkey's fwd twin of the inbound policy
    assert fwd[9] == Direction.FWD and fwd[11][0][2] == Level.REQUIRE
    # the dump: newest first, seq 1, 2, … and the last 0, refcnt 2, our pid
    assert [d[1] for d in r["dump"]] == [1, 2, 3, 0]
    assert {d[2] for d in r["dump"]} == {2} and r["dump_pids"] == {pid}
    assert [d[9] for d in r["dump"]] == [Direction.OUTBOUND, Direction.FWD, Direction.INBOUND, Direction.OUTBOUND]
    assert r["dup"] == errno.EEXIST
    assert r["get"][0] == MsgType.X_SPDGET and r["get"][2] == 3 and r["get"][8] == PolicyType.IPSEC
    assert r["deleted2"][0] == MsgType.X_SPDDELETE2 and r["deleted2"][2] == 1
    assert r["deleted"][0] == MsgType.X_SPDDELETE and r["deleted"][8] == PolicyType.DISCARD
    assert r["missing"] == errno.ENOENT
    assert r["flush"] == (MsgType.X_SPDFLUSH, 0, 0) and r["flush_broadcast"] == (True, True)
    assert r["empty"] == []


# ------------------------------------------------------------------------------------------ larval SAs
def _getspi(svc: KeyService, src: str, dst: str, spirange: tuple[int, int] | None = None) -> Message:
    exts: list = [SA2Ext(1, 0)]
    if spirange:
        exts.append(SPIRangeExt(*spirange))
    exts += [_addr(ExtType.ADDRESS_SRC, src), _addr(ExtType.ADDRESS_DST, dst)]
    return svc.request(Message(MsgType.GETSPI, SAType.ESP, extensions=tuple(exts)))


def _larval_body() -> dict:
    out: dict = {}
    with XfrmTransport() as t:
        svc = KeyService(t)
        a = _getspi(svc, "10.9.0.1", "10.9.0.2")
        b = _getspi(svc, "10.9.0.3", "10.9.0.4", (0x5000, 0x5000))
        for name, m in (("a", a), ("b", b)):
            sa = m.get(ExtType.SA)
            assert isinstance(sa, SAExt)
            out[name] = (m.type, m.satype, sa.state, sa.spi, [e.ext_type for e in m.extensions])
        out["ah"] = svc.dump(SAType.AH)
        filt = FilterExt(bytes(16), socket.inet_aton("10.9.0.4").ljust(16, b"\0"), AF_INET, 0, 32)
        svc.transport.send(Message(MsgType.DUMP, SAType.ESP, seq=50, pid=svc.pid, extensions=(filt,)).encode(LINUX))
        filtered = []
        while (data := svc.transport.recv(2.0)) is not None:
            m = decode(data, LINUX)
            if m.type == MsgType.DUMP and m.pid == svc.pid:
                filtered.append(m.get(ExtType.SA).spi)  # type: ignore[union-attr]
                if m.seq == 0:
                    break
        out["filtered"] = filtered
        dump = svc.dump()
        out["dump"] = sorted((m.get(ExtType.SA).spi, m.get(ExtType.SA).state, m.seq) for m in dump)  # type: ignore[union-attr]
        ip = subprocess.run(["ip", "xfrm", "state"], capture_output=True, text=True, check=True).stdout
        out["ip"] = ip
        sa_b = b.get(ExtType.SA)
        got = svc.request(Message(MsgType.GET, SAType.ESP, extensions=(
            sa_b, _addr(ExtType.ADDRESS_SRC, "10.9.0.3"), _addr(ExtType.ADDRESS_DST, "10.9.0.4"))))
        out["get"] = (got.type, got.get(ExtType.SA).state)  # type: ignore[union-attr]
        gone = svc.request(Message(MsgType.DELETE, SAType.ESP, extensions=(
            sa_b, _addr(ExtType.ADDRESS_SRC, "10.9.0.3"), _addr(ExtType.ADDRESS_DST, "10.9.0.4"))))
        out["delete"] = (gone.type, gone.get(ExtType.SA).state)  # type: ignore[union-attr]
        try:
            svc.request(Message(MsgType.GET, SAType.ESP, extensions=(
                sa_b, _addr(ExtType.ADDRESS_SRC, "10.9.0.3"), _addr(ExtType.ADDRESS_DST, "10.9.0.4"))))
        except KernelReplyError as exc:
            out["missing"] = exc.errno
        try:
            _getspi(svc, "10.9.0.5", "10.9.0.6", (0x6000, 0x5000))
        except KernelReplyError as exc:
            out["badrange"] = exc.errno
        flush = svc.request(header_only(MsgType.FLUSH))
        out["flush"] = (flush.type, flush.errno)
        out["after"] = svc.dump()
    return out


def test_larval_sas_from_getspi() -> None:
    r = run_in_netns(_larval_body)
    order = [ExtType.SA, ExtType.LIFETIME_HARD, ExtType.LIFETIME_SOFT, ExtType.LIFETIME_CURRENT,
             ExtType.ADDRESS_SRC, ExtType.ADDRESS_DST, ExtType.X_SA2]
    assert r["a"][:3] == (MsgType.GETSPI, SAType.ESP, SAState.LARVAL) and 0x100 <= r["a"][3] <= 0x0FFFFFFF
    assert r["a"][4] == order
    assert r["b"][3] == 0x5000
    assert r["ah"] == [] and r["filtered"] == [0x5000]  # satype and SADB_X_EXT_FILTER reach the kernel
    assert sorted(s for s, _st, _q in r["dump"]) == sorted([r["a"][3], 0x5000])
    assert {st for _s, st, _q in r["dump"]} == {SAState.LARVAL} and sorted(q for *_x, q in r["dump"]) == [0, 1]
    assert "spi 0x00005000" in r["ip"]
    assert r["get"] == (MsgType.GET, SAState.LARVAL)
    assert r["delete"] == (MsgType.DELETE, SAState.DEAD)
    assert r["missing"] == errno.ESRCH
    assert r["badrange"] == errno.EINVAL
    assert r["flush"] == (MsgType.FLUSH, 0) and r["after"] == []


# ----------------------------------------------------------------------------------- notifications, dumps
def _ip_xfrm_body() -> dict:
    out: dict = {}
    with XfrmTransport() as listener:
        listener.set_promisc(True)
        echoes = [listener.recv(2.0) for _ in range(2)]
        out["echoes"] = [(e[1], len(e)) for e in echoes if e is not None]
        _sh("ip xfrm policy add src 192.168.5.0/24 dst 192.168.6.0/24 dir out priority 7 "
            "tmpl proto esp mode transport reqid 9 level use")
        got = [decode(listener.recv(5.0), LINUX) for _ in range(2)]  # promiscuous: every broadcast twice
        out["add"] = [(m.type, _policy_summary(m)[3:], m.get(ExtType.X_POLICY).priority) for m in got]  # type: ignore[union-attr]
        _sh("ip xfrm policy delete src 192.168.5.0/24 dst 192.168.6.0/24 dir out")
        out["del"] = decode(listener.recv(5.0), LINUX).type
    return out


def test_notifications_of_ip_xfrm_reach_a_promiscuous_listener() -> None:
    r = run_in_netns(_ip_xfrm_body)
    assert r["echoes"] == [(MsgType.X_PROMISC, 16), (MsgType.X_PROMISC, 16)]
    (t1, s1, prio), (t2, s2, _p) = r["add"]
    assert t1 == t2 == MsgType.X_SPDADD and s1 == s2 and prio == 7
    assert s1 == ("192.168.5.0", 24, "192.168.6.0", 24, 255, PolicyType.IPSEC, Direction.OUTBOUND, 1,
                  ((50, 1, Level.USE, 9),))
    assert r["del"] == MsgType.X_SPDDELETE


def _dump_then_events_body() -> dict:
    with XfrmTransport() as a, XfrmTransport() as b:
        sa = KeyService(a)
        sb = KeyService(b)
        for i in range(40):
            sb.request(_messages(f"spdadd 10.4.{i}.0/24 10.5.0.0/24 any -P out discard;")[0])
        while a.recv(0.2) is not None:  # a saw those 40 broadcasts
            pass
        a.send(header_only(MsgType.X_SPDDUMP, seq=77, pid=sa.pid).encode(LINUX))
        sb.request(_messages("spdadd 10.6.0.0/24 10.5.0.0/24 any -P out discard;")[0])  # during a's dump
        kinds = []
        while (data := a.recv(2.0)) is not None:
            m = decode(data, LINUX)
            kinds.append((m.type, m.seq))
    return {"kinds": kinds}


def test_events_during_a_dump_come_after_it() -> None:
    kinds = run_in_netns(_dump_then_events_body)["kinds"]
    dump = [k for k in kinds if k[0] == MsgType.X_SPDDUMP]
    assert len(dump) >= 40 and dump[-1][1] == 0
    assert kinds.index((MsgType.X_SPDADD, 41)) > kinds.index(dump[-1])


# ------------------------------------------------------------------------------------- ACQUIRE and EXPIRE
def _acquire_body() -> dict:
    _sh("ip link add va type veth peer name vb && ip addr add 10.77.0.1/24 dev va && ip link set va up "
        "&& ip link set vb up")
    # net.core.xfrm_acq_expires (30 s) is hidden in a namespace owned by a user namespace: the larval SA's
    # EXPIRE is tested in user-mode-linux (test_xfrm_realkernel), where it can be lowered
    out: dict = {}
    with XfrmTransport() as t:
        svc = KeyService(t)
        svc.register(SAType.ESP)
        svc.request(_messages("spdadd 10.77.0.1 10.77.0.2 udp -P out ipsec esp/transport//require;")[0])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        try:
            s.sendto(b"x", ("10.77.0.2", 9))
        except OSError as exc:
            out["send"] = exc.errno  # EAGAIN: the packet waits for its SA
        s.close()
        acq = _next_of(svc, MsgType.ACQUIRE, 30)
        pol = acq.get(ExtType.X_POLICY)
        prop = acq.get(ExtType.PROPOSAL)
        out["acquire"] = (acq.satype, acq.seq > 0, acq.pid, [e.ext_type for e in acq.extensions],
                          pol.dir, pol.id % 8, len(prop.combs), prop.replay)  # type: ignore[union-attr]
        dump = svc.dump()
        out["larval"] = [(m.get(ExtType.SA).state, m.get(ExtType.SA).spi) for m in dump]  # type: ignore[union-attr]
    return out


def test_acquire_over_a_veth_pair_and_its_larval_sa() -> None:
    r = run_in_netns(_acquire_body)
    satype, has_seq, pid, exts, pdir, pidx, ncombs, replay = r["acquire"]
    assert satype == SAType.ESP and has_seq and pid == 0
    assert exts == [ExtType.ADDRESS_SRC, ExtType.ADDRESS_DST, ExtType.X_POLICY, ExtType.PROPOSAL]
    assert pdir == Direction.OUTBOUND and pidx == 1 and ncombs > 0 and replay == 32
    assert r["larval"] == [(SAState.LARVAL, 0)]


# --------------------------------------------------------------------------------------------- ENOBUFS
def _enobufs_body() -> str:
    with XfrmTransport(rcvbuf=4096) as small, XfrmTransport() as writer:
        svc = KeyService(writer)
        for i in range(300):
            svc.request(_messages(f"spdadd 10.8.{i // 250}.{i % 250} 10.5.0.1 any -P out discard;")[0])
        try:
            while small.recv(0.5) is not None:
                pass
        except MessagesLost as exc:
            return str(exc)
    return "no loss"


def test_enobufs_is_messages_lost() -> None:
    text = run_in_netns(_enobufs_body)
    assert text.startswith("the kernel dropped messages for this socket") and "\n" not in text


# ----------------------------------------------------------------------------------------- permissions
def _no_cap_body() -> str:
    with open("/proc/self/setgroups", "w", encoding="ascii"):
        pass
    try:
        XfrmTransport()
    except XfrmUnavailable as exc:
        return str(exc)
    return "opened"


def _unshare_user_only() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:
        raise OSError(ctypes.get_errno(), "unshare")


def test_without_cap_net_admin_one_line_like_pfkey() -> None:
    """In a user namespace that does not own the network namespace there is no CAP_NET_ADMIN over it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            _unshare_user_only()
            try:
                XfrmTransport()
                text = "opened"
            except XfrmUnavailable as exc:
                text = str(exc)
        except OSError as exc:
            text = f"nons {exc}"
        os.write(w, text.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        text = fh.read().decode()
    os.waitpid(pid, 0)
    if text.startswith("nons"):
        from xfrm_netns import skip_or_fail

        skip_or_fail(text)
    assert text == ("permission denied opening XFRM netlink (Operation not permitted): run as root or with "
                    "CAP_NET_ADMIN, or use the simulated kernel (--kernel sim)")


# --------------------------------------------------------------------------- recorded scenarios (SPD only)
def _spd_only(scenario: dict) -> bool:
    statements = [s.strip() for s in scenario["script"].replace("\n", " ").split(";") if s.strip()]
    return bool(statements) and all(s.startswith(("spd", "#")) for s in statements)


def _replay_body(scenarios: list[dict]) -> list[tuple[str, str | None]]:
    import scenario_replay as sr

    out: list[tuple[str, str | None]] = []
    for scenario in scenarios:
        try:
            observed = sr.replay(scenario, "xfrm", monitor=False)
            sr.assert_same(observed, dict(scenario, monitor=None), what=scenario["id"])
            out.append((scenario["id"], None))
        except AssertionError as exc:
            out.append((scenario["id"], str(exc)))
    return out


def test_recorded_policy_scenarios_through_xfrm_in_a_namespace() -> None:
    """Every recorded scenario that touches only the SPD (this kernel has no ESP/AH for SAs) gives, through
    `--kernel xfrm`, what the real setkey printed over af_key."""
    import scenario_replay as sr

    chosen = [s for s in sr.load_scenarios() if _spd_only(s)]
    assert len(chosen) >= 10
    results = run_in_netns(_replay_body, chosen)
    failed = [f"{sid}: {err}" for sid, err in results if err]
    assert not failed, "\n".join(failed)
    assert len(results) == len(chosen)


def _enobufs_during_send_body() -> tuple[str, bool]:
    """The loss noticed while a request drains the event socket is reported by the next recv, not by send."""
    with XfrmTransport(rcvbuf=4096) as small, XfrmTransport() as writer:
        svc = KeyService(writer)
        for i in range(300):
            svc.request(_messages(f"spdadd 10.8.{i // 250}.{i % 250} 10.5.0.1 any -P out discard;")[0])
        small.send(header_only(MsgType.X_SPDFLUSH, seq=1, pid=7).encode(LINUX))  # must not raise
        try:
            small.recv(1.0)
        except MessagesLost as exc:
            lost = str(exc)
        else:
            lost = "not reported"
        replies = []
        while (data := small.recv(1.0)) is not None:
            replies.append(decode(data, LINUX))
        return lost, any(m.type == MsgType.X_SPDFLUSH and m.pid == 7 for m in replies)


def test_enobufs_noticed_during_send_comes_with_the_next_recv() -> None:
    lost, answered = run_in_netns(_enobufs_during_send_body)
    assert lost.startswith("the kernel dropped messages") and answered
