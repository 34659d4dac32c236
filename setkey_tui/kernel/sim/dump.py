"""SADB_DUMP and SADB_X_SPDDUMP as Linux runs them: lazily, one per socket, walking the live table.

af_key keeps one dump per socket (``pfk->dump``): a DUMP or SPDDUMP on a socket whose dump is still running
gets EBUSY. ``pfkey_do_dump`` walks the table from a cursor (``xfrm_state_walk`` / ``xfrm_policy_walk``)
while the socket's receive queue is at most 2/3 full (``pfkey_can_dump``: ``3 * rmem <= 2 * rcvbuf``), and
each ``recvmsg`` that leaves the queue at most 1/3 full continues it. The walk holds back the message it
built last and sends it when it builds the next one, so the final message, sent when the walk ends, is the
one that gets seq 0 (the others count 1, 2, … in walk order). A walk that finds nothing answers ENOENT to
the request (when it ends inside a later ``recvmsg`` nothing is said).

What a dump shows when the table changes under it is what the cursor sees: entries that existed when the dump
started, in their state when the cursor reaches them; entries deleted before the cursor reached them are not
shown; entries added after the start are not shown (Linux links new states and policies at the head of the
list, behind the cursor; an UPDATE of a larval SA is a new state). Here the walk is a snapshot of the table's
entries (references, in walk order) checked against the live table as the cursor reaches each one.
"""

from __future__ import annotations

import errno as E
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from setkey_tui.kernel.sim.errors import Fail
from setkey_tui.kernel.sim.sockets import Delivery, Sockets, Target


@dataclass(slots=True)
class Dump:
    """One socket's dump in progress: the walk's snapshot and cursor, what to build, what is held back."""

    snapshot: list[Any]  # the table's entries when the dump started, in walk order
    live: Callable[[Any], Any | None]  # an entry's current record, or None when gone (or filtered out)
    build: Callable[[Any, int], bytes]  # a record's reply with this seq
    pos: int = 0
    count: int = 0  # replies built so far
    held: bytes | None = None  # the last reply built, not sent yet
    done: bool = False  # the walk reached the end; only ``held`` is left to send


def seq_zero(data: bytes) -> bytes:
    """The message with sadb_msg_seq set to 0 (the last reply of a dump)."""
    return data[:8] + b"\0\0\0\0" + data[12:]


class Dumps:
    """The dumps running on the kernel's sockets."""

    def __init__(self, sockets: Sockets) -> None:
        self.sockets = sockets
        self.running: dict[int, Dump] = {}

    def active(self, sid: int) -> bool:
        """Whether socket ``sid`` has a dump running."""
        return sid in self.running

    def check_free(self, sid: int) -> None:
        """EBUSY when a dump is already running on ``sid``."""
        if sid in self.running:
            raise Fail(E.EBUSY)

    def start(self, sid: int, dump: Dump, rmem: int, rcvbuf: int | None) -> list[Delivery]:
        """Start a dump from its request and run it as far as the queue allows; ENOENT when it is empty."""
        self.check_free(sid)
        self.running[sid] = dump
        out, empty = self.run(sid, rmem, rcvbuf)
        if empty:
            raise Fail(E.ENOENT)
        return out

    def resume(self, sid: int, rmem: int, rcvbuf: int | None) -> list[Delivery]:
        """pfkey_recvmsg: after a read that leaves at most 1/3 of the buffer used, the dump goes on."""
        if sid not in self.running or (rcvbuf is not None and 3 * rmem > rcvbuf):
            return []
        return self.run(sid, rmem, rcvbuf)[0]

    def cancel(self, sid: int) -> None:
        """The socket closed: its dump ends (pfkey_terminate_dump)."""
        self.running.pop(sid, None)

    def run(self, sid: int, rmem: int, rcvbuf: int | None) -> tuple[list[Delivery], bool]:
        """pfkey_do_dump: walk while ``pfkey_can_dump``; (the replies sent, whether the walk found nothing).

        ``rmem`` is what the socket's queue holds now; ``rcvbuf`` None means no limit (the whole dump now).
        """
        d = self.running[sid]
        out: list[Delivery] = []
        queued = rmem
        snapshot = d.snapshot
        while not d.done:
            if rcvbuf is not None and 3 * queued > 2 * rcvbuf:
                return out, False  # paused: a later read continues
            if d.pos >= len(snapshot):
                d.done = True
                break
            entry = snapshot[d.pos]
            snapshot[d.pos] = None  # the walk keeps no reference to what it passed
            d.pos += 1
            rec = d.live(entry)
            if rec is None:
                continue
            d.count += 1
            data = d.build(rec, d.count)
            if d.held is not None:
                sent = self.sockets.broadcast(d.held, Target.ONE, sid)
                out += sent
                queued += sum(len(b) for s, b in sent if s == sid)
            d.held = data
        if d.held is None:
            del self.running[sid]
            return out, True
        if rcvbuf is not None and 3 * queued > 2 * rcvbuf:
            return out, False
        out += self.sockets.broadcast(seq_zero(d.held), Target.ONE, sid)
        del self.running[sid]
        return out, False
