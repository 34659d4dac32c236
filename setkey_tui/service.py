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
import time
from collections import deque
from collections.abc import Callable

from setkey_tui.kernel.base import Transport, TransportError
from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import Alg, SupportedExt
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import Platform
from setkey_tui.pfkey.wire import DecodeError

_SEQ_START = 1


def _errno_text(err: int, msg_type: int) -> str:
    """setkey's wording for a kernel error (falls back to strerror)."""
    try:
        from setkey_tui.render.errors import strerror_setkey
    except ImportError:  # render helper's module not there: plain strerror
        return os.strerror(err)
    return strerror_setkey(err, msg_type)


class KernelReplyError(Exception):
    """The kernel answered a request with ``sadb_msg_errno`` set; ``str()`` is setkey's wording."""

    def __init__(self, errno: int, msg_type: int) -> None:
        self.errno = errno
        self.msg_type = msg_type
        super().__init__(errno, msg_type)

    def __str__(self) -> str:
        return _errno_text(self.errno, self.msg_type)


class ReplyTimeout(TransportError):
    """No answer from the kernel within the time allowed."""


class KeyService:
    """Requests and their replies, matched by seq + pid + type, on one transport.

    ``pid`` is the value put in ``sadb_msg_pid`` (default: this process's id); each request gets a fresh
    sequence number. Messages that are not the awaited reply are kept (bounded) in :attr:`others`.
    """

    def __init__(self, transport: Transport, *, pid: int | None = None, keep_others: int = 10000) -> None:
        self.transport = transport
        self.pid = os.getpid() if pid is None else pid
        self._seq = itertools.count(_SEQ_START)
        self.others: deque[Message] = deque(maxlen=keep_others)
        self.promisc = False

    @property
    def platform(self) -> Platform:
        """The transport's platform."""
        return self.transport.platform

    @property
    def description(self) -> str:
        """What kernel this is ("real PF_KEY", "simulated kernel ...")."""
        return self.transport.description

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

    def _send(self, msg: Message) -> tuple[Message, bytes]:
        msg = msg._replace(seq=self.next_seq(), pid=self.pid)
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
        sent, data = self._send(msg)

        def match(got: Message) -> bool:
            return got.seq == sent.seq and got.pid == sent.pid and got.type == sent.type

        reply = self._await(sent, data, time.monotonic() + timeout, match)
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

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()
