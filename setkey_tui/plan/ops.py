"""The ordered kernel operations that turn one state into another, make-before-break.

Order: (1) new SAs are added; (2) changed SAs are updated (lifetimes only: SADB_UPDATE) or, when the kernel
cannot update what changed (keys, algorithms, addresses …), deleted and re-added with the same SPI in adjacent
requests; (3) new policies are added and changed ones replaced with SPDUPDATE; (4) removed policies are
deleted; (5) removed SAs are deleted. So a flow covered by a ``require`` policy always has a usable SA when the
old and the new state both give it one (the new SA exists before a policy points at it, the old one goes only
after no policy needs it) - except an SA replaced in place, which the kernel names by its SPI: the plan marks it.
Unchanged entries get no operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from setkey_tui.model import SecurityAssociation, SecurityPolicy
from setkey_tui.pfkey.constants import MsgType, SAState, SAType
from setkey_tui.pfkey.extensions import AddressExt, SAExt
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.plan.diff import Change

Verb = Literal["add", "update", "delete", "spdadd", "spdupdate", "spddelete"]
_TYPES: dict[str, int] = {"add": MsgType.ADD, "update": MsgType.UPDATE, "delete": MsgType.DELETE,
                          "spdadd": MsgType.X_SPDADD, "spdupdate": MsgType.X_SPDUPDATE,
                          "spddelete": MsgType.X_SPDDELETE}


@dataclass(frozen=True)
class Operation:
    """One kernel request: a verb and the SA or policy it is about."""

    verb: Verb
    entry: SecurityAssociation | SecurityPolicy

    @property
    def msg_type(self) -> int:
        """The PF_KEY message type."""
        return _TYPES[self.verb]

    def message(self, platform: Platform = LINUX) -> Message:
        """The request (seq and pid are set by the :class:`~setkey_tui.service.KeyService` that sends it)."""
        e = self.entry
        if isinstance(e, SecurityAssociation):
            if self.verb == "delete":  # what setkey's delete sends: SA, source, destination
                exts = (SAExt(e.spi), AddressExt(5, e.src.to_sockaddr(platform), 255, e.src.prefixlen),
                        AddressExt(6, e.dst.to_sockaddr(platform), 255, e.dst.prefixlen))
                return Message(MsgType.DELETE, e.satype, extensions=exts)
            return sa_request(e, self.msg_type, platform)
        return replace(e, spid=0, msg_seq=0, pid=0).to_request(self.msg_type, platform)


def sa_request(sa: SecurityAssociation, msg_type: int, platform: Platform = LINUX) -> Message:
    """The ADD/UPDATE request that recreates ``sa`` as a dump shows it. An ESP SA without encryption key
    (``-E null``) gets the empty KEY_ENCRYPT setkey sends (Linux requires the extension for ESP)."""
    clean = replace(sa, msg_seq=0, pid=0, state=SAState.MATURE, sequence=0)
    if sa.satype == SAType.ESP and sa.enc_key is None:
        clean = replace(clean, enc_key=b"")
    return clean.to_request(msg_type, platform)


def operations(changes: Iterable[Change]) -> list[Operation]:
    """The fewest requests that carry out ``changes``, in make-before-break order (see the module text)."""
    sa_add: list[Operation] = []
    sa_change: list[Operation] = []
    sp_set: list[Operation] = []
    sp_del: list[Operation] = []
    sa_del: list[Operation] = []
    for c in changes:
        if c.is_sa:
            if c.sign == "+":
                sa_add.append(Operation("add", c.entry))
            elif c.sign == "-":
                sa_del.append(Operation("delete", c.entry))
            elif c.in_place:
                assert c.before is not None
                sa_change += [Operation("delete", c.before), Operation("add", c.entry)]
            else:
                sa_change.append(Operation("update", c.entry))
        elif c.sign == "+":
            sp_set.append(Operation("spdadd", c.entry))
        elif c.sign == "~":
            sp_set.append(Operation("spdupdate", c.entry))
        else:
            sp_del.append(Operation("spddelete", c.entry))
    return sa_add + sa_change + sp_set + sp_del + sa_del
