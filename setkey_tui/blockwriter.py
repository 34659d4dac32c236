"""An output stream that writes in blocks: one ``write(2)`` per block of text, not one per line or entry.

The command line streams a dump or a monitor through it: each entry is handed over as it is decoded, nothing
is held beyond a block, and on a terminal what was written shows within about :data:`TTY_INTERVAL` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BLOCK = 1 << 16  # characters gathered before a write
TTY_INTERVAL = 0.05  # seconds a terminal waits at most for what was written


class BlockWriter:
    """Text gathered and passed to ``stream`` in blocks of about ``block`` characters, at :meth:`flush`, and
    on a terminal also as soon as ``interval`` seconds passed since the last block went out."""

    __slots__ = ("stream", "_parts", "_size", "_block", "_tty", "_interval", "_clock", "_last")

    def __init__(self, stream: TextIO, *, block: int = BLOCK, interval: float = TTY_INTERVAL,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self._parts: list[str] = []
        self._size = 0
        self._block = block
        if tty is None:
            try:
                tty = stream.isatty()
            except (AttributeError, ValueError, OSError):
                tty = False
        self._tty = tty
        self._interval = interval
        self._clock = clock
        self._last = clock() if tty else 0.0

    def write(self, text: str) -> int:
        """Gather ``text``; a full block (or, on a terminal, a late one) goes out at once."""
        if text:
            self._parts.append(text)
            self._size += len(text)
            if self._size >= self._block or (self._tty and self._clock() - self._last >= self._interval):
                self.flush()
        return len(text)

    def flush(self) -> None:
        """Write out what was gathered and flush the stream."""
        if self._parts:
            text = "".join(self._parts)
            self._parts.clear()
            self._size = 0
            self.stream.write(text)
        self.stream.flush()
        if self._tty:
            self._last = self._clock()

    def isatty(self) -> bool:
        """Whether the stream is a terminal."""
        return self._tty
