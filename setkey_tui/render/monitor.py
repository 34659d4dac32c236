"""One ``setkey -x`` entry: timestamp line, optional hex dump, then the kdebug decoding and an empty line."""

from __future__ import annotations

import struct
from typing import Any

from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.render.hexdump import hexdump as hex_layout
from setkey_tui.render.kdebug import kdebug
from setkey_tui.render.timefmt import timestamp_line

_PROMISC = int(MsgType.X_PROMISC)
_stamp_of: list[Any] = [None, None, ""]  # when, tflag and the line of the last timestamp made


def format_monitor_entry(data: bytes, *, when: float, tflag: int, hexdump: bool,
                         platform: Platform = LINUX) -> str:
    """What the monitor prints for one received message.

    A bare SADB_X_PROMISC (16 bytes) shows only the timestamp (and hex); a longer one is a BSD wrapper whose
    inner message is decoded. Messages shorter than a header get one line saying so.
    """
    last = _stamp_of
    if when == last[0] and tflag == last[1]:  # a burst's messages share one time: its line is made once
        stamp: str = last[2]
    else:
        stamp = timestamp_line(when, tflag)
        last[:] = [when, tflag, stamp]
    n = len(data)
    if n >= 16 and data[1] != _PROMISC and not hexdump:  # the common case, in one expression
        return stamp + kdebug(data, platform) + "\n"
    parts = [stamp]
    if hexdump:
        parts.append(hex_layout(data))
    body = data
    if n >= 16 and data[1] == _PROMISC:
        if n <= 16:
            return "".join(parts)
        body = data[16:]
    elif n < 16:
        parts.append(f"kdebug_sadb: message of {n} bytes is shorter than the 16-byte sadb_msg header.\n\n")
        return "".join(parts)
    parts.append(kdebug(body, platform))
    parts.append("\n")
    return "".join(parts)


def format_monitor_entries(messages: list[bytes], *, when: float, tflag: int, hexdump: bool,
                           platform: Platform = LINUX) -> str:
    """What the monitor prints for messages received together (one timestamp for all): the entries of
    :func:`format_monitor_entry`, joined."""
    if hexdump or not messages:
        return "".join(format_monitor_entry(d, when=when, tflag=tflag, hexdump=hexdump, platform=platform)
                       for d in messages)
    first = format_monitor_entry(messages[0], when=when, tflag=tflag, hexdump=False, platform=platform)
    stamp: str = _stamp_of[2]
    parts = [first]
    append = parts.append
    last, text = messages[0], ""
    for data in messages[1:]:
        if len(data) >= 16 and data[1] != _PROMISC:
            if data != last or not text:  # Linux sends an answer twice to a promiscuous socket: made once
                text = kdebug(data, platform)
                last = data
            append(stamp)
            append(text)
            append("\n")
        else:
            append(format_monitor_entry(data, when=when, tflag=tflag, hexdump=False, platform=platform))
    return "".join(parts)


def message_length(data: bytes, platform: Platform = LINUX) -> int:
    """The length in bytes that a message's header announces (0 if the header is incomplete)."""
    if len(data) < 16:
        return 0
    units: int = struct.unpack_from(platform.byteorder + "H", data, 4)[0]
    return units * 8
