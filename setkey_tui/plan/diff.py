"""The plan: run a script on a simulated copy of the live state and compare the copy before and after.

The copy is a fresh :class:`~setkey_tui.kernel.sim.SimKernel` (with the live kernel's algorithm lists) loaded
with ADD and SPDADD requests built from the live dump; the script runs on it through ``setkey -f``'s machinery
(:func:`~setkey_tui.script.run_script`), so its diagnostics are exactly setkey's. Which entries change is decided
by comparing the copy before and after the script, so that what a simulated kernel shows differently from the
live one can never look like a change: an unchanged entry's expected end state is the live entry itself.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any, Literal

from setkey_tui.kernel.base import TransportError
from setkey_tui.model import SecurityAssociation, SecurityPolicy
from setkey_tui.pfkey.constants import ExtType, MsgType, SAState, SAType
from setkey_tui.pfkey.extensions import Alg, Extension, KeyExt, PolicyExt, SAExt
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.plan.state import (
    POLICY_FIELDS,
    SA_FIELDS,
    SA_UPDATABLE,
    Entries,
    Field,
    KernelState,
    snapshot,
)
from setkey_tui.service import KernelReplyError, KeyService

Sign = Literal["+", "-", "~"]
Supported = tuple[tuple[Alg, ...], tuple[Alg, ...]]  # the kernel's (auth, encrypt) algorithms


class PlanError(Exception):
    """A plan could not be made or applied; ``str()`` is one line for the user."""


@dataclass(frozen=True)
class FieldChange:
    """One field of a changed entry: label, value before and after (raw), and whether it is a key."""

    label: str
    before: object
    after: object
    secret: bool = False


@dataclass(frozen=True)
class Change:
    """One entry added (``+``), removed (``-``) or changed (``~``, with its field changes)."""

    sign: Sign
    before: SecurityAssociation | SecurityPolicy | None
    after: SecurityAssociation | SecurityPolicy | None
    fields: tuple[FieldChange, ...] = ()

    @property
    def entry(self) -> SecurityAssociation | SecurityPolicy:
        """The entry this change is about (the new one when there is one)."""
        entry = self.after if self.after is not None else self.before
        assert entry is not None
        return entry

    @property
    def is_sa(self) -> bool:
        """True for an SA, False for a policy."""
        return isinstance(self.entry, SecurityAssociation)

    @property
    def in_place(self) -> bool:
        """A changed SA that the kernel cannot update (keys, algorithms …): deleted and re-added, same SPI."""
        return self.sign == "~" and self.is_sa and not {f.label for f in self.fields} <= SA_UPDATABLE


def _fields(fields: tuple[Field, ...], a: object, b: object) -> tuple[FieldChange, ...]:
    out = []
    for f in fields:
        va, vb = f.get(a), f.get(b)
        if va != vb:
            out.append(FieldChange(f.label, va, vb, f.secret))
    return tuple(out)


def compare(before: KernelState, after: KernelState) -> list[Change]:
    """Every difference from ``before`` to ``after``: SAs first, then policies; removals and changes, then
    additions, each oldest first (dumps list the newest first)."""
    out: list[Change] = []
    for k in reversed(list(before.sas)):
        if k not in after.sas:
            out.append(Change("-", before.sas[k], None))
        elif not before.sa_same(k, after):
            out.append(Change("~", before.sas[k], after.sas[k], _fields(SA_FIELDS, before.sas[k], after.sas[k])))
    out += [Change("+", None, after.sas[k]) for k in reversed(list(after.sas)) if k not in before.sas]
    for pk in reversed(list(before.policies)):
        if pk not in after.policies:
            out.append(Change("-", before.policies[pk], None))
        elif not before.policy_same(pk, after):
            out.append(Change("~", before.policies[pk], after.policies[pk],
                              _fields(POLICY_FIELDS, before.policies[pk], after.policies[pk])))
    out += [Change("+", None, after.policies[pk]) for pk in reversed(list(after.policies))
            if pk not in before.policies]
    return out


@dataclass(frozen=True)
class Plan:
    """What applying a script would do to one kernel.

    ``live`` is the snapshot the plan starts from (keys included, in memory only), ``target`` the state the
    kernel must hold afterwards, ``changes`` the difference; ``script_status``/``script_out``/``script_err``
    are what ``setkey -f`` of the script printed and returned on the copy.
    """

    kernel: str
    platform: Platform
    live: KernelState
    target: KernelState
    changes: tuple[Change, ...]
    script_status: int
    script_out: str
    script_err: str

    @property
    def counts(self) -> dict[str, int]:
        """How many entries are added, changed, removed and left unchanged."""
        add = sum(c.sign == "+" for c in self.changes)
        change = sum(c.sign == "~" for c in self.changes)
        remove = sum(c.sign == "-" for c in self.changes)
        return {"add": add, "change": change, "remove": remove, "unchanged": len(self.live) - change - remove}

    @property
    def empty(self) -> bool:
        """True when applying would change nothing."""
        return not self.changes


def _copy_request(msg: Message | None, entry: SecurityAssociation | SecurityPolicy | None, is_sa: bool) -> Message:
    """The ADD / SPDADD that recreates a dumped entry: its dump message without what only the kernel sets
    (current lifetime, state, policy id); an ESP SA without encryption key gets setkey's empty one."""
    from setkey_tui.plan.ops import sa_request

    if msg is None:
        assert entry is not None
        if isinstance(entry, SecurityAssociation):
            return sa_request(entry, MsgType.ADD, LINUX)
        return replace(entry, spid=0, msg_seq=0, pid=0).to_request(MsgType.X_SPDADD, LINUX)
    exts: list[Extension] = []
    for e in msg.extensions:
        if e.ext_type == ExtType.LIFETIME_CURRENT:
            continue
        if isinstance(e, SAExt):
            e = e._replace(state=SAState.MATURE)
        elif isinstance(e, PolicyExt):
            e = e._replace(id=0)
        exts.append(e)
    if msg.satype == SAType.ESP and ExtType.KEY_ENCRYPT not in msg:
        exts.append(KeyExt(ExtType.KEY_ENCRYPT, 0, b""))
    msg_type = MsgType.ADD if is_sa else MsgType.X_SPDADD
    return Message(msg_type, msg.satype, 0, 0, 0, tuple(exts))


