"""The PF_KEY sockets open on the simulated kernel and who receives what (Linux ``pfkey_broadcast``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import Enum

from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX

Delivery = tuple[int, bytes]
"""One copy of a message for one socket: (socket id, bytes)."""


class Target(Enum):
    """pfkey_broadcast's delivery modes."""

    ONE = "one"
    ALL = "all"
    REGISTERED = "registered"
    PROMISC_ONLY = "promisc"


@dataclass(slots=True)
class SocketState:
    """Per-socket kernel state: promiscuous flag and the satypes registered for (bit mask)."""

    promisc: bool = False
    registered: int = 0


class Sockets:
    """The socket table; :meth:`broadcast` decides which sockets get a copy of a message, in Linux's order."""

    def __init__(self) -> None:
        self.table: dict[int, SocketState] = {}
        self._ids = itertools.count(1)

    def open(self) -> int:
        """A new socket; returns its id."""
        sid = next(self._ids)
        self.table[sid] = SocketState()
        return sid

    def close(self, sid: int) -> None:
        """Forget a socket (its registrations and promiscuous mode go with it)."""
        self.table.pop(sid, None)

    def __contains__(self, sid: object) -> bool:
        return sid in self.table

    def broadcast(self, data: bytes, target: Target, one: int | None = None) -> list[Delivery]:
        """Linux pfkey_broadcast: every promiscuous socket gets a copy first (in socket order, whatever the
        target: replies to a socket's own requests included), then the targets, the ``one`` socket last."""
        out: list[Delivery] = []
        for sid, st in self.table.items():
            if st.promisc:
                out.append((sid, data))
            if sid == one:
                continue
            if target is Target.ALL or (target is Target.REGISTERED and st.registered):
                out.append((sid, data))
        if one is not None and one in self.table:
            out.append((one, data))
        return out

    def send(self, msg: Message, target: Target, one: int | None = None) -> list[Delivery]:
        """Encode ``msg`` (Linux layout) and :meth:`broadcast` it."""
        return self.broadcast(msg.encode(LINUX), target, one)
