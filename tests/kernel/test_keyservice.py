"""KeyService: replies matched by seq + pid + type while broadcasts interleave; dumps; register; errors."""

from __future__ import annotations

import errno
from collections import deque
from dataclasses import replace

import pytest
from sim_build import lookup_msg, policy_msg, sa_msg

from setkey_tui.kernel.base import MessagesLost, TransportError
from setkey_tui.kernel.sim.kernel import SimKernel
from setkey_tui.kernel.sim.transport import SimHost, SimTransport
from setkey_tui.packet import Packet, PacketError, PacketVerdict, TraceResult, Verdict
from setkey_tui.pfkey.constants import ExtType, MsgType, SAType
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.render.traffic import describe_traffic
from setkey_tui.service import (
    KernelReplyError,
    KeyService,
    ReplyTimeout,
    TrafficUnavailable,
)


@pytest.fixture
def host() -> SimHost:
    return SimHost(SimKernel(seed=3))


def test_request_returns_the_matching_reply_while_others_interleave(host: SimHost) -> None:
    other = KeyService(SimTransport(host), pid=111)
    svc = KeyService(SimTransport(host), pid=222)
    svc.transport.set_promisc(True)
    other.request(sa_msg(spi=0x700))  # its broadcast and promiscuous copies now wait on svc's socket
    reply = svc.request(sa_msg(spi=0x701))
    assert (reply.type, reply.pid, reply.get(ExtType.SA).spi) == (MsgType.ADD, 222, 0x701)
    assert reply.seq != 0
    assert any(m.pid == 111 for m in svc.others)


def test_request_raises_kernel_errors_with_setkey_wording(host: SimHost) -> None:
    svc = KeyService(SimTransport(host))
    with pytest.raises(KernelReplyError) as exc:
        svc.request(lookup_msg(MsgType.GET, 0x999))
    assert exc.value.errno == errno.ESRCH and exc.value.msg_type == MsgType.GET
    assert str(exc.value) == "No such process"
    svc.request(sa_msg(spi=0x702))
    with pytest.raises(KernelReplyError, match="File exists"):
        svc.request(sa_msg(spi=0x702))


def test_dump_spddump_empty_and_full(host: SimHost) -> None:
    svc = KeyService(SimTransport(host))
    assert svc.dump() == [] and svc.spddump() == []
    for spi in range(0x800, 0x80A):
        svc.request(sa_msg(spi=spi))
    svc.request(policy_msg())
    sas = svc.dump(SAType.ESP)
    assert [m.get(ExtType.SA).spi for m in sas] == list(range(0x809, 0x7FF, -1))
    assert sas[-1].seq == 0 and svc.dump(SAType.AH) == []
    assert len(svc.spddump()) == 1


def test_register_returns_the_lists(host: SimHost) -> None:
    auth, enc = KeyService(SimTransport(host)).register()
    assert len(auth) == 8 and len(enc) == 10


class ScriptedTransport:
    """A transport answering from a script of messages (to test matching without a kernel)."""

    platform = LINUX
    description = "scripted"

    def __init__(self, answer: object) -> None:
        self.sent: list[Message] = []
        self.queue: deque[bytes] = deque()
        self.answer = answer

    def send(self, data: bytes) -> None:
        msg = decode(data, LINUX)
        self.sent.append(msg)
        self.queue.extend(self.answer(msg))  # type: ignore[operator]

    def recv(self, timeout: float | None = None) -> bytes | None:
        return self.queue.popleft() if self.queue else None

    def set_promisc(self, on: bool) -> None:
        pass

    def close(self) -> None:
        pass