def _sim_copy(live: KernelState, supported: Supported | None) -> KeyService:
    """A simulated kernel holding the live entries. The requests are sent back to back (the in-process
    kernel answers each at once) and the answers read afterwards: a refusal names its entry."""
    from setkey_tui.kernel.sim import SimHost, SimKernel, SimTransport
    from setkey_tui.plan.render import title

    if supported is not None and supported[0] and supported[1]:
        kernel = SimKernel(supported_auth=supported[0], supported_encrypt=supported[1])
    else:
        kernel = SimKernel()
    transport = SimTransport(SimHost(kernel), description="simulated copy of the live state", platform=LINUX)
    copy = KeyService(transport)
    sent: dict[int, tuple[Entries[Any], Any]] = {}
    todo: list[tuple[Entries[Any], Any]] = [(live.sas, k) for k in reversed(list(live.sas))]
    todo += [(live.policies, k) for k in reversed(list(live.policies))]
    try:
        for entries, key in todo:
            seq = copy.next_seq()
            sent[seq] = (entries, key)
            msg = entries.message(key)
            request = _copy_request(msg, entries[key] if msg is None else None, entries is live.sas)
            transport.send(request._replace(seq=seq, pid=copy.pid).encode(LINUX))
        while (data := transport.recv(0)) is not None:
            if not data[2]:  # sadb_msg_errno: most answers are the kernel's copies of each ADD
                continue
            reply = decode(data, LINUX)
            if reply.errno and reply.pid == copy.pid and reply.seq in sent:
                entries, key = sent[reply.seq]
                raise PlanError(f"the simulated copy refuses the live {title(entries[key])}: "
                                f"{KernelReplyError(reply.errno, reply.type)}")
    except (PlanError, TransportError):
        copy.close()
        raise
    return copy


def make_plan(service: KeyService, text: str, *, stdin_mode: bool = False) -> Plan:
    """Plan ``text`` (a setkey script; ``stdin_mode``: ``-c``'s line rules) against the kernel of ``service``.

    Raises :class:`PlanError` (one line) when the kernel cannot be read or copied."""
    from setkey_tui.script import run_script

    try:
        live = snapshot(service)
        try:
            supported: Supported | None = service.register()
        except KernelReplyError:
            supported = None
    except (TransportError, KernelReplyError) as exc:
        raise PlanError(f"cannot read the kernel's state: {exc}") from None
    copy = _sim_copy(live, supported)
    try:
        start = snapshot(copy)
        out, err = io.StringIO(), io.StringIO()
        # A socket of its own, as `setkey -f` opens one: nothing of the copy's loading waits on it.
        from setkey_tui.kernel.sim import SimTransport

        host = copy.transport.host  # type: ignore[attr-defined]
        script_socket = SimTransport(host, description=copy.description, platform=LINUX)
        try:
            status = run_script(text, script_socket, stdin_mode=stdin_mode, out=out, err=err)
        finally:
            script_socket.close()
        end = snapshot(copy)
    finally:
        copy.close()
    changes = compare(start, end)
    changed_sa = {c.entry.key for c in changes if isinstance(c.entry, SecurityAssociation)}
    changed_sp = {c.entry.key for c in changes if isinstance(c.entry, SecurityPolicy)}
    target = KernelState()
    for k in end.sas:
        target.sas.take(k, end.sas if k in changed_sa else live.sas)
    for pk in end.policies:
        target.policies.take(pk, end.policies if pk in changed_sp else live.policies)
    # Before-values from the live snapshot (the copy holds the same entries; keys included).
    changes = [replace(c, before=(live.sas[c.before.key] if isinstance(c.before, SecurityAssociation)
                                  else live.policies[c.before.key])) if c.before is not None else c
               for c in changes]
    return Plan(service.description, service.platform, live, target, tuple(changes), status,
                out.getvalue(), err.getvalue())
