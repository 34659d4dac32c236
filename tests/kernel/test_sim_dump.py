"""Dumps as Linux runs them: lazily as the socket is read, one per socket (EBUSY), over the live table."""

from __future__ import annotations

import errno

import pytest
from sim_build import PID, for_socket, header, lookup_msg, policy_msg, sa_msg, send

from setkey_tui.kernel.sim.kernel import SimKernel
from setkey_tui.kernel.sim.transport import SimHost, SimTransport
from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import FilterExt, LifetimeExt
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.service import KeyService

T0 = 1_700_000_000
RCVBUF = 20_000  # a small buffer: a dump of hundreds of SAs takes many reads


def loaded(n: int, *, policies: int = 0) -> tuple[SimKernel, int]:
    k = SimKernel(clock=lambda: T0, seed=1)
    loader = k.open_socket()
    for i in range(n):
        send(k, loader, sa_msg(spi=0x1000 + i, dst=f"10.1.{i // 250}.{i % 250 + 1}"))
    for i in range(policies):
        send(k, loader, policy_msg(src=f"10.5.{i // 250}.{i % 250}", prefix=32))
    k.close_socket(loader)
    return k, k.open_socket()


def spis(msgs: list[Message]) -> list[int]:
    return [m.get(ExtType.SA).spi for m in msgs]


def paced(k: SimKernel, sid: int, request: Message) -> tuple[list[Message], list[int]]:
    """Run a dump reading one message at a time, as a socket with RCVBUF would; (replies, queue sizes seen)."""
    queue = [d for s, d in send_paced(k, sid, request) if s == sid]
    got, sizes = [], []
    while queue:
        sizes.append(sum(map(len, queue)))
        got.append(decode(queue.pop(0), LINUX))
        queue += [d for s, d in k.resume_dump(sid, rmem=sum(map(len, queue)), rcvbuf=RCVBUF) if s == sid]
    return got, sizes


def send_paced(k: SimKernel, sid: int, msg: Message, rmem: int = 0) -> list[tuple[int, bytes]]:
    return k.handle(sid, msg.encode(LINUX), rmem=rmem, rcvbuf=RCVBUF)