def test_replies_with_another_seq_pid_or_type_are_not_taken() -> None:
    def answer(req: Message) -> list[bytes]:
        wrong = [
            req._replace(seq=req.seq + 1),
            req._replace(pid=req.pid + 1),
            req._replace(type=MsgType.DELETE),
            b"\x02\x03",  # garbage is skipped
        ]
        return [w if isinstance(w, bytes) else w.encode(LINUX) for w in wrong] + [req.encode(LINUX)]

    t = ScriptedTransport(answer)
    svc = KeyService(t, pid=5)
    got = svc.request(header_only(MsgType.X_SPDFLUSH))
    assert got == t.sent[0]
    assert len(svc.others) == 3
    assert svc.next_seq() != t.sent[0].seq


def test_timeout_when_no_answer() -> None:
    svc = KeyService(ScriptedTransport(lambda req: []), pid=5)
    with pytest.raises(ReplyTimeout):
        svc.request(header_only(MsgType.FLUSH), timeout=0.05)
    assert isinstance(ReplyTimeout("x"), TransportError)


def test_dump_until_seq_zero_ignores_foreign_messages() -> None:
    def answer(req: Message) -> list[bytes]:
        foreign = header_only(MsgType.ADD, 3, pid=999).encode(LINUX)
        parts = [req._replace(seq=1, satype=3), req._replace(seq=2, satype=3), req._replace(seq=0, satype=3)]
        return [parts[0].encode(LINUX), foreign, parts[1].encode(LINUX), parts[2].encode(LINUX)]

    svc = KeyService(ScriptedTransport(answer), pid=5)
    assert [m.seq for m in svc.dump()] == [1, 2, 0]
    assert [m.pid for m in svc.others] == [999]


def test_simulated_traffic_on_the_in_process_transport(host: SimHost) -> None:
    km = KeyService(SimTransport(host), pid=500)
    km.register(SAType.ESP)
    km.request(policy_msg())
    verdict = km.transport.simulate_traffic(Packet.parse("10.1.0.7", "10.2.0.7", 17, dport=53))  # type: ignore[attr-defined]
    assert verdict == PacketVerdict(Verdict.ACQUIRE, verdict.policy_id, (), 1)
    acquire = [m for m in km.others if m.type == MsgType.ACQUIRE]
    while not acquire:
        data = km.transport.recv(1.0)
        assert data is not None
        msg = decode(data, LINUX)
        if msg.type == MsgType.ACQUIRE:
            acquire.append(msg)
    assert acquire[0].get(ExtType.ADDRESS_DST).sockaddr.ip.exploded == "10.2.0.7"


def test_a_promiscuous_service_tells_replies_from_copies(host: SimHost) -> None:
    svc = KeyService(SimTransport(host), pid=600)
    svc.set_promisc(True)
    flushed = svc.request(header_only(MsgType.FLUSH))  # its echo is byte-identical to the reply
    assert flushed.type == MsgType.FLUSH
    for spi in (0xA00, 0xA01, 0xA02):
        assert svc.request(sa_msg(spi=spi)).get(ExtType.SA).spi == spi
    assert [m.get(ExtType.SA).spi for m in svc.dump()] == [0xA02, 0xA01, 0xA00]
    assert len(svc.spddump()) == 0


def test_discard_pending_drops_what_waits_and_counts_it(host: SimHost) -> None:
    other = KeyService(SimTransport(host), pid=111)
    svc = KeyService(SimTransport(host), pid=222)
    for spi in (0x800, 0x801, 0x802):
        other.request(sa_msg(spi=spi))  # each ADD is broadcast to every socket, svc's too
    assert svc.discard_pending() == 3
    assert svc.discard_pending() == 0
    assert svc.request(sa_msg(spi=0x803)).get(ExtType.SA).spi == 0x803


def test_discard_pending_goes_past_a_loss_report() -> None:
    class Lossy(ScriptedTransport):
        def recv(self, timeout: float | None = None) -> bytes | None:
            item = self.queue.popleft() if self.queue else None
            if item == b"lost":
                raise MessagesLost("dropped")
            return item

    t = Lossy(lambda req: [])
    t.queue.extend([b"a", b"lost", b"b"])
    assert KeyService(t).discard_pending() == 2 and not t.queue


