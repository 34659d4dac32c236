"""One kernel conversation on top of a :class:`~setkey_tui.kernel.base.Transport`.

``KeyService.request`` sends one message and waits for the kernel's answer to it: the message with the same
``seq``, ``pid`` and type, while broadcasts of other processes keep arriving (they are set aside, see
:attr:`KeyService.others`). ``dump``/``spddump`` iterate a multi-message dump until ``seq`` 0; ``register``
asks once for the supported algorithms.
"""

from __future__ import annotations

import errno as errno_mod
import itertools
import os
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from setkey_tui.kernel.base import MessagesLost, NotesSource, TrafficSimulator, Transport, TransportError
from setkey_tui.packet import Packet, TraceResult
from setkey_tui.pfkey.constants import (
    Direction,
    ExtType,
    MsgType,
    PolicyType,
    SAState,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Alg,
    Extension,
    PolicyExt,
    SAExt,
    SupportedExt,
)
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import Platform
from setkey_tui.pfkey.wire import DecodeError
from setkey_tui.render.errors import strerror_setkey

_SEQ_START = 1


class KernelReplyError(Exception):
    """The kernel answered a request with ``sadb_msg_errno`` set; ``str()`` is setkey's wording."""

    def __init__(self, errno: int, msg_type: int) -> None:
        self.errno = errno
        self.msg_type = msg_type
        super().__init__(errno, msg_type)

    def __str__(self) -> str:
        return strerror_setkey(self.errno, self.msg_type)


class ReplyTimeout(TransportError):
    """No answer from the kernel within the time allowed."""


class TrafficUnavailable(TransportError):
    """Traffic can only be simulated on the simulated kernel (this transport has no packets to send)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"traffic can only be simulated on the simulated kernel (this is: {what})")


# Requests whose answers change nothing: their promiscuous copies are not news for a listener.
READ_ONLY_REQUESTS = frozenset({MsgType.GET, MsgType.X_SPDGET, MsgType.REGISTER})
DUMP_TYPES = frozenset({MsgType.DUMP, MsgType.X_SPDDUMP})


class InFlight:
    """This process's requests still waiting for their answer, by (type, seq): shared by the service that sends
    them and the listener that must not take their promiscuous copies for news. Thread-safe."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._lock = threading.Lock()
        self._requests: set[tuple[int, int]] = set()

    def begin(self, msg_type: int, seq: int) -> None:
        """A request was sent."""
        with self._lock:
            self._requests.add((msg_type, seq))

    def end(self, msg_type: int, seq: int) -> None:
        """Its answer came (or never will)."""
        with self._lock:
            self._requests.discard((msg_type, seq))

    def __contains__(self, item: object) -> bool:
        return item in self._requests


class Header:
    """Reads the fields of a ``sadb_msg`` header from bytes, without decoding the message."""

    def __init__(self, platform: Platform) -> None:
        self._unpack = struct.Struct(platform.byteorder + "BBBBHHII").unpack_from
        self._types = platform.msg_from_wire

    def read(self, data: bytes) -> tuple[int, int, int, int, int]:
        """(canonical type, errno, satype, seq, pid); raises ``struct.error`` below 16 bytes."""
        _, wire_type, errno, satype, _, _, seq, pid = self._unpack(data)
        return self._types.get(wire_type, wire_type), errno, satype, seq, pid


