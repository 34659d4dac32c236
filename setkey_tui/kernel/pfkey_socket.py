"""The real kernel: an AF_KEY / PF_KEY_V2 raw socket (Linux, the BSDs, macOS).

Errors become one-line :class:`TransportError` messages that say what to do; ENOBUFS on receive (the kernel
dropped messages for this socket) becomes :class:`MessagesLost`.
"""

from __future__ import annotations

import errno as errno_mod
import os
import socket
import struct
from typing import TYPE_CHECKING

from setkey_tui.kernel.base import MessagesLost, TransportError
from setkey_tui.pfkey.constants import PF_KEY, PF_KEY_V2, MsgType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import Platform, current

if TYPE_CHECKING:
    from setkey_tui.kernel.batchrecv import BatchReceiver

RCVBUF_WANTED = 64 * 1024 * 1024  # a dump of 100k SAs is ~25 MB of messages
SNDBUF_WANTED = 128 * 1024
RECV_CHUNK = 65536 * 8  # a PF_KEY message is at most 0xffff * 8 bytes
BATCH_SIZE = 64  # messages recv_many takes at most per system call
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def open_error(err: int, platform: Platform | None = None) -> str:
    """The one-line explanation for a failed ``socket(PF_KEY, SOCK_RAW, PF_KEY_V2)``."""
    name = (platform or current()).name
    if err in (errno_mod.EAFNOSUPPORT, errno_mod.EPROTONOSUPPORT, errno_mod.ESOCKTNOSUPPORT):
        hint = "load it with `modprobe af_key`, " if name == "linux" else ""
        return (
            f"no PF_KEY in this kernel ({os.strerror(err)}): {hint}or use the simulated kernel (--kernel sim)"
        )
    if err in (errno_mod.EPERM, errno_mod.EACCES):
        return (
            f"permission denied opening PF_KEY ({os.strerror(err)}): run as root or with CAP_NET_ADMIN, "
            "or use the simulated kernel (--kernel sim)"
        )
    return f"cannot open a PF_KEY socket: {os.strerror(err)}"


class PFKeyUnavailable(TransportError):
    """The PF_KEY socket could not be opened; ``errno`` says why."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(message)
        self.errno = errno


class PFKeySocket:
    """One PF_KEY socket on the running kernel (a Transport)."""

    def __init__(self, *, platform: Platform | None = None, rcvbuf: int = RCVBUF_WANTED) -> None:
        self.platform = platform or current()
        try:
            self._sock = socket.socket(PF_KEY, socket.SOCK_RAW, PF_KEY_V2)
        except OSError as exc:
            raise PFKeyUnavailable(exc.errno or 0, open_error(exc.errno or 0, self.platform)) from None
        self.rcvbuf = self._grow_buffers(rcvbuf)
        self._buf = bytearray(RECV_CHUNK)  # reused: a fresh 512 KiB bytes per recv costs ~7x the time
        self._view = memoryview(self._buf)
        self._rcvtimeo: float | None = None  # the socket's own receive timeout (SO_RCVTIMEO); None: none
        self._batch: BatchReceiver | None | bool = False  # recv_many's receiver (False: not made yet)
        self.batch_size = BATCH_SIZE
        self.description = "real PF_KEY"
        self._closed = False

    def _grow_buffers(self, wanted: int) -> int:
        """Ask for a big receive buffer (SO_RCVBUFFORCE if privileged, else SO_RCVBUF); the size got."""
        s = self._sock
        for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                s.setsockopt(socket.SOL_SOCKET, opt, wanted)
                break
            except OSError:
                continue
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF_WANTED)
        except OSError:
            pass
        try:
            return int(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
        except OSError:
            return 0

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self._sock.fileno()

    def send(self, data: bytes) -> None:
        """Send one whole message; the kernel's verdict comes back as a message."""
        if self._closed:
            raise TransportError("the PF_KEY socket is closed")
        try:
            self._sock.send(data)
        except OSError as exc:
            raise TransportError(f"the kernel refused the message: {os.strerror(exc.errno or 0)}") from None

    def recv(self, timeout: float | None = None) -> bytes | None:
        """One whole message, or None after ``timeout`` seconds (0: only what is already there).

        One ``recv(2)`` per message: the wait is the socket's own timeout (SO_RCVTIMEO, set again only when
        it changes), and ``timeout`` 0 reads without waiting (MSG_DONTWAIT); no poll, no clock."""
        if self._closed:
            raise TransportError("the PF_KEY socket is closed")
        try:
            if timeout is not None and timeout <= 0:
                n = self._sock.recv_into(self._buf, 0, socket.MSG_DONTWAIT)
            else:
                if timeout != self._rcvtimeo:
                    self._set_rcvtimeo(timeout)
                n = self._sock.recv_into(self._buf)
            return bytes(self._view[:n])
        except BlockingIOError:  # EAGAIN: the timeout passed, or nothing was there
            return None
        except OSError as exc:
            if exc.errno == errno_mod.EINTR:
                return None
            raise _recv_error(exc) from None

    def recv_many(self, timeout: float | None = None) -> list[bytes]:
        """The messages the socket holds, many per system call (``recvmmsg(2)`` where the C library has it):
        the first waits up to ``timeout`` seconds (None: blocks; 0: does not wait), the others are taken
        without waiting; [] when none came. MessagesLost where the kernel dropped messages, after the
        messages queued before the loss were returned."""
        if self._closed:
            raise TransportError("the PF_KEY socket is closed")
        if self._batch is False:
            from setkey_tui.kernel.batchrecv import batch_receiver  # ctypes: only for a monitor

            self._batch = batch_receiver(self._sock.fileno(), slots=BATCH_SIZE, size=RECV_CHUNK)
        batch = self._batch
        if batch is None or batch is True:
            data = self.recv(timeout)
            return [] if data is None else [data]
        wait = timeout is None or timeout > 0
        if wait and timeout != self._rcvtimeo:
            self._set_rcvtimeo(timeout)
        try:
            return batch.receive(wait)
        except OSError as exc:
            raise _recv_error(exc) from None

    def _set_rcvtimeo(self, timeout: float | None) -> None:
        usec = 0 if timeout is None else max(1, round(timeout * 1_000_000))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", *divmod(usec, 1_000_000)))
        self._rcvtimeo = timeout

    def set_promisc(self, on: bool) -> None:
        """SADB_X_PROMISC: receive a copy of every PF_KEY message."""
        self.send(header_only(MsgType.X_PROMISC, 1 if on else 0, pid=os.getpid()).encode(self.platform))

    def close(self) -> None:
        """Close the socket."""
        if not self._closed:
            self._closed = True
            if self._batch not in (None, False, True):
                self._batch.close()  # type: ignore[union-attr]
            self._sock.close()

    def __enter__(self) -> PFKeySocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _recv_error(exc: OSError) -> TransportError:
    """What a failed receive means: ENOBUFS, messages lost; anything else, a broken socket."""
    if exc.errno == errno_mod.ENOBUFS:
        return MessagesLost(
            "the kernel dropped messages for this socket (No buffer space available): resynchronise with a dump"
        )
    return TransportError(f"reading the PF_KEY socket failed: {os.strerror(exc.errno or 0)}")