def test_trace_acquire_then_pending_then_no_policy(host: SimHost) -> None:
    svc = KeyService(SimTransport(host), pid=700)
    svc.register(SAType.ESP)
    svc.request(policy_msg())  # 10.1.0.0/24 -> 10.2.0.0/24 out, esp require
    first, again = svc.trace(Packet.parse("10.1.0.7", "10.2.0.7", "udp", dport=53), 2)
    assert isinstance(first, TraceResult) and first.verdict.verdict is Verdict.ACQUIRE
    assert (first.verdict.acquires, again.verdict.acquires, first.carriers) == (1, 0, ())
    assert first.policy is not None and first.policy.type == MsgType.X_SPDGET  # the kernel's own answer
    assert first.policy is again.policy  # asked once per run
    text = describe_traffic(first)
    assert text.startswith(f"policy {first.verdict.policy_id} (out ipsec): 10.1.0.0/24[any] -> 10.2.0.0/24[any] ")
    assert text.endswith("no SA: the kernel raised ACQUIRE for a key manager; the packet is dropped")
    assert "already pending" in describe_traffic(again)
    (clear,) = svc.trace(Packet.parse("192.0.2.1", "192.0.2.2"))
    assert clear == TraceResult(PacketVerdict(Verdict.NO_POLICY))
    assert describe_traffic(clear) == "no policy matched: sent in the clear"


def test_trace_tells_the_carrying_sa_in_its_state_after_each_packet(host: SimHost) -> None:
    svc = KeyService(SimTransport(host), pid=701)
    svc.request(policy_msg(MsgType.X_SPDADD, "10.0.0.1", "10.0.0.2", 32))
    svc.request(sa_msg(spi=0x900))  # 10.0.0.1 -> 10.0.0.2 esp transport
    results = list(svc.trace(Packet.parse("10.0.0.1", "10.0.0.2", size=300), 2))
    for n, result in enumerate(results, 1):
        assert result.verdict.verdict is Verdict.PROTECTED and result.verdict.sa_spis == (0x900,)
        (sa,) = result.carriers
        cur = sa.get(ExtType.LIFETIME_CURRENT)
        assert (cur.bytes, cur.allocations) == (300 * n, n)
    assert describe_traffic(results[-1]).endswith(
        "carried by esp SA 0x00000900 10.0.0.1 -> 10.0.0.2, now 600 bytes (2 packets)")


def test_trace_looks_in_the_given_tables_first(host: SimHost) -> None:
    svc = KeyService(SimTransport(host), pid=703)
    svc.request(policy_msg(MsgType.X_SPDADD, "10.0.0.1", "10.0.0.2", 32))
    svc.request(sa_msg(spi=0x901))
    asked: list[str] = []
    table_policy = svc.spddump()[0]

    def known_sas() -> list[Message]:
        asked.append("sas")
        return []  # the table does not hold it (yet): no carrier is told

    def known_policy(policy_id: int) -> Message | None:
        asked.append(f"policy {policy_id}")
        return table_policy

    results = list(svc.trace(Packet.parse("10.0.0.1", "10.0.0.2"), 3, known_sas=known_sas,
                             known_policy=known_policy))
    pid = results[0].verdict.policy_id
    assert asked == ["sas", f"policy {pid}"]  # each asked once for the run
    assert all(r.policy is table_policy and r.carriers == () for r in results)
    assert describe_traffic(results[0]).endswith("matched: carried by SA 0x00000901")


def test_trace_of_a_packet_the_kernel_refuses_names_the_field(host: SimHost) -> None:
    class Refusing(SimTransport):
        def simulate_traffic(self, packet: Packet) -> PacketVerdict:
            raise PacketError("size", "too big for this kernel")

    results = KeyService(Refusing(host)).trace(Packet.parse("10.0.0.1", "10.0.0.2"))
    with pytest.raises(PacketError) as exc:
        next(results)
    assert (exc.value.field, str(exc.value)) == ("size", "packet size: too big for this kernel")


