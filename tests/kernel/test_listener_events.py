"""Listener: promiscuous messages become events; ENOBUFS → LostEvent; failures → FailedEvent; own dump copies
counted, not decoded — read one message per call or many (``recv_many``), as the dump stream reads too."""

from __future__ import annotations

import queue
import time

import pytest
from sim_build import sa_msg

from setkey_tui.kernel.base import MessagesLost, TransportError
from setkey_tui.kernel.sim.kernel import SimKernel
from setkey_tui.kernel.sim.transport import SimHost, SimTransport
from setkey_tui.listener import Event, FailedEvent, Listener, LostEvent, MessageEvent
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.service import KeyService


def drain(events: queue.SimpleQueue[Event], want: int, timeout: float = 5.0) -> list[Event]:
    out: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        try:
            out.append(events.get(timeout=0.05))
        except queue.Empty:
            pass
    return out


def test_listener_reports_other_sockets_changes() -> None:
    host = SimHost(SimKernel())
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    lst = Listener(lambda: SimTransport(host), events, clock=lambda: 42.0)
    lst.start()
    try:
        assert lst.ready.wait(5)
        echo = drain(events, 2)
        assert [e.msg.type for e in echo if isinstance(e, MessageEvent)] == [MsgType.X_PROMISC] * 2
        KeyService(SimTransport(host), pid=9).request(sa_msg(spi=0x900))
        got = drain(events, 3)
        assert all(isinstance(e, MessageEvent) and e.when == 42.0 for e in got)
        assert [e.msg.type for e in got] == [MsgType.ADD] * 3  # request copy, promiscuous copy, broadcast
    finally:
        lst.stop()
    assert not lst.running


class FlakyTransport:
    """Gives one undecodable message, then loses messages, then fails."""

    platform = LINUX
    description = "flaky"

    def __init__(self) -> None:
        self.step = 0
        self.closed = False
        self.promisc = False

    def send(self, data: bytes) -> None:
        pass

    def recv(self, timeout: float | None = None) -> bytes | None:
        self.step += 1
        if self.step == 1:
            return b"\x02\x0b\x00\x01\x09\x00"
        if self.step == 2:
            raise MessagesLost("3 message(s) lost")
        raise TransportError("the socket went away")

    def set_promisc(self, on: bool) -> None:
        self.promisc = on

    def close(self) -> None:
        self.closed = True


def test_listener_turns_errors_into_events() -> None:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    t = FlakyTransport()
    lst = Listener(lambda: t, events)
    lst.start()
    got = drain(events, 3)
    lst.stop()
    assert t.promisc and t.closed
    bad, lost, failed = got
    assert isinstance(bad, MessageEvent) and bad.msg is None and "shorter" in (bad.error or "")
    assert isinstance(lost, LostEvent) and "lost" in lost.reason
    assert isinstance(failed, FailedEvent) and failed.reason == "the socket went away"


def test_listener_open_failure_is_an_event() -> None:
    def fail() -> SimTransport:
        raise TransportError("no PF_KEY in this kernel")

    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    lst = Listener(fail, events)
    lst.start()
    (ev,) = drain(events, 1)
    lst.stop()
    assert ev == FailedEvent("no PF_KEY in this kernel")


def test_full_receive_queue_gives_lost_event() -> None:
    host = SimHost(SimKernel(), rcvbuf=2000)
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    mon = SimTransport(host)
    mon.set_promisc(True)
    svc = KeyService(SimTransport(host), pid=3)
    for spi in range(0x1000, 0x1010):  # ~30 copies of ~200 bytes for a 2000-byte queue
        svc.request(sa_msg(spi=spi))
    lst = Listener(lambda: mon, events)
    lst.start()
    got = drain(events, 12)
    lst.stop()
    kinds = [type(e).__name__ for e in got]
    assert "LostEvent" in kinds and kinds.count("MessageEvent") >= 5


def test_bsd_promiscuous_copies_are_unwrapped() -> None:
    from setkey_tui.pfkey.message import header_only, unwrap_promisc
    from setkey_tui.pfkey.platform import FREEBSD

    inner = header_only(MsgType.FLUSH, 3, pid=7).encode(FREEBSD)
    wrapped = (
        header_only(MsgType.X_PROMISC).encode(FREEBSD)[:4] + (4).to_bytes(2, "little") + bytes(10) + inner
    )
    assert unwrap_promisc(wrapped, FREEBSD) == inner
    assert unwrap_promisc(wrapped, LINUX) == wrapped  # Linux does not wrap
    assert unwrap_promisc(inner, FREEBSD) == inner
    assert unwrap_promisc(wrapped[:-8], FREEBSD) == wrapped[:-8]  # inner length does not fit: left alone


class BrokenTransport(FlakyTransport):
    """A transport with a bug: its recv raises something that is not a TransportError."""

    def recv(self, timeout: float | None = None) -> bytes | None:
        raise RuntimeError("bug in the transport")


def test_unexpected_errors_in_the_thread_become_failed_events() -> None:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    t = BrokenTransport()
    lst = Listener(lambda: t, events)
    lst.start()
    (ev,) = drain(events, 1)
    lst.stop()
    assert ev == FailedEvent("the listener failed: RuntimeError: bug in the transport")
    assert t.closed and lst.ready.is_set() and not lst.running

    def bad_open() -> SimTransport:
        raise ValueError("bad spec")

    lst = Listener(bad_open, events)
    lst.start()
    (ev,) = drain(events, 1)
    lst.stop()
    assert ev == FailedEvent("cannot open the kernel socket: ValueError: bad spec") and lst.ready.is_set()


