"""A kernel state snapshot: the SAs and policies of a dump, keyed by their identity.

Identity (what names an entry, as the kernel does): an SA is ``(satype, destination address, SPI)``; a policy
is ``(selector, direction)``. Compared fields are what a setkey file decides; everything a copy of the state
cannot reproduce from a dump is left out of the comparison: the SA state (mature/dying: usage), its sequence
counter and current lifetime, a policy's id (the kernel numbers policies itself) and current lifetime, message
seq/pid/refcount, and the reqid the kernel picks for a ``unique`` request without one. Larval SAs (from ACQUIRE, SPI chosen by the kernel), dead SAs and per-socket policies (no
selector) are outside a snapshot: a plan never touches them. Absent hard/soft lifetimes equal all-zero ones
(the kernel's "infinite").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from setkey_tui.model import (
    ZERO_LIFETIME,
    IPAddress,
    IpsecRequest,
    Lifetime,
    ModelError,
    SecurityAssociation,
    SecurityPolicy,
    Selector,
)
from setkey_tui.pfkey.constants import IPSEC_MANUAL_REQID_MAX, Level, SAState
from setkey_tui.pfkey.message import Message
from setkey_tui.service import KeyService

SAId = tuple[int, IPAddress, int]
PolicyId = tuple[Selector | None, int]


def _request(r: IpsecRequest) -> IpsecRequest:
    """A request as a file decides it: a ``unique`` level's automatic reqid (above 0x3fff, chosen by the
    kernel afresh on every add) compares as 0."""
    if r.level == Level.UNIQUE and r.reqid > IPSEC_MANUAL_REQID_MAX:
        return replace(r, reqid=0)
    return r


def _life(life: Lifetime | None) -> tuple[int, int, int, int]:
    life = life or ZERO_LIFETIME
    return (life.addtime, life.bytes, life.allocations, life.usetime)


@dataclass(frozen=True)
class Field:
    """One compared field: its label, how to read it, and whether its value is a secret (a key)."""

    label: str
    get: Callable[[Any], object]
    secret: bool = False


SA_FIELDS: tuple[Field, ...] = (
    Field("source", lambda sa: (sa.src, sa.ulproto)),
    Field("destination", lambda sa: sa.dst),
    Field("mode", lambda sa: sa.mode),
    Field("reqid", lambda sa: sa.reqid),
    Field("replay", lambda sa: sa.replay),
    Field("flags", lambda sa: sa.flags),
    Field("encryption", lambda sa: sa.encrypt),
    Field("encryption key", lambda sa: sa.enc_key or b"", secret=True),
    Field("authentication", lambda sa: sa.auth),
    Field("authentication key", lambda sa: sa.auth_key or b"", secret=True),
    Field("hard lifetime", lambda sa: _life(sa.hard)),
    Field("soft lifetime", lambda sa: _life(sa.soft)),
    Field("nat-t", lambda sa: (sa.natt_type, sa.natt_sport, sa.natt_dport, sa.natt_oa)),
    Field("proxy", lambda sa: (sa.proxy, sa.proxy_proto if sa.proxy is not None else 0)),
)
# The SA fields a Linux SADB_UPDATE of a mature SA really changes (xfrm_state_update): the lifetimes.
SA_UPDATABLE = frozenset({"hard lifetime", "soft lifetime"})

POLICY_FIELDS: tuple[Field, ...] = (
    Field("action", lambda sp: sp.action),
    Field("priority", lambda sp: sp.priority),
    Field("requests", lambda sp: tuple(_request(r) for r in sp.requests)),
    Field("hard lifetime", lambda sp: _life(sp.hard)),
    Field("soft lifetime", lambda sp: _life(sp.soft)),
)


def sa_values(sa: SecurityAssociation) -> tuple[object, ...]:
    """The compared values of an SA, in :data:`SA_FIELDS` order."""
    return tuple(f.get(sa) for f in SA_FIELDS)


def policy_values(sp: SecurityPolicy) -> tuple[object, ...]:
    """The compared values of a policy, in :data:`POLICY_FIELDS` order."""
    return tuple(f.get(sp) for f in POLICY_FIELDS)


@dataclass(frozen=True)
class KernelState:
    """The SAs and policies of one dump, in dump order, keyed by identity (keys included: memory only)."""

    sas: dict[SAId, SecurityAssociation] = field(default_factory=dict)
    policies: dict[PolicyId, SecurityPolicy] = field(default_factory=dict)

    @classmethod
    def from_messages(cls, sa_msgs: Iterable[Message], sp_msgs: Iterable[Message]) -> KernelState:
        """The state of SADB_DUMP and SADB_X_SPDDUMP replies (larval/dead SAs and socket policies left out)."""
        sas: dict[SAId, SecurityAssociation] = {}
        for msg in sa_msgs:
            try:
                sa = SecurityAssociation.from_message(msg)
            except ModelError:
                continue
            if sa.state in (SAState.LARVAL, SAState.DEAD):
                continue
            sas[sa.key] = sa
        policies: dict[PolicyId, SecurityPolicy] = {}
        for msg in sp_msgs:
            try:
                sp = SecurityPolicy.from_message(msg)
            except ModelError:
                continue
            if sp.selector is None or sp.direction not in (1, 2, 3):
                continue
            policies[sp.key] = sp
        return cls(sas, policies)

    def same_as(self, other: KernelState) -> bool:
        """True when both hold the same identities with the same compared values."""
        if self.sas.keys() != other.sas.keys() or self.policies.keys() != other.policies.keys():
            return False
        return all(sa_values(sa) == sa_values(other.sas[k]) for k, sa in self.sas.items()) and all(
            policy_values(sp) == policy_values(other.policies[k]) for k, sp in self.policies.items()
        )

    def differences(self, other: KernelState, limit: int = 5) -> list[str]:
        """A few words per difference between this expected state and ``other``, what the kernel holds (at
        most ``limit``): for verification reports."""
        from setkey_tui.plan.render import policy_title, sa_title

        out: list[str] = []
        for k in self.sas.keys() | other.sas.keys():
            a, b = self.sas.get(k), other.sas.get(k)
            if a is None or b is None or sa_values(a) != sa_values(b):
                sa = a or b
                assert sa is not None
                state = "unexpected" if a is None else "missing" if b is None else "different"
                out.append(f"{sa_title(sa)}: {state}")
        for pk in self.policies.keys() | other.policies.keys():
            p, q = self.policies.get(pk), other.policies.get(pk)
            if p is None or q is None or policy_values(p) != policy_values(q):
                sp = p or q
                assert sp is not None
                state = "unexpected" if p is None else "missing" if q is None else "different"
                out.append(f"{policy_title(sp)}: {state}")
        out.sort()
        return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])

    def __len__(self) -> int:
        return len(self.sas) + len(self.policies)


def snapshot(service: KeyService) -> KernelState:
    """Dump the SAD and SPD through ``service``: the state they hold now."""
    return KernelState.from_messages(service.dump(), service.spddump())
