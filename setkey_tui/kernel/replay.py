"""A transport that plays back recorded kernel messages (``--kernel replay:FILE``).

The file holds one message per line as hex, optionally preceded by its arrival time
``SECONDS.MICROSECONDS`` and a blank; empty lines and lines starting with ``#`` are skipped. The whole file is
checked when it is opened: a malformed line or a message shorter than the 16-byte header is refused with an
error naming the line, so nothing downstream can spin on it.

Each request sent gets the next recorded messages as its replies: one message, or for SADB_DUMP /
SADB_X_SPDDUMP every message up to and including the one with ``sadb_msg_seq`` 0 (or an error reply). In
promiscuous mode ``recv`` hands out the recording in order. When nothing is left to hand out, ``recv(timeout)``
waits its timeout like a quiet socket (so a listener thread does not spin) and returns None, while
``recv(None)`` returns None at once instead of blocking for good; :attr:`exhausted` says the recording is over,
and ``close`` wakes a waiting ``recv`` at once.
"""

from __future__ import annotations

import re
import struct
import threading
from collections import deque
from pathlib import Path

from setkey_tui.kernel.base import TransportError
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.platform import Platform
from setkey_tui.render.timefmt import seconds_and_micros

_LINE = re.compile(r"^(?:(\d+)\.(\d{1,6})\s+)?([0-9a-fA-F]+)$")


class ReplayFormatError(TransportError):
    """The replay file cannot be used; ``str()`` names the file and line."""


class Recorded:
    """One recorded message and its arrival time (None when the line had none)."""

    __slots__ = ("data", "when", "line")

    def __init__(self, data: bytes, when: float | None, line: int) -> None:
        self.data = data
        self.when = when
        self.line = line


def parse_replay(text: str, *, name: str = "<replay>") -> list[Recorded]:
    """The messages of a replay file's text; ReplayFormatError for the first bad line."""
    out: list[Recorded] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ReplayFormatError(
                f"{name}, line {number}: expected hex bytes, optionally after 'SECONDS.MICROSECONDS '")
        sec, usec, hexpart = m.groups()
        if len(hexpart) % 2:
            raise ReplayFormatError(f"{name}, line {number}: odd number of hex digits ({len(hexpart)})")
        data = bytes.fromhex(hexpart)
        if len(data) < 16:
            raise ReplayFormatError(
                f"{name}, line {number}: message of {len(data)} bytes is shorter than the 16-byte sadb_msg header")
        when = int(sec) + int(usec.ljust(6, "0")) / 1_000_000 if sec is not None else None
        out.append(Recorded(data, when, number))
    return out


def format_record(data: bytes, when: float) -> str:
    """One line of a replay file: ``SECONDS.MICROSECONDS HEX`` and a newline (the time rounded as the
    monitor prints it: :func:`~setkey_tui.render.timefmt.seconds_and_micros`)."""
    sec, usec = seconds_and_micros(when)
    return f"{sec}.{usec:06d} {data.hex()}\n"


class ReplayTransport:
    """A finite, non-blocking :class:`~setkey_tui.kernel.base.Transport` over a recording.

    ``answers_in_order``: the next recorded messages are the answer to a request, whoever they were addressed
    to when recorded (a script takes them without matching their pid and seq)."""

    answers_in_order = True

    def __init__(self, path: str | Path, platform: Platform) -> None:
        self.platform = platform
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ReplayFormatError(f"cannot read replay file {self.path}: {reason}") from None
        self._records: deque[Recorded] = deque(parse_replay(text, name=str(self.path)))
        self._pending: deque[Recorded] = deque()
        self._promisc = False
        self._closed = False
        self._wake = threading.Event()
        self.total = len(self._records)
        self.sent: list[bytes] = []
        self.last_time: float | None = None
        self.description = f"replay of {self.path} ({self.total} recorded messages)"

    @property
    def exhausted(self) -> bool:
        """True once every recorded message has been handed out."""
        return not self._records and not self._pending

    def _seq_errno(self, data: bytes) -> tuple[int, int]:
        errno = data[2]
        seq = struct.unpack_from(self.platform.byteorder + "I", data, 8)[0]
        return seq, errno

    def send(self, data: bytes) -> None:
        """Take a request; queue the recorded replies that answer it."""
        if self._closed:
            raise TransportError("replay transport is closed")
        self.sent.append(bytes(data))
        mtype = data[1] if len(data) > 1 else -1
        if mtype == MsgType.X_PROMISC:
            return
        if not self._records:
            return
        if mtype in (MsgType.DUMP, MsgType.X_SPDDUMP):
            while self._records:
                rec = self._records.popleft()
                self._pending.append(rec)
                seq, errno = self._seq_errno(rec.data)
                if seq == 0 or errno:
                    break
        else:
            rec = self._records.popleft()
            if mtype == MsgType.REGISTER and len(data) >= 16 and len(rec.data) >= 16 and rec.data[1] == mtype:
                # The recorded REGISTER answer went to the recording process; a script waits for one addressed
                # to itself (setkey's handshake), so the replayed answer takes the requester's pid.
                rec = Recorded(rec.data[:12] + data[12:16] + rec.data[16:], rec.when, rec.line)
            self._pending.append(rec)

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next reply (or, in promiscuous mode, the next recorded message); None when none is left."""
        if self._closed:
            raise TransportError("replay transport is closed")
        if self._pending:
            rec = self._pending.popleft()
        elif self._promisc and self._records:
            rec = self._records.popleft()
        else:
            if timeout is not None:  # a finished recording never blocks for good
                self._wake.wait(timeout)
            return None
        self.last_time = rec.when
        return rec.data

    def set_promisc(self, on: bool) -> None:
        """Promiscuous mode: hand out the whole recording in order."""
        self._promisc = on

    def close(self) -> None:
        """Forget the rest of the recording."""
        self._closed = True
        self._records.clear()
        self._pending.clear()
        self._wake.set()