def test_trace_only_on_a_simulated_kernel() -> None:
    svc = KeyService(ScriptedTransport(lambda req: []))
    assert not svc.can_simulate_traffic
    with pytest.raises(TrafficUnavailable) as exc:
        svc.trace(Packet.parse("10.0.0.1", "10.0.0.2"))  # at once, before any packet is read
    assert str(exc.value) == "traffic can only be simulated on the simulated kernel (this is: scripted)"
    assert isinstance(exc.value, TransportError)


def test_service_traffic_on_a_served_kernel(tmp_path) -> None:
    import threading

    from setkey_tui.kernel.sim.client import SimClient
    from setkey_tui.kernel.sim.server import SimServer

    path = str(tmp_path / "k.sock")
    server = SimServer(path, SimHost(SimKernel(seed=4)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert server.ready.wait(5)
    try:
        svc = KeyService(SimClient(path), pid=702)
        assert svc.can_simulate_traffic
        svc.request(policy_msg())
        (result,) = svc.trace(Packet.parse("10.1.0.1", "10.2.0.1"))
        assert result.verdict.verdict is Verdict.ACQUIRE and result.policy is not None
        with pytest.raises(PacketError) as exc:  # the server checks a request with the same Packet.parse
            svc.transport.simulate_traffic(replace(Packet.parse("10.1.0.1", "10.2.0.1"), size=0))
        assert (exc.value.field, exc.value.reason) == ("size", "0 is out of range (1-65535)")
        svc.close()
    finally:
        server.stop()
        thread.join(5)


def test_dump_stream_yields_replies_as_bytes_as_they_come(host: SimHost) -> None:
    svc = KeyService(SimTransport(host))
    assert list(svc.dump_stream(MsgType.DUMP)) == []  # ENOENT: empty
    for spi in range(0x800, 0x805):
        svc.request(sa_msg(spi=spi))
    stream = svc.dump_stream(MsgType.DUMP)
    first = next(stream)  # the first reply before the dump is over
    rest = list(stream)
    got = [decode(b, LINUX) for b in [first, *rest]]
    assert [m.get(ExtType.SA).spi for m in got] == list(range(0x804, 0x7FF, -1)) and got[-1].seq == 0
    assert [m.get(ExtType.SA).spi for m in svc.dump()] == [m.get(ExtType.SA).spi for m in got]


def test_dump_stream_waits_per_message_and_skips_foreign() -> None:
    def answer(req: Message) -> list[bytes]:
        foreign = header_only(MsgType.DUMP, 3, pid=999, seq=0).encode(LINUX)  # another process's dump
        parts = [req._replace(seq=2, satype=3), req._replace(seq=1, satype=3)]  # never the last (seq 0)
        return [parts[0].encode(LINUX), foreign, parts[1].encode(LINUX)]

    svc = KeyService(ScriptedTransport(answer), pid=5)
    got = []
    with pytest.raises(ReplyTimeout):
        for b in svc.dump_stream(MsgType.DUMP, timeout=0.1):
            got.append(decode(b, LINUX).seq)
    assert got == [2, 1] and [m.pid for m in svc.others] == [999]


def test_in_flight_marks_read_only_requests_while_they_wait(host: SimHost) -> None:
    from setkey_tui.service import InFlight

    log: list[tuple[str, int, bool]] = []

    class Recording(InFlight):
        def begin(self, msg_type: int, seq: int) -> None:
            super().begin(msg_type, seq)
            log.append(("begin", msg_type, (msg_type, seq) in self))

        def end(self, msg_type: int, seq: int) -> None:
            super().end(msg_type, seq)
            log.append(("end", msg_type, (msg_type, seq) in self))

    svc = KeyService(SimTransport(host), pid=41, in_flight=Recording(41))
    svc.register()
    svc.request(sa_msg(spi=0x900))  # an ADD changes the kernel: its copies are news, never marked
    assert log == [("begin", MsgType.REGISTER, True), ("end", MsgType.REGISTER, False)]
