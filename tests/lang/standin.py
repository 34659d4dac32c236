"""The stand-in kernel the conformance data was recorded against, as a Transport.

REGISTER → the Linux algorithm lists; DUMP, SPDDUMP, SPDGET → ENOENT; GET → ESRCH; every other request is
echoed back unchanged (success). Every message sent is kept in ``sent`` (REGISTER included).
"""

from __future__ import annotations

import errno
from collections import deque

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import SupportedExt
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX, Platform


class StandInKernel:
    """A Transport answering like the recording's stand-in socket."""

    description = "stand-in kernel (tests)"

    def __init__(self, platform: Platform = LINUX) -> None:
        self.platform = platform
        self.sent: list[bytes] = []
        self._queue: deque[bytes] = deque()
        self.closed = False

    def send(self, data: bytes) -> None:
        """Record the request and queue the stand-in's answer."""
        self.sent.append(bytes(data))
        msg = decode(data, self.platform)
        if msg.type == MsgType.REGISTER:
            reply = msg._replace(extensions=(
                SupportedExt(ExtType.SUPPORTED_AUTH, LINUX_SUPPORTED_AUTH),
                SupportedExt(ExtType.SUPPORTED_ENCRYPT, LINUX_SUPPORTED_ENCRYPT),
            ))
            self._queue.append(reply.encode(self.platform))
        elif msg.type in (MsgType.DUMP, MsgType.X_SPDDUMP, MsgType.X_SPDGET):
            self._queue.append(Message(msg.type, msg.satype, 0, msg.pid, errno.ENOENT).encode(self.platform))
        elif msg.type == MsgType.GET:
            self._queue.append(Message(msg.type, msg.satype, 0, msg.pid, errno.ESRCH).encode(self.platform))
        else:
            self._queue.append(bytes(data))

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next queued answer, or None (the stand-in never blocks)."""
        return self._queue.popleft() if self._queue else None

    def set_promisc(self, on: bool) -> None:
        """The stand-in has no promiscuous mode; nothing to do."""

    def close(self) -> None:
        """Mark the stand-in closed."""
        self.closed = True
