"""SimClient: a PF_KEY socket on a simulated kernel served at a Unix SOCK_SEQPACKET path (``sim@PATH``)."""

from __future__ import annotations

import os
import select
import socket
import time
from collections import deque
from typing import Any, Literal

from setkey_tui.kernel.base import MessagesLost, TrafficSimulator, TransportError
from setkey_tui.kernel.sim.protocol import MAX_PACKET, control, is_control, parse_control
from setkey_tui.packet import Packet, PacketVerdict
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import LINUX, Platform

CLOSE_IDLE = 2.0  # seconds close() waits for the server to say something before giving up on it
CLOSE_LIMIT = 60.0  # seconds close() waits at most


class SimClient(TrafficSimulator):
    """One connection to a served simulated kernel (a Transport)."""

    def __init__(self, path: str, *, platform: Platform = LINUX) -> None:
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

    def _read_packet(self, timeout: float | None) -> bytes | None:
        """The next packet; a queued one is taken without a poll (one system call per message in a dump)."""
        try:
            try:
                n = self._sock.recv_into(self._buf, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if timeout is not None and not self._poll.poll(max(0.0, timeout) * 1000):
                    return None
                n = self._sock.recv_into(self._buf)
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
        deadline = None if timeout is None else time.monotonic() + timeout
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

