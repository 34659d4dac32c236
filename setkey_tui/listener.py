"""The background listener: a promiscuous PF_KEY socket whose messages become events on a queue.

It never touches widgets: the app drains ``events`` on a timer. Events: :class:`MessageEvent` (one message,
decoded when possible), :class:`OwnDumpEvent` (a dump this process asked for ended: how many of its replies were
copied here), :class:`LostEvent` (the kernel dropped messages: resynchronise with a dump), :class:`FailedEvent`
(the listener stopped).

On Linux a promiscuous socket also gets a copy of every reply to this process's own requests, the replies to
its own DUMP and SPDDUMP included (100k SAs: 100k copies). Those are told apart by their header alone — this
process's pid, and a dump type or the (type, seq) of a read-only request in flight — and are counted, never
decoded. Messages of any other process are always decoded and passed on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from setkey_tui.kernel.base import MessagesLost, Transport, TransportError
from setkey_tui.pfkey.message import Message, decode, unwrap_promisc
from setkey_tui.pfkey.wire import DecodeError
from setkey_tui.service import DUMP_TYPES, READ_ONLY_REQUESTS, Header, InFlight

POLL_INTERVAL = 0.1  # seconds a recv waits before the thread checks whether to stop


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """One message seen on the promiscuous socket; ``msg`` None and ``error`` set when it does not decode."""

    data: bytes
    msg: Message | None
    error: str | None
    when: float


@dataclass(frozen=True, slots=True)
class OwnDumpEvent:
    """A dump this process asked for ended (or was cut by a loss): ``count`` replies copied here, not shown."""

    msg_type: int
    count: int
    complete: bool = True


@dataclass(frozen=True, slots=True)
class LostEvent:
    """Messages were lost (ENOBUFS): the receiver must resynchronise by dumping."""

    reason: str


@dataclass(frozen=True, slots=True)
class FailedEvent:
    """The listener could not open its socket or the socket failed; it has stopped."""

    reason: str


Event = MessageEvent | OwnDumpEvent | LostEvent | FailedEvent


class EventSink(Protocol):
    """Where a listener puts its events: a ``queue.SimpleQueue`` of them (or of them and more)."""

    def put(self, item: Event, /) -> None:
        """Queue one event (never blocks)."""


class Listener:
    """Runs a thread that opens a transport, turns promiscuous mode on and forwards every message.

    ``open_transport`` is called in the thread (so a slow or failing open never blocks the caller).
    """

    def __init__(
        self,
        open_transport: Callable[[], Transport],
        events: EventSink,
        *,
        clock: Callable[[], float] = time.time,
        in_flight: InFlight | None = None,
    ) -> None:
        self._open = open_transport
        self.events = events
        self._clock = clock
        self.in_flight = in_flight
        self.own_dumps: dict[int, int] = {}  # dump type -> copies of this process's replies counted so far
        self.decoded = 0  # messages decoded and passed on (the others' messages)
        self.skipped = 0  # copies of this process's own replies, counted and not decoded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pfkey-listener", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to stop and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        try:
            transport = self._open()
        except TransportError as exc:
            self.events.put(FailedEvent(str(exc)))
            self.ready.set()
            return
        except OSError as exc:
            self.events.put(FailedEvent(f"cannot open the kernel socket: {exc.strerror or exc}"))
            self.ready.set()
            return
        except Exception as exc:  # noqa: BLE001 - the thread's edge: the app must hear of it, not die
            self.events.put(FailedEvent(f"cannot open the kernel socket: {type(exc).__name__}: {exc}"))
            self.ready.set()
            return
        try:
            transport.set_promisc(True)
            self.ready.set()
            self._loop(transport)
        except TransportError as exc:
            self.events.put(FailedEvent(str(exc)))
        except OSError as exc:
            self.events.put(FailedEvent(f"kernel socket failed: {exc.strerror or exc}"))
        except Exception as exc:  # noqa: BLE001 - the thread's edge: the app must hear of it, not die
            self.events.put(FailedEvent(f"the listener failed: {type(exc).__name__}: {exc}"))
        finally:
            self.ready.set()
            try:
                transport.close()
            except (OSError, TransportError):
                pass

    def own_copy(self, data: bytes, header: Header) -> bool:
        """Whether ``data`` is a copy of a reply to one of this process's own requests (counted, not decoded).
        The end of an own dump queues an :class:`OwnDumpEvent`."""
        flight = self.in_flight
        if flight is None or len(data) < 16:
            return False
        mtype, errno, _, seq, pid = header.read(data)
        if pid != flight.pid:
            return False
        if mtype in DUMP_TYPES:
            self.skipped += 1
            if len(data) == 16 and not errno:
                return True  # the copy of the DUMP request itself
            n = self.own_dumps.get(mtype, 0) + (0 if errno else 1)
            if seq == 0 or errno:
                self.own_dumps.pop(mtype, None)
                self.events.put(OwnDumpEvent(mtype, n))
            else:
                self.own_dumps[mtype] = n
            return True
        if mtype in READ_ONLY_REQUESTS and (mtype, seq) in flight:
            self.skipped += 1
            return True
        return False

    def _loss(self, exc: MessagesLost) -> None:
        for mtype, n in self.own_dumps.items():
            self.events.put(OwnDumpEvent(mtype, n, complete=False))
        self.own_dumps.clear()
        self.events.put(LostEvent(str(exc) or "messages were lost (ENOBUFS)"))

    def _loop(self, transport: Transport) -> None:
        platform = transport.platform
        header = Header(platform)
        own_copy = self.own_copy
        put = self.events.put
        wraps = platform.promisc_wraps
        clock = self._clock
        flight = self.in_flight
        # Only a message carrying this process's pid can be an own copy: four bytes compared, no unpacking,
        # for every message of another process.
        mine = -1 if flight is None else flight.pid
        pid_bytes = b"" if mine < 0 else mine.to_bytes(4, "little" if platform.byteorder == "<" else "big")
        dump_types = {platform.msg_to_wire.get(t, t): t for t in DUMP_TYPES}  # wire type -> DUMP, SPDDUMP
        own_dumps = self.own_dumps
        last_seq = b"\0\0\0\0"
        recv_many = getattr(transport, "recv_many", None)  # PF_KEY: many messages per system call
        recv = transport.recv
        stop = self._stop.is_set
        while not stop():
            try:
                if recv_many is not None:
                    batch = recv_many(POLL_INTERVAL)
                else:
                    one = recv(POLL_INTERVAL)
                    batch = [] if one is None else [one]
            except MessagesLost as exc:
                self._loss(exc)
                continue
            for data in batch:
                if wraps:
                    data = unwrap_promisc(data, platform)
                if pid_bytes and data[12:16] == pid_bytes:
                    dump = dump_types.get(data[1])
                    if dump is not None and len(data) > 16 and not data[2] and data[8:12] != last_seq:
                        own_dumps[dump] = own_dumps.get(dump, 0) + 1  # a reply of our dump, not its last
                        self.skipped += 1
                        continue
                    if own_copy(data, header):
                        continue
                when = clock()
                try:
                    msg: Message | None = decode(data, platform)
                    error = None
                except DecodeError as exc:
                    msg, error = None, str(exc)
                self.decoded += 1
                put(MessageEvent(data, msg, error, when))