def test_a_paced_dump_stops_at_two_thirds_of_the_buffer_and_goes_on_as_it_is_read() -> None:
    k, me = loaded(500)
    whole_k, whole_me = loaded(500)
    whole = for_socket(send(whole_k, whole_me, header(MsgType.DUMP)), whole_me)  # no buffer: all at once
    first = [d for s, d in send_paced(k, me, header(MsgType.DUMP)) if s == me]
    assert 0 < len(first) < 500 and k.dumping(me)
    assert 3 * sum(map(len, first)) > 2 * RCVBUF - 400  # filled up to 2/3 (one message of slack)
    assert sum(map(len, first[:-1])) * 3 <= 2 * RCVBUF
    assert k.resume_dump(me, rmem=RCVBUF // 2, rcvbuf=RCVBUF) == []  # more than 1/3 still unread: wait
    k2, me2 = loaded(500)
    got, sizes = paced(k2, me2, header(MsgType.DUMP))
    assert [m.seq for m in got] == [*range(1, 500), 0] and all(m.pid == PID for m in got)
    assert spis(got) == spis(whole) and [m.encode(LINUX) for m in got] == [m.encode(LINUX) for m in whole]
    assert max(sizes) < 2 * RCVBUF // 3 + 400 and not k2.dumping(me2)


def test_a_second_dump_on_the_socket_is_busy_until_the_first_ends() -> None:
    k, me = loaded(300, policies=3)
    other = k.open_socket()
    send_paced(k, me, header(MsgType.DUMP))
    assert k.dumping(me)
    for again in (MsgType.DUMP, MsgType.X_SPDDUMP):
        reply = [decode(d, LINUX) for s, d in send_paced(k, me, header(again), rmem=RCVBUF) if s == me]
        assert [(m.type, m.errno, m.extensions) for m in reply] == [(again, errno.EBUSY, ())]
    assert len(for_socket(send(k, other, header(MsgType.X_SPDDUMP)), other)) == 3  # other sockets may dump
    while k.dumping(me):
        k.resume_dump(me, rmem=0, rcvbuf=RCVBUF)
    assert [m.seq for m in for_socket(send(k, me, header(MsgType.X_SPDDUMP)), me)] == [1, 2, 0]


def test_a_dump_walks_the_live_table_from_its_cursor() -> None:
    k, me = loaded(300)
    first = [decode(d, LINUX) for s, d in send_paced(k, me, header(MsgType.DUMP)) if s == me]
    seen = set(spis(first))
    ahead = [spi for spi in range(0x1000, 0x1000 + 300) if spi not in seen]  # not reached yet (oldest)
    gone, changed = ahead[0], ahead[1]
    writer = k.open_socket()
    i = gone - 0x1000
    send(k, writer, lookup_msg(MsgType.DELETE, gone, dst=f"10.1.{i // 250}.{i % 250 + 1}"))
    j = changed - 0x1000
    hard = LifetimeExt(ExtType.LIFETIME_HARD, addtime=999)
    soft = LifetimeExt(ExtType.LIFETIME_SOFT, addtime=500)
    send(k, writer, sa_msg(MsgType.UPDATE, changed, dst=f"10.1.{j // 250}.{j % 250 + 1}", hard=hard, soft=soft))
    send(k, writer, sa_msg(spi=0x9999, dst="10.9.9.9"))  # added behind the cursor: not in this dump
    rest: list[Message] = []
    while k.dumping(me):
        rest += for_socket(k.resume_dump(me, rmem=0, rcvbuf=RCVBUF), me)
    got = first + rest
    assert len(got) == 299 and gone not in spis(got) and 0x9999 not in spis(got)
    assert [m.seq for m in got] == [*range(1, 299), 0]
    updated = next(m for m in got if m.get(ExtType.SA).spi == changed)
    assert updated.get(ExtType.LIFETIME_HARD).addtime == 999  # shown as it is when the cursor gets there


def test_a_flush_under_a_dump_ends_it_with_the_message_it_held_back() -> None:
    k, me = loaded(300)
    first = [decode(d, LINUX) for s, d in send_paced(k, me, header(MsgType.DUMP)) if s == me]
    send(k, k.open_socket(), header(MsgType.FLUSH))
    last = for_socket(k.resume_dump(me, rmem=0, rcvbuf=RCVBUF), me)
    assert len(last) == 1 and last[0].seq == 0 and not k.dumping(me)
    assert [m.seq for m in first] == list(range(1, len(first) + 1))


def test_an_empty_walk_answers_enoent_and_bad_filters_einval() -> None:
    k, me = loaded(0)
    (reply,) = for_socket(send_paced(k, me, header(MsgType.DUMP)), me)
    assert reply.errno == errno.ENOENT and not k.dumping(me)
    k, me = loaded(3)
    wide = FilterExt(b"\0" * 16, b"\0" * 16, 2, 128, 0)
    (reply,) = for_socket(send(k, me, header(MsgType.DUMP).with_ext(wide)), me)
    assert reply.errno == errno.EINVAL


def test_closing_the_socket_ends_its_dump() -> None:
    k, me = loaded(300)
    send_paced(k, me, header(MsgType.DUMP))
    k.close_socket(me)
    assert not k.dumping(me)


@pytest.mark.parametrize("dumper_promisc", [False, True])
def test_promiscuous_sockets_get_a_copy_of_every_dump_reply(dumper_promisc: bool) -> None:
    """pfkey_broadcast: a promiscuous socket gets every message sent to anyone, the replies to its own
    DUMP included (so a promiscuous dumper gets each reply twice)."""
    k, me = loaded(200)
    mon, plain = k.open_socket(), k.open_socket()
    send(k, mon, header(MsgType.X_PROMISC, 1))
    if dumper_promisc:
        send(k, me, header(MsgType.X_PROMISC, 1))
    out = send_paced(k, me, header(MsgType.DUMP))
    while k.dumping(me):
        out += k.resume_dump(me, rmem=0, rcvbuf=RCVBUF)
    mine, copies = for_socket(out, me), for_socket(out, mon)
    assert [m.type for m in copies] == [MsgType.DUMP] * 201  # the request's copy, then every reply
    replies = copies[1:]
    assert [m.seq for m in replies] == [*range(1, 200), 0]
    expected = [m for m in replies for _ in range(2)] if dumper_promisc else replies
    if dumper_promisc:
        mine = mine[1:]  # its own request's promiscuous copy
    assert [m.encode(LINUX) for m in mine] == [m.encode(LINUX) for m in expected]
    assert for_socket(out, plain) == []


def test_in_process_dump_is_paced_and_whole() -> None:
    k, _ = loaded(2000, policies=5)
    host = SimHost(k, dump_rcvbuf=RCVBUF)
    t = SimTransport(host)
    svc = KeyService(t, pid=7)
    first_seen: list[tuple[int, int]] = []
    t.send(header(MsgType.DUMP)._replace(pid=7, seq=1).encode(LINUX))
    first_seen.append(host.queued(t.sid))
    assert first_seen[0][0] < 2000 and first_seen[0][1] * 3 < 2 * RCVBUF + 1000  # not the whole dump at once
    got = []
    while True:
        m = decode(t.recv(1.0), LINUX)
        assert host.queued(t.sid)[1] < RCVBUF  # bounded however many SAs
        got.append(m)
        if m.seq == 0:
            break
    assert len(got) == 2000 and len({spi for spi in spis(got)}) == 2000
    assert len(svc.spddump()) == 5 and len(svc.dump()) == 2000
    t.close()
