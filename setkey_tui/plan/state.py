"""A kernel state snapshot: the SAs and policies of a dump, keyed by their identity.

Identity (what names an entry, as the kernel does) is the model's key: an SA is ``(satype, destination
address, SPI)``, a policy ``(selector, direction)`` (:func:`setkey_tui.model.sa_key`, :func:`~setkey_tui.model.policy_key`). Compared fields are what a setkey file decides; everything a copy of the state
cannot reproduce from a dump is left out of the comparison: the SA state (mature/dying: usage), its sequence
counter and current lifetime, a policy's id (the kernel numbers policies itself) and current lifetime, message
seq/pid/refcount, and the reqid the kernel picks for a ``unique`` request without one. Larval SAs (from ACQUIRE, SPI chosen by the kernel), dead SAs and per-socket policies (no
selector) are outside a snapshot: a plan never touches them. Absent hard/soft lifetimes equal all-zero ones
(the kernel's "infinite").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from setkey_tui.model import (
    ZERO_LIFETIME,
    IpsecRequest,
    Lifetime,
    PolicyKey,
    SAKey,
    SecurityAssociation,
    SecurityPolicy,
    policy_key,
    sa_key,
)
from setkey_tui.pfkey.constants import IPSEC_MANUAL_REQID_MAX, ExtType, Level, SAState
from setkey_tui.pfkey.extensions import AddressExt, LifetimeExt, PolicyExt, SA2Ext, SAExt
from setkey_tui.pfkey.message import Message
from setkey_tui.service import KeyService

SAId = SAKey  # an SA's identity, the model's key (one definition: setkey_tui.model.sa_key)
PolicyId = PolicyKey  # a policy's identity (setkey_tui.model.policy_key)


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


_VOLATILE_EXTS = frozenset({ExtType.LIFETIME_CURRENT})
_NO_LIFE = (0, 0, 0, 0)


def _sa_fingerprint(msg: Message) -> tuple[object, ...]:
    """Every extension an SA's compared fields read, raw, minus what the kernel alone decides (state,
    sequence, current lifetime): equal fingerprints mean equal compared fields (not always the reverse)."""
    return _fingerprint(msg, [msg.satype])


def _fingerprint(msg: Message, parts: list[object]) -> tuple[object, ...]:
    """``parts`` plus what identifies ``msg``'s content: the SA / SA2 / policy fields that matter, the other
    extensions but the volatile ones, then the hard and soft limits (absent ones as :data:`_NO_LIFE`)."""
    hard = soft = _NO_LIFE
    for e in msg.extensions:
        if isinstance(e, SAExt):
            parts.append((e.spi, e.replay, e.auth, e.encrypt, e.flags))
        elif isinstance(e, SA2Ext):
            parts.append(("sa2", e.mode, e.reqid))
        elif isinstance(e, PolicyExt):
            parts.append((e.policy_type, e.dir, e.priority, e.requests))
        elif isinstance(e, LifetimeExt):
            life = (e.addtime, e.byte_count, e.allocations, e.usetime)
            if e.ext_type == ExtType.LIFETIME_HARD:
                hard = life
            elif e.ext_type == ExtType.LIFETIME_SOFT:
                soft = life
        elif e.ext_type not in _VOLATILE_EXTS:
            parts.append(e)
    parts += [hard, soft]
    return tuple(parts)


def _sp_fingerprint(msg: Message) -> tuple[object, ...]:
    """The same for a policy: its id and current lifetime left out."""
    return _fingerprint(msg, [])


V = TypeVar("V")


class Entries(Mapping[Any, V]):
    """Identity → entry, in dump order, each entry built from its message only when first asked for (a
    snapshot of 10k entries mostly compares fingerprints). ``fingerprint(k)`` is None for an entry that
    came as a model object."""

    def __init__(self) -> None:
        self._msgs: dict[Any, Message | None] = {}
        self._fps: dict[Any, tuple[object, ...] | None] = {}
        self._built: dict[Any, V] = {}
        self._build: Callable[[Message], V] | None = None

    @classmethod
    def of(cls, items: Iterable[tuple[Any, V]]) -> Entries[V]:
        """Entries from model objects."""
        out: Entries[V] = cls()
        for k, v in items:
            out._msgs[k] = None
            out._fps[k] = None
            out._built[k] = v
        return out

    def _add_message(self, key: Any, msg: Message, fp: tuple[object, ...], build: Callable[[Message], V]) -> None:
        self._build = build
        self._msgs[key] = msg
        self._fps[key] = fp
        self._built.pop(key, None)

    def take(self, key: Any, other: Entries[V]) -> None:
        """Copy ``other``'s entry ``key`` (message, fingerprint and model if built)."""
        self._build = self._build or other._build
        self._msgs[key] = other._msgs[key]
        self._fps[key] = other._fps[key]
        if key in other._built:
            self._built[key] = other._built[key]

    def message(self, key: Any) -> Message | None:
        """The dump message an entry came from (None: not from a message)."""
        return self._msgs[key]

    def fingerprint(self, key: Any) -> tuple[object, ...] | None:
        """The raw fingerprint of an entry (None: not from a message)."""
        return self._fps[key]

    def __getitem__(self, key: Any) -> V:
        try:
            return self._built[key]
        except KeyError:
            msg = self._msgs[key]
            assert msg is not None and self._build is not None
            value = self._built[key] = self._build(msg)
            return value

    def __iter__(self) -> Iterator[Any]:
        return iter(self._msgs)

    def __len__(self) -> int:
        return len(self._msgs)

    def __contains__(self, key: object) -> bool:
        return key in self._msgs


