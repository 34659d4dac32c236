"""setkey's time strings: ``str_time`` of -D/-DP and the -x/-xx timestamp line, in local time (TZ honoured)."""

from __future__ import annotations

import time
from functools import lru_cache

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_BLANK = " " * 20


@lru_cache(maxsize=4096)
def str_time(when: int) -> str:
    """Characters 4..23 of ``ctime(when)`` (``Nov 14 22:13:20 2023``); 20 blanks for 0.

    A time the C library cannot represent is shown as its number, right-aligned in the same 20 columns.
    """
    if when == 0:
        return _BLANK
    try:
        tm = time.localtime(when)
    except (OverflowError, OSError, ValueError):
        return f"{when:>20}"
    if tm.tm_year > 9999:
        return f"{when:>20}"
    return f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}"


def seconds_and_micros(when: float) -> tuple[int, int]:
    """``when`` to the nearest microsecond, as whole seconds and microseconds (0 to 999999).

    The one rounding of a time to setkey's ``SECONDS.uuuuuu``: the monitor's timestamp line and a recording's
    time both use it, so a replayed recording prints the times the live monitor printed. Nearest, not
    truncated: a time read back from a recording (``SECONDS + uuuuuu / 1e6`` as a float, off by up to 0.12 µs
    at today's epoch) comes out as the digits it was read from; ``.9999996`` carries into the next second.
    """
    sec = int(when // 1)
    usec = round((when - sec) * 1_000_000)
    if usec >= 1_000_000:
        return sec + 1, usec - 1_000_000
    return sec, usec


def timestamp_line(when: float, tflag: int) -> str:
    """The monitor's first line for one message (with its trailing blank and newline).

    ``tflag`` 1 (``-x``): local time of day ``HH:MM:SS.uuuuuu``; 2 or more (``-xx``): ``SECONDS.uuuuuu``;
    0: an empty line, as setkey prints when no time format is selected.
    """
    sec, usec = seconds_and_micros(when)
    if tflag == 1:
        try:
            offset = time.localtime(sec).tm_gmtoff
        except (OverflowError, OSError, ValueError):
            offset = 0
        s = (sec + offset) % 86400
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}.{usec:06d} \n"
    if tflag > 1:
        return f"{sec & 0xFFFFFFFF}.{usec:06d} \n"
    return "\n"