class KeyService:
    """Requests and their replies, matched by seq + pid + type, on one transport.

    ``pid`` is the value put in ``sadb_msg_pid`` (default: this process's id); each request gets a fresh
    sequence number. Messages that are not the awaited reply are kept (bounded) in :attr:`others`.
    """

    def __init__(self, transport: Transport, *, pid: int | None = None, keep_others: int = 10000,
                 in_flight: InFlight | None = None) -> None:
        self.transport = transport
        self.pid = os.getpid() if pid is None else pid
        self._seq = itertools.count(_SEQ_START)
        self.others: deque[Message] = deque(maxlen=keep_others)
        self.promisc = False
        self.in_flight = in_flight
        self._seq_pid = struct.Struct(transport.platform.byteorder + "II").unpack_from

    @property
    def platform(self) -> Platform:
        """The transport's platform."""
        return self.transport.platform

    @property
    def description(self) -> str:
        """What kernel this is ("real PF_KEY", "simulated kernel ...")."""
        return self.transport.description

    @property
    def can_simulate_traffic(self) -> bool:
        """True on the simulated kernel (in-process, served or remote): :meth:`trace` works there."""
        return isinstance(self.transport, TrafficSimulator)

    def next_seq(self) -> int:
        """A fresh sequence number (never 0: 0 marks the last message of a dump)."""
        seq = next(self._seq) & 0xFFFFFFFF
        if seq == 0:
            self._seq = itertools.count(_SEQ_START + 1)
            seq = _SEQ_START
        return seq

    def set_promisc(self, on: bool) -> None:
        """Make this service's own socket promiscuous (or not); replies are still told apart from copies."""
        self.transport.set_promisc(on)
        self.promisc = on

    def _send(self, msg: Message, seq: int | None = None) -> tuple[Message, bytes]:
        msg = msg._replace(seq=self.next_seq() if seq is None else seq, pid=self.pid)
        data = msg.encode(self.platform)
        self.transport.send(data)
        return msg, data

    def _await(
        self, sent: Message, data: bytes, deadline: float, match: Callable[[Message], bool]
    ) -> Message:
        """The next message ``match`` accepts; the rest go to :attr:`others`. On a promiscuous socket the
        kernel's copy of the request itself (the first byte-identical message) is not taken for the reply."""
        echo: bytes | None = data if self.promisc else None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReplyTimeout(f"no answer from the kernel to {sent.type_name} (timed out)")
            got_data = self.transport.recv(left)
            if got_data is None:
                continue
            if echo is not None and got_data == echo:
                echo = None
                continue
            try:
                got = decode(got_data, self.platform)
            except DecodeError:
                continue
            if match(got):
                return got
            self.others.append(got)

    def request(self, msg: Message, timeout: float = 5.0) -> Message:
        """Send ``msg`` (seq and pid are set here) and return the kernel's reply: the next message with the
        same seq, pid and type.

        Raises :class:`KernelReplyError` when the reply carries an errno, :class:`ReplyTimeout` when none
        comes. A FLUSH/SPDFLUSH on Linux yields two messages for the sender; the first (the unicast one) is
        returned and the second lands in :attr:`others` later.
        """
        flight = self.in_flight if msg.type in READ_ONLY_REQUESTS else None
        seq = self.next_seq()
        if flight is not None:
            flight.begin(msg.type, seq)
        try:
            sent, data = self._send(msg, seq)

            def match(got: Message) -> bool:
                return got.seq == sent.seq and got.pid == sent.pid and got.type == sent.type

            reply = self._await(sent, data, time.monotonic() + timeout, match)
        finally:
            if flight is not None:
                flight.end(msg.type, seq)
        if reply.errno:
            raise KernelReplyError(reply.errno, reply.type)
        return reply

    def _dump(self, msg_type: int, satype: int, timeout: float) -> list[Message]:
        """Dump replies carry the requester's pid and a counting seq (not the request's); the last: seq 0."""
        sent, data = self._send(header_only(msg_type, satype))
        out: list[Message] = []

        def match(got: Message) -> bool:
            return got.type == sent.type and got.pid == sent.pid

        while True:
            got = self._await(sent, data, time.monotonic() + timeout, match)
            data = b""  # only the first message can be the request's own copy
            if got.errno:
                if got.errno == errno_mod.ENOENT and not out:
                    return []
                raise KernelReplyError(got.errno, got.type)
            if self.promisc and out and got == out[-1]:
                continue  # a promiscuous socket gets each of its replies twice
            out.append(got)
            if got.seq == 0:
                return out

    def dump_stream(self, msg_type: int, satype: int = 0, timeout: float = 5.0, *, idle: float = 0.05,
                    on_idle: Callable[[], None] | None = None) -> Iterator[bytes]:
        """The replies to a DUMP or X_SPDDUMP as they arrive, as bytes (not decoded: the caller reads what it
        needs); nothing when the table is empty. Each reply must come within ``timeout`` seconds of the
        previous one. Replies are told from broadcasts by their header alone (type and pid). ``on_idle`` is
        called whenever no reply came for ``idle`` seconds (to hand over what was read so far). Where the
        transport has ``recv_many`` (PF_KEY: recvmmsg), many replies are read per system call."""
        sent, data = self._send(header_only(msg_type, satype))
        echo: bytes | None = data if self.promisc else None
        recv_many = getattr(self.transport, "recv_many", None)
        if recv_many is None:
            recv = self.transport.recv

            def recv_many(wait: float | None) -> list[bytes]:
                got = recv(wait)
                return [] if got is None else [got]

        wire_type = self.platform.msg_to_wire.get(msg_type, msg_type)
        seq_pid = self._seq_pid
        want_pid = sent.pid
        promisc = self.promisc
        wait = min(timeout, idle) if on_idle is not None else timeout
        previous = b""
        first = True
        deadline: float | None = None  # set when waiting starts; a reply clears it
        while True:
            batch = recv_many(wait)
            replied = False
            for i, got in enumerate(batch):
                # The fast path, taken by every reply: its header alone says it is one.
                if len(got) >= 16 and got[1] == wire_type:
                    seq, pid = seq_pid(got, 8)
                    if pid == want_pid:
                        if echo is not None and got == echo:
                            echo = None
                            continue
                        echo = None
                        replied = True
                        errno = got[2]
                        if errno:
                            self._keep(batch, i + 1)
                            if errno == errno_mod.ENOENT and first:
                                return
                            raise KernelReplyError(errno, msg_type)
                        first = False
                        if promisc and got == previous:
                            continue  # a promiscuous socket gets each of its replies twice
                        previous = got
                        yield got
                        if seq == 0:
                            self._keep(batch, i + 1)
                            return
                        continue
                self._keep(batch, i, i + 1)
            if replied:
                deadline = None
                continue
            now = time.monotonic()
            if deadline is None:
                deadline = now + timeout
            elif now >= deadline:
                raise ReplyTimeout(f"no answer from the kernel to {sent.type_name} (timed out)")
            if not batch and on_idle is not None:
                on_idle()

    def _keep(self, batch: list[bytes], start: int, stop: int | None = None) -> None:
        """Keep the messages ``batch[start:stop]`` (not replies to the request at hand) in :attr:`others`."""
        for got in batch[start:stop]:
            try:
                self.others.append(decode(got, self.platform))
            except DecodeError:
                pass

    def dump(self, satype: int = 0, timeout: float = 5.0) -> list[Message]:
        """Every SA (SADB_DUMP) of ``satype`` (0: all); [] when the SAD is empty."""
        return self._dump(MsgType.DUMP, satype, timeout)

    def spddump(self, timeout: float = 5.0) -> list[Message]:
        """Every policy (SADB_X_SPDDUMP); [] when the SPD is empty."""
        return self._dump(MsgType.X_SPDDUMP, 0, timeout)

    def register(self, satype: int = 0, timeout: float = 5.0) -> tuple[tuple[Alg, ...], tuple[Alg, ...]]:
        """SADB_REGISTER: the kernel's supported (auth, encrypt) algorithm lists."""
        reply = self.request(header_only(MsgType.REGISTER, satype), timeout)
        auth = reply.get(ExtType.SUPPORTED_AUTH)
        enc = reply.get(ExtType.SUPPORTED_ENCRYPT)
        return (
            auth.algs if isinstance(auth, SupportedExt) else (),
            enc.algs if isinstance(enc, SupportedExt) else (),
        )

    def discard_pending(self, limit: int = 100_000) -> int:
        """Drop the messages waiting on this service's socket (broadcasts that piled up since the last
        request; a listener has its own copies), so that a full receive buffer (ENOBUFS) is not taken for an
        answer. Returns how many were dropped (at most ``limit``; a loss report is not counted)."""
        dropped = 0
        for _ in range(limit):
            try:
                if self.transport.recv(0) is None:
                    break
            except MessagesLost:
                continue
            dropped += 1
        return dropped

    def trace(
        self,
        packet: Packet,
        count: int = 1,
        *,
        known_sas: Callable[[], Iterable[Message]] | None = None,
        known_policy: Callable[[int], Message | None] | None = None,
    ) -> Iterator[TraceResult]:
        """Send ``packet`` ``count`` times through the simulated kernel's SPD, one at a time as the iterator is
        read; for each, the kernel's verdict, the policy that matched and the SAs that carried it in their state
        just after it (SADB_GET). The SAs are looked for among ``known_sas()`` (called once, at the first
        packet an SA carries: a table's rows; default a dump); a policy is ``known_policy(id)`` (else, or when
        that is None, SADB_X_SPDGET), asked once per run. The kernel's messages the packets cause (ACQUIRE,
        EXPIRE) reach the sockets as usual.

        Raises :class:`TrafficUnavailable` at once on any other kernel; while iterating,
        :class:`~setkey_tui.packet.PacketError` when the kernel refuses the packet, :class:`TransportError` or
        :class:`KernelReplyError` when it fails.
        """
        sim = self.transport
        if not isinstance(sim, TrafficSimulator):
            raise TrafficUnavailable(self.description)
        return self._trace(sim, packet, count, known_sas or self.dump, known_policy or (lambda _id: None))

    def _trace(self, sim: TrafficSimulator, packet: Packet, count: int, known_sas: Callable[[], Iterable[Message]],
               known_policy: Callable[[int], Message | None]) -> Iterator[TraceResult]:
        self.discard_pending()
        by_spi: dict[int, list[Message]] | None = None
        policies: dict[int, Message | None] = {}
        for _ in range(count):
            verdict = sim.simulate_traffic(packet)
            carriers: tuple[Message, ...] = ()
            if verdict.sa_spis:
                if by_spi is None:
                    by_spi = {}
                    for msg in known_sas():
                        sa = msg.get(ExtType.SA)
                        if isinstance(sa, SAExt):
                            by_spi.setdefault(sa.spi, []).append(msg)
                known = [m for spi in dict.fromkeys(verdict.sa_spis) for m in by_spi.get(spi, ())]
                carriers = tuple(self.carriers(verdict.sa_spis, known))
            policy: Message | None = None
            if verdict.policy_id is not None:
                if verdict.policy_id not in policies:
                    policies[verdict.policy_id] = known_policy(verdict.policy_id) or self._policy_or_none(
                        verdict.policy_id)
                policy = policies[verdict.policy_id]
            yield TraceResult(verdict, policy, carriers)

    def _policy_or_none(self, policy_id: int) -> Message | None:
        try:
            return self.get_policy(policy_id)
        except KernelReplyError:
            return None

    def get_sa(self, satype: int, spi: int, src: AddressExt | None, dst: AddressExt, timeout: float = 5.0) -> Message:
        """SADB_GET of one SA: its current state (lifetimes included), as the kernel tells it."""
        exts: list[Extension] = [SAExt(spi=spi)]
        exts += [a._replace(trailer=b"") for a in (src, dst) if a is not None]
        return self.request(Message(MsgType.GET, satype, extensions=tuple(exts)), timeout)

    def get_policy(self, policy_id: int, timeout: float = 5.0) -> Message:
        """SADB_X_SPDGET of the policy with this id (its direction is ``id % 8`` on Linux)."""
        direction = (policy_id & 7) + 1
        if direction not in (Direction.INBOUND, Direction.OUTBOUND, Direction.FWD):
            direction = Direction.OUTBOUND
        pol = PolicyExt(PolicyType.IPSEC, direction, policy_id)
        return self.request(Message(MsgType.X_SPDGET, 0, extensions=(pol,)), timeout)

    def carriers(self, spis: Iterable[int], known: Iterable[Message], timeout: float = 5.0) -> list[Message]:
        """The current state (SADB_GET) of the SAs with these SPIs, found among ``known`` SA messages (a dump,
        the rows of a table); an SA that is gone by now (a hard expiry) is left out."""
        wanted = set(spis)
        out: list[Message] = []
        for msg in known:
            sa, dst = msg.get(ExtType.SA), msg.get(ExtType.ADDRESS_DST)
            if not isinstance(sa, SAExt) or sa.spi not in wanted or not isinstance(dst, AddressExt):
                continue
            if sa.state in (SAState.LARVAL, SAState.DEAD):
                continue
            src = msg.get(ExtType.ADDRESS_SRC)
            try:
                out.append(self.get_sa(msg.satype, sa.spi, src if isinstance(src, AddressExt) else None, dst,
                                       timeout))
            except KernelReplyError:
                continue
        return out

    def notes_for(self, msg: Message) -> list[str]:
        """What the kernel holds about ``msg``'s entry that PF_KEY cannot say (XFRM transport: AEAD, ESN,
        marks, …), one line each; [] on every other transport."""
        notes = self.transport.notes_for(msg) if isinstance(self.transport, NotesSource) else None
        return list(notes.text()) if notes else []

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()

