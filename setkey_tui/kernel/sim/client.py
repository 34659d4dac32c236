"""SimClient: a PF_KEY socket on a simulated kernel served at a Unix SOCK_SEQPACKET path (``sim@PATH``)."""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Literal

from setkey_tui.kernel.base import MessagesLost, SlowReplies, TrafficSimulator, TransportError, env_seconds
from setkey_tui.kernel.sim.protocol import MAX_PACKET, control, is_control, parse_control
from setkey_tui.packet import Packet, PacketVerdict
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import LINUX, Platform

if TYPE_CHECKING:
    from setkey_tui.kernel.batchrecv import BatchReceiver

CLOSE_IDLE = 2.0  # seconds close() waits for the server to say something before giving up on it
CLOSE_LIMIT = 60.0  # seconds close() waits at most
BATCH_SIZE = 64  # packets recv_many takes at most per system call


SERVED_REPLY_TIMEOUT = 10.0  # a served simulated kernel may take seconds to flush or dump 100k SAs
TIMEOUT_ENV = "SETKEY_TUI_SIM_TIMEOUT"  # replaces SERVED_REPLY_TIMEOUT (seconds)


class SimClient(TrafficSimulator, SlowReplies):
    """One connection to a served simulated kernel (a Transport)."""

    reply_timeout = SERVED_REPLY_TIMEOUT  # per message of an answer; $SETKEY_TUI_SIM_TIMEOUT replaces it

    def __init__(self, path: str, *, platform: Platform = LINUX) -> None:
        self.reply_timeout = env_seconds(TIMEOUT_ENV, SERVED_REPLY_TIMEOUT)
        self.path = path
        self.platform = platform
        self.description = f"simulated kernel served at {path}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._sock.connect(path)
        except OSError as exc:
            self._sock.close()
            raise TransportError(
                f"cannot reach the simulated kernel at {path}: {exc.strerror} "
                "(start one with `setkey-tui serve-sim PATH`)"
            ) from None
        self._pending: deque[bytes] = deque()
        self._buf = bytearray(MAX_PACKET)  # reused: a fresh 512 KiB bytes per recv costs ~7x the time
        self._view = memoryview(self._buf)
        self._poll = select.poll()  # not select(): that fails for descriptors past FD_SETSIZE (1024)
        self._poll.register(self._sock, select.POLLIN)
        self._notices: deque[dict[str, Any]] = deque()
        self._closed = False
        self._rcvtimeo: float | None = None  # the socket's own receive timeout (SO_RCVTIMEO); None: none
        self._batch: BatchReceiver | None | bool = False  # recv_many's receiver (False: not made yet)
        self._lost: TransportError | None = None  # a loss met by recv_many, said at its next call
        self.batch_size = BATCH_SIZE

    def _read_packet(self, timeout: float | None) -> bytes | None:
        """The next packet, or None after ``timeout`` seconds: one ``recv(2)`` (the wait is the socket's own
        SO_RCVTIMEO, set again only when it changes; 0: MSG_DONTWAIT), no poll, no clock."""
        try:
            if timeout is not None and timeout <= 0:
                n = self._sock.recv_into(self._buf, 0, socket.MSG_DONTWAIT)
            else:
                if timeout != self._rcvtimeo:
                    usec = 0 if timeout is None else max(1, round(timeout * 1_000_000))
                    self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                                          struct.pack("@ll", *divmod(usec, 1_000_000)))
                    self._rcvtimeo = timeout
                n = self._sock.recv_into(self._buf)
        except BlockingIOError:  # EAGAIN: the timeout passed, or nothing was there
            return None
        except OSError as exc:
            raise TransportError(f"the simulated kernel connection failed: {exc.strerror}") from None
        if not n:
            raise TransportError(f"the simulated kernel at {self.path} went away")
        return bytes(self._view[:n])

    def _route(self, packet: bytes) -> bytes | None:
        """A PF_KEY message passes; control notices are handled (a lost notice raises MessagesLost)."""
        if not is_control(packet):
            return packet
        try:
            obj = parse_control(packet)
        except ValueError:
            return None
        if "lost" in obj:
            raise MessagesLost(str(obj["lost"]))
        if "refused" in obj:
            raise TransportError(str(obj["refused"]))
        self._notices.append(obj)
        return None

    def send(self, data: bytes) -> None:
        """Send one message to the served kernel."""
        if self._closed:
            raise TransportError("the simulated PF_KEY socket is closed")
        try:
            self._sock.send(data)
        except OSError as exc:
            raise TransportError(f"the simulated kernel connection failed: {exc.strerror}") from None

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next message, or None after ``timeout`` seconds."""
        if self._closed:
            raise TransportError("the simulated PF_KEY socket is closed")
        if self._pending:
            return self._pending.popleft()
        packet = self._read_packet(timeout)  # the common case: no clock read
        if packet is None:
            return None
        msg = self._route(packet)
        if msg is not None:
            return msg
        deadline = None if timeout is None else time.monotonic() + timeout  # after a notice: the rest
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            packet = self._read_packet(left)
            if packet is None:
                return None
            msg = self._route(packet)
            if msg is not None:
                return msg

    def recv_many(self, timeout: float | None = None) -> list[bytes]:
        """The messages the connection holds, many per system call (``recvmmsg(2)`` where the C library has
        it): the first waits up to ``timeout`` seconds (None: blocks; 0: does not wait), the others are taken
        without waiting; [] when none came. A loss (MessagesLost) is raised after the messages before it."""
        if self._closed:
            raise TransportError("the simulated PF_KEY socket is closed")
        if self._lost is not None:
            exc, self._lost = self._lost, None
            raise exc
        if self._pending:
            queued = list(self._pending)
            self._pending.clear()
            return queued
        if self._batch is False:
            from setkey_tui.kernel.batchrecv import batch_receiver  # ctypes: only for a monitor

            self._batch = batch_receiver(self._sock.fileno(), slots=BATCH_SIZE, size=MAX_PACKET)
        batch = self._batch
        if batch is None or batch is True:
            data = self.recv(timeout)
            return [] if data is None else [data]
        try:
            if timeout is not None and timeout > 0 and not self._poll.poll(timeout * 1000):
                return []
            packets = batch.receive(timeout is None)
        except OSError as exc:
            raise TransportError(f"the simulated kernel connection failed: {exc.strerror}") from None
        out: list[bytes] = []
        error: TransportError | None = None
        for packet in packets:
            try:
                if not packet:
                    raise TransportError(f"the simulated kernel at {self.path} went away")
                msg = self._route(packet)
            except TransportError as exc:
                error = error or exc
                continue
            if msg is not None:
                (out if error is None else self._pending).append(msg)  # after a loss: the next calls
        if error is not None:
            if not out:
                raise error
            self._lost = error  # said at the next call, after the messages before it
        return out

    def set_promisc(self, on: bool, *, timeout: float = 5.0) -> None:
        """SADB_X_PROMISC on or off; returns once the kernel has applied it (its echo arrived), as a real
        PF_KEY socket does on send. Messages read meanwhile, the echo included, stay queued for recv()."""
        pid = os.getpid()
        self.send(header_only(MsgType.X_PROMISC, 1 if on else 0, pid=pid).encode(self.platform))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            packet = self._read_packet(left) if left > 0 else None
            if packet is None:
                raise TransportError("the simulated kernel did not confirm promiscuous mode")
            msg = self._route(packet)
            if msg is None:
                continue
            self._pending.append(msg)
            order: Literal["little", "big"] = "little" if self.platform.byteorder == "<" else "big"
            if len(msg) >= 16 and msg[1] == MsgType.X_PROMISC and int.from_bytes(msg[12:16], order) == pid:
                return

    def simulate_traffic(self, packet: Packet, timeout: float = 5.0) -> PacketVerdict:
        """Ask the served kernel to send one packet through its SPD; its verdict (:class:`PacketError` when
        the kernel refuses the packet)."""
        self.send(control({"op": "traffic", **packet.to_json()}))
        deadline = time.monotonic() + timeout
        while True:
            while self._notices:
                obj = self._notices.popleft()
                if "reply" in obj:
                    return PacketVerdict.from_reply(obj["reply"])
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError("the simulated kernel did not answer the traffic request")
            data = self._read_packet(left)
            if data is None:
                continue
            msg = self._route(data)
            if msg is not None:
                self._pending.append(msg)

    def close(self) -> None:
        """Close the connection once the server has run every request sent on it (then it forgets the
        socket): as after a real ``close()``, another process looking at the kernel sees them applied."""
        if self._closed:
            return
        self._closed = True
        if self._batch not in (None, False, True):
            self._batch.close()  # type: ignore[union-attr]
        try:
            self._sock.shutdown(socket.SHUT_WR)
            self._drain()
        except OSError:
            pass
        finally:
            self._sock.close()

    def _drain(self) -> None:
        """Read and drop what the server still sends until it closes its end (it has read our end of file,
        so it has run everything before it), or until it stays silent CLOSE_IDLE seconds."""
        deadline = time.monotonic() + CLOSE_LIMIT
        while time.monotonic() < deadline and self._poll.poll(CLOSE_IDLE * 1000):
            if not self._sock.recv_into(self._buf):
                return