class ScriptedTransport:
    """Plays a list of messages once, then nothing."""

    platform = LINUX
    description = "scripted"

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = list(messages)
        self.promisc = False

    def send(self, data: bytes) -> None:
        pass

    def recv(self, timeout: float | None = None) -> bytes | None:
        if self.messages:
            return self.messages.pop(0)
        time.sleep(min(timeout or 0.01, 0.01))
        return None

    def set_promisc(self, on: bool) -> None:
        self.promisc = on

    def close(self) -> None:
        pass


class BatchedTransport(ScriptedTransport):
    """Plays its messages seven per ``recv_many`` call (as recvmmsg hands them over)."""

    def recv_many(self, timeout: float | None = None) -> list[bytes]:
        batch, self.messages = self.messages[:7], self.messages[7:]
        if not batch:
            time.sleep(min(timeout or 0.01, 0.01))
        return batch


@pytest.mark.parametrize("transport", [ScriptedTransport, BatchedTransport])
def test_own_dump_copies_are_counted_not_decoded(monkeypatch, transport: type[ScriptedTransport]) -> None:
    """Interleaved copies of this process's own DUMP/SPDDUMP replies (pid 77) and other processes' messages:
    only the others' are decoded and passed on; each own dump becomes one summary event."""
    from setkey_tui import listener as listener_mod
    from setkey_tui.listener import OwnDumpEvent
    from setkey_tui.pfkey.message import header_only
    from setkey_tui.scenarios.synthetic import sa_message, sp_message
    from setkey_tui.service import InFlight

    own, other = 77, 5
    n = 50
    sa_copies = [sa_message(i, seq=n - 1 - i, pid=own).encode(LINUX) for i in range(n)]
    sp_copies = [sp_message(i)._replace(seq=n - 1 - i, pid=own).encode(LINUX) for i in range(n)]
    # The bytes after the header of an own copy are never looked at: garbage there proves it.
    sa_copies = [c[:16] + b"\xff" * (len(c) - 16) for c in sa_copies]
    foreign = [sa_message(1000 + i, msg_type=MsgType.ADD, pid=other, seq=i + 1).encode(LINUX) for i in range(10)]
    foreign.append(sa_message(2000, msg_type=MsgType.DUMP, pid=other, seq=0).encode(LINUX))  # another's dump
    stream: list[bytes] = [header_only(MsgType.DUMP, pid=own, seq=9).encode(LINUX)]  # the request's own copy
    for i in range(n):
        stream.append(sa_copies[i])
        if i % 10 == 0:
            stream.append(foreign[i // 10])
    stream += sp_copies + foreign[5:]
    decoded: list[bytes] = []
    real_decode = listener_mod.decode

    def counting_decode(data: bytes, platform: object) -> object:
        decoded.append(data)
        return real_decode(data, platform)

    monkeypatch.setattr(listener_mod, "decode", counting_decode)
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    lst = Listener(lambda: transport(stream), events, in_flight=InFlight(own))
    lst.start()
    got = drain(events, len(foreign) + 2)
    lst.stop()
    messages = [e for e in got if isinstance(e, MessageEvent)]
    summaries = [e for e in got if isinstance(e, OwnDumpEvent)]
    assert [e.data for e in messages] == foreign and all(e.msg is not None for e in messages)
    assert decoded == foreign
    assert summaries == [OwnDumpEvent(MsgType.DUMP, n), OwnDumpEvent(MsgType.X_SPDDUMP, n)]
    assert lst.skipped == 2 * n + 1 and lst.decoded == len(foreign)


def test_without_in_flight_every_message_is_decoded() -> None:
    from setkey_tui.scenarios.synthetic import sa_message

    copies = [sa_message(i, seq=2 - i, pid=77).encode(LINUX) for i in range(3)]
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    lst = Listener(lambda: ScriptedTransport(copies), events)
    lst.start()
    got = drain(events, 3)
    lst.stop()
    assert [e.data for e in got if isinstance(e, MessageEvent)] == copies


class DumpingTransport:
    """Answers a DUMP with every reply in one ``recv_many`` batch, a broadcast of another process between two
    replies and one after the last."""

    platform = LINUX
    description = "dumping"

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []

    def send(self, data: bytes) -> None:
        from setkey_tui.pfkey.message import decode
        from setkey_tui.scenarios.synthetic import sa_message

        req = decode(data, LINUX)
        replies = [sa_message(i, seq=2 - i, pid=req.pid).encode(LINUX) for i in range(3)]
        foreign = [sa_message(100 + i, msg_type=MsgType.ADD, pid=999, seq=i + 1).encode(LINUX) for i in range(2)]
        self.batches.append([replies[0], foreign[0], replies[1], replies[2], foreign[1]])

    def recv(self, timeout: float | None = None) -> bytes | None:
        raise AssertionError("recv_many is there: one message per call is not used")

    def recv_many(self, timeout: float | None = None) -> list[bytes]:
        return self.batches.pop(0) if self.batches else []

    def set_promisc(self, on: bool) -> None:
        pass

    def close(self) -> None:
        pass


def test_the_dump_stream_reads_batches_and_keeps_what_is_not_a_reply() -> None:
    from setkey_tui.pfkey.constants import ExtType
    from setkey_tui.pfkey.message import decode

    svc = KeyService(DumpingTransport(), pid=31)
    got = [decode(b, LINUX) for b in svc.dump_stream(MsgType.DUMP)]
    assert [m.seq for m in got] == [2, 1, 0] and {m.pid for m in got} == {31}
    # Another process's messages, before and after the last reply in the same batch, are kept, not lost.
    assert [(m.pid, m.get(ExtType.SA).spi) for m in svc.others] == [(999, 0x1000 + 100), (999, 0x1000 + 101)]
