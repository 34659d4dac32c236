"""The simulated kernel in-process: a thread-safe host for one :class:`SimKernel` and its socket queues.

Every :class:`SimTransport` is one PF_KEY "socket" on a shared :class:`SimHost`. Deliveries go to
per-socket queues bounded like a socket's receive buffer: when a copy does not fit, it is dropped and the
socket's next ``recv`` raises :class:`MessagesLost` (the real kernel's ENOBUFS). Lifetimes expire lazily:
each ``send``/``recv`` first runs the kernel's clock (``tick``), so no thread is needed.

Dumps are paced as Linux paces them (see :mod:`.dump`): a DUMP fills the socket's queue to 2/3 of
``dump_rcvbuf`` and every read that leaves it at most 1/3 full continues the walk, so the first reply is
ready at once and a dump of any size holds at most that much memory. ``dump_rcvbuf`` is a default Linux
socket's buffer (net.core.rmem_default); the larger ``rcvbuf`` only decides when copies are dropped.
"""

from __future__ import annotations

import errno as errno_mod
import os
import threading
import time
from collections import deque

from setkey_tui.kernel.base import MessagesLost, TrafficSimulator, TransportError
from setkey_tui.kernel.sim.kernel import Delivery, Refused, SimKernel, TrafficResult
from setkey_tui.packet import Packet, PacketVerdict
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import LINUX, Platform

DEFAULT_RCVBUF = 64 * 1024 * 1024  # bytes a socket may hold unread before copies are dropped
DUMP_RCVBUF = 212_992  # net.core.rmem_default: the buffer a dump is paced against
TICK_SLICE = 0.2  # seconds a blocked recv sleeps before running the clock again


class _Queue:
    """One socket's receive queue."""

    __slots__ = ("items", "size", "lost", "limit", "discard")

    def __init__(self, limit: int) -> None:
        self.items: deque[bytes] = deque()
        self.size = 0
        self.lost = 0
        self.limit = limit
        self.discard = False  # nobody will read it: copies are not kept