class KernelState:
    """The SAs and policies of one dump, in dump order, keyed by identity (keys included: memory only)."""

    def __init__(self, sas: Mapping[SAId, SecurityAssociation] | None = None,
                 policies: Mapping[PolicyId, SecurityPolicy] | None = None) -> None:
        self.sas: Entries[SecurityAssociation] = (
            sas if isinstance(sas, Entries) else Entries.of((sas or {}).items()))
        self.policies: Entries[SecurityPolicy] = (
            policies if isinstance(policies, Entries) else Entries.of((policies or {}).items()))

    @classmethod
    def from_messages(cls, sa_msgs: Iterable[Message], sp_msgs: Iterable[Message]) -> KernelState:
        """The state of SADB_DUMP and SADB_X_SPDDUMP replies (larval/dead SAs and socket policies left out)."""
        sas: Entries[SecurityAssociation] = Entries()
        for msg in sa_msgs:
            sa, dst = msg.get(ExtType.SA), msg.get(ExtType.ADDRESS_DST)
            if not isinstance(sa, SAExt) or not isinstance(dst, AddressExt) or ExtType.ADDRESS_SRC not in msg:
                continue
            if sa.state in (SAState.LARVAL, SAState.DEAD):
                continue
            sas._add_message(sa_key(msg.satype, dst.sockaddr.addr, sa.spi), msg, _sa_fingerprint(msg),
                             SecurityAssociation.from_message)
        policies: Entries[SecurityPolicy] = Entries()
        for msg in sp_msgs:
            pol, src_ext = msg.get(ExtType.X_POLICY), msg.get(ExtType.ADDRESS_SRC)
            dst_ext = msg.get(ExtType.ADDRESS_DST)
            if not (isinstance(pol, PolicyExt) and isinstance(src_ext, AddressExt) and isinstance(dst_ext, AddressExt)):
                continue
            if pol.dir not in (1, 2, 3):
                continue
            s, d = src_ext.sockaddr, dst_ext.sockaddr
            key = policy_key(s.addr, src_ext.prefixlen, s.port, d.addr, dst_ext.prefixlen, d.port, src_ext.proto,
                             pol.dir)
            policies._add_message(key, msg, _sp_fingerprint(msg), SecurityPolicy.from_message)
        return cls(sas, policies)

    def sa_same(self, key: SAId, other: KernelState) -> bool:
        """True when the SA ``key`` (held by both) has the same compared values in ``other``."""
        a, b = self.sas.fingerprint(key), other.sas.fingerprint(key)
        if a is not None and a == b:
            return True
        return sa_values(self.sas[key]) == sa_values(other.sas[key])

    def policy_same(self, key: PolicyId, other: KernelState) -> bool:
        """True when the policy ``key`` (held by both) has the same compared values in ``other``."""
        a, b = self.policies.fingerprint(key), other.policies.fingerprint(key)
        if a is not None and a == b:
            return True
        return policy_values(self.policies[key]) == policy_values(other.policies[key])

    def same_as(self, other: KernelState) -> bool:
        """True when both hold the same identities with the same compared values."""
        if self.sas.keys() != other.sas.keys() or self.policies.keys() != other.policies.keys():
            return False
        return (all(self.sa_same(k, other) for k in self.sas)
                and all(self.policy_same(k, other) for k in self.policies))

    def differences(self, other: KernelState, limit: int = 5) -> list[str]:
        """A few words per difference between this expected state and ``other``, what the kernel holds (at
        most ``limit``): for verification reports."""
        from setkey_tui.plan.render import policy_title, sa_title

        out: list[str] = []
        for k in self.sas.keys() | other.sas.keys():
            if k in self.sas and k in other.sas and self.sa_same(k, other):
                continue
            sa = self.sas[k] if k in self.sas else other.sas[k]
            state = "unexpected" if k not in self.sas else "missing" if k not in other.sas else "different"
            out.append(f"{sa_title(sa)}: {state}")
        for pk in self.policies.keys() | other.policies.keys():
            if pk in self.policies and pk in other.policies and self.policy_same(pk, other):
                continue
            sp = self.policies[pk] if pk in self.policies else other.policies[pk]
            state = "unexpected" if pk not in self.policies else "missing" if pk not in other.policies else "different"
            out.append(f"{policy_title(sp)}: {state}")
        out.sort()
        return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])

    def __len__(self) -> int:
        return len(self.sas) + len(self.policies)


def snapshot(service: KeyService) -> KernelState:
    """Dump the SAD and SPD through ``service``: the state they hold now."""
    return KernelState.from_messages(service.dump(), service.spddump())