class SimHost:
    """Owns a :class:`SimKernel`, serialises access to it and holds every socket's queue."""

    def __init__(
        self, kernel: SimKernel | None = None, *, rcvbuf: int = DEFAULT_RCVBUF, dump_rcvbuf: int = DUMP_RCVBUF
    ) -> None:
        self.kernel = kernel or SimKernel()
        self.rcvbuf = rcvbuf
        self.dump_rcvbuf = dump_rcvbuf
        self._lock = threading.Condition()
        self._queues: dict[int, _Queue] = {}

    # Sockets ----------------------------------------------------------------------------------------
    def open_socket(self, rcvbuf: int | None = None) -> int:
        """A new socket id with an empty queue."""
        with self._lock:
            sid = self.kernel.open_socket()
            self._queues[sid] = _Queue(self.rcvbuf if rcvbuf is None else rcvbuf)
            return sid

    def close_socket(self, sid: int) -> None:
        """Drop a socket and its queue."""
        with self._lock:
            self.kernel.close_socket(sid)
            self._queues.pop(sid, None)
            self._lock.notify_all()

    # Kernel access ------------------------------------------------------------------------------------
    def _deliver(self, deliveries: list[Delivery]) -> None:
        """Queue each copy on its socket (or count it lost when the queue is full); wake the waiters."""
        touched = False
        for sid, data in deliveries:
            q = self._queues.get(sid)
            if q is None or q.discard:
                continue
            if q.size + len(data) > q.limit:
                q.lost += 1
            else:
                q.items.append(data)
                q.size += len(data)
            touched = True
        if touched:
            self._lock.notify_all()

    def send(self, sid: int, data: bytes) -> None:
        """Hand one message to the kernel; :class:`TransportError` when it refuses the bytes outright."""
        with self._lock:
            q = self._queues.get(sid)
            rmem = q.size if q is not None else 0
            try:
                self._deliver(self.kernel.handle(sid, data, rmem=rmem, rcvbuf=self.dump_rcvbuf))
            except Refused as exc:
                raise TransportError(
                    f"the simulated kernel refused the message: {os.strerror(exc.errno)} ({exc})"
                ) from None

    def tick(self, now: float | None = None) -> None:
        """Run the kernel's clock (lifetime expiries)."""
        with self._lock:
            self._deliver(self.kernel.tick(now))

    def simulate_traffic(self, packet: Packet) -> TrafficResult:
        """One packet through the SPD (see :meth:`SimKernel.simulate_traffic`); deliveries are queued."""
        with self._lock:
            result = self.kernel.simulate_traffic(packet)
            self._deliver(result.deliveries)
        return result

    def pop(self, sid: int, *, report_lost: bool = True) -> bytes | None:
        """The socket's next message without waiting (None: empty); :class:`MessagesLost` after a drop
        (unless ``report_lost`` is False: the caller asks :meth:`take_lost` itself)."""
        with self._lock:
            q = self._queues.get(sid)
            if q is None:
                raise TransportError("the simulated PF_KEY socket is closed")
            if q.lost and report_lost:
                n, q.lost = q.lost, 0
                raise MessagesLost(
                    f"{n} message(s) lost: the receive queue was full "
                    f"({os.strerror(errno_mod.ENOBUFS)}); resynchronise with a dump"
                )
            if not q.items:
                return None
            data = q.items.popleft()
            q.size -= len(data)
            if self.kernel.dumping(sid):  # pfkey_recvmsg: the read may let the socket's dump go on
                self._deliver(self.kernel.resume_dump(sid, rmem=q.size, rcvbuf=self.dump_rcvbuf))
            return data

    def queued(self, sid: int) -> tuple[int, int]:
        """What a socket's queue holds: (messages, bytes)."""
        with self._lock:
            q = self._queues.get(sid)
            return (0, 0) if q is None else (len(q.items), q.size)

    def take_lost(self, sid: int) -> int:
        """How many messages for a socket were dropped since last asked (and reset that count)."""
        with self._lock:
            q = self._queues.get(sid)
            if q is None:
                return 0
            n, q.lost = q.lost, 0
            return n

    def add_lost(self, sid: int, n: int) -> None:
        """Count ``n`` more dropped messages for a socket (a notice about them could not be passed on)."""
        with self._lock:
            q = self._queues.get(sid)
            if q is not None:
                q.lost += n

    def discard(self, sid: int) -> None:
        """Nobody will read this socket again (its peer went away) but it stays open: drop what it holds and
        every later copy, and end its dump."""
        with self._lock:
            q = self._queues.get(sid)
            if q is not None:
                q.discard = True
                q.items.clear()
                q.size = 0
            self.kernel.cancel_dump(sid)

    def unpop(self, sid: int, data: bytes) -> None:
        """Put a message back at the head of a socket's queue (it could not be passed on yet)."""
        with self._lock:
            q = self._queues.get(sid)
            if q is not None:
                q.items.appendleft(data)
                q.size += len(data)

    def recv(self, sid: int, timeout: float | None) -> bytes | None:
        """The socket's next message (waiting up to ``timeout``; None: forever), None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                data = self.pop(sid)
                if data is not None:
                    return data
                self.tick()
                data = self.pop(sid)
                if data is not None:
                    return data
                wait = TICK_SLICE
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    wait = min(wait, left)
                nxt = self.kernel.next_timer()
                if nxt is not None:
                    wait = max(0.0, min(wait, nxt - self.kernel.clock() + 0.01))
                self._lock.wait(wait)


class SimTransport(TrafficSimulator):
    """One PF_KEY socket on a :class:`SimHost` (a Transport)."""

    def __init__(
        self, host: SimHost, *, description: str = "simulated kernel (in-process)", platform: Platform = LINUX
    ) -> None:
        self.host = host
        self.platform = platform
        self.description = description
        self.sid = host.open_socket()
        self._closed = False

    def send(self, data: bytes) -> None:
        """Send one message to the simulated kernel."""
        if self._closed:
            raise TransportError("the simulated PF_KEY socket is closed")
        self.host.send(self.sid, data)

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next message for this socket, or None after ``timeout`` seconds."""
        if self._closed:
            raise TransportError("the simulated PF_KEY socket is closed")
        return self.host.recv(self.sid, timeout)

    def set_promisc(self, on: bool) -> None:
        """SADB_X_PROMISC on or off (the kernel's echo arrives like on a real socket)."""
        self.send(header_only(MsgType.X_PROMISC, 1 if on else 0, pid=os.getpid()).encode(self.platform))

    def simulate_traffic(self, packet: Packet) -> PacketVerdict:
        """Send one packet through the kernel's SPD (see :meth:`SimKernel.simulate_traffic`); its verdict."""
        return self.host.simulate_traffic(packet).without_deliveries()

    def close(self) -> None:
        """Close this socket."""
        if not self._closed:
            self._closed = True
            self.host.close_socket(self.sid)

    def __enter__(self) -> SimTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SHARED: list[SimHost] = []
_SHARED_LOCK = threading.Lock()


def shared_host() -> SimHost:
    """The process-wide embedded kernel (so a TUI's listener and its requests see one kernel)."""
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(SimHost())
        return _SHARED[0]


def reset_shared_host(host: SimHost | None = None) -> SimHost:
    """Replace the process-wide embedded kernel (a fresh one by default); transports already open keep theirs.

    For tests and for "start over" in a UI: the next ``--kernel sim`` transport sees an empty SAD and SPD.
    """
    with _SHARED_LOCK:
        _SHARED[:] = [host or SimHost()]
        return _SHARED[0]
