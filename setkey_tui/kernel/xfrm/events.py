"""XFRM replies and notifications → PF_KEY messages, for one listening socket (sans-I/O).

:class:`Translator` knows what PF_KEY cannot be told by XFRM alone: the algorithm ids of SAs it has seen
(an XFRM expire carries none, af_key's EXPIRE does) and the :class:`~setkey_tui.kernel.xfrm.notes.Notes` of
every SA and policy it translated, looked up by :meth:`Translator.notes_for`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from setkey_tui.kernel.xfrm import notes as N
from setkey_tui.kernel.xfrm import structs as S
from setkey_tui.kernel.xfrm import to_pfkey as P
from setkey_tui.pfkey.constants import ExtType, MsgType, SAState
from setkey_tui.pfkey.extensions import AddressExt, PolicyExt, SAExt
from setkey_tui.pfkey.message import Message

# Who receives a message, as af_key's pfkey_broadcast says it.
ONE, ALL, REGISTERED, PROMISC_ONLY = "one", "all", "registered", "promisc"
_SA_EVENTS = {S.NEWSA: MsgType.ADD, S.UPDSA: MsgType.UPDATE}
_SP_EVENTS = {S.NEWPOLICY: MsgType.X_SPDADD, S.UPDPOLICY: MsgType.X_SPDUPDATE}

_Out = TypeVar("_Out", Message, bytes)


class Out(NamedTuple):
    """A PF_KEY message and who af_key would send it to."""

    message: Message
    target: str


def _attr(attr_type: int, value: bytes) -> bytes:
    from setkey_tui.kernel.xfrm.netlink import encode_attr

    return encode_attr(attr_type, value)


def _sa_key(satype: int, daddr: bytes, spi: int) -> tuple[str, int, bytes, int]:
    return ("sa", satype, daddr, spi)


_SHARED_ALGS: dict[tuple[int, bytes, int], tuple[int, int]] = {}
# What an SA's or policy's notes are keyed by: ("sa", satype, daddr, spi) or ("sp", index).
NoteKey = tuple[str, int, bytes, int] | tuple[str, int]
_SHARED_NOTES: dict[NoteKey, tuple[str, bytes, int]] = {}


class Translator:
    """Turns XFRM states, policies and events into PF_KEY messages; remembers what later messages need."""

    def __init__(self, clock: Callable[[], float] = time.time, *, shared: bool = True) -> None:
        self.clock = clock
        # What later messages need and what PF_KEY lost, shared by every translator of the process (unless
        # ``shared`` is False) so that the TUI's listener and its request socket know the same: the algorithm
        # ids of each SA (an XFRM expire has none) and, per SA or policy, what its notes are made from (the
        # XFRM payload and where its attributes start), turned into Notes only when asked for.
        self._algs: dict[tuple[int, bytes, int], tuple[int, int]] = _SHARED_ALGS if shared else {}
        self._notes: dict[NoteKey, tuple[str, bytes, int]] = _SHARED_NOTES if shared else {}
        self.skipped = 0  # entries af_key would not report (other protocols, sub policies …)

    # ------------------------------------------------------------------------------------------ notes
    def notes_for(self, msg: Message) -> N.Notes | None:
        """The XFRM facts PF_KEY lost for the SA or policy ``msg`` carries (None: nothing was lost)."""
        from setkey_tui.kernel.xfrm.netlink import parse_attrs

        sa = msg.get(ExtType.SA)
        dst = msg.get(ExtType.ADDRESS_DST)
        found = None
        if isinstance(sa, SAExt) and isinstance(dst, AddressExt):
            found = self._notes.get(_sa_key(msg.satype, S.addr_bytes(dst.sockaddr.addr), sa.spi))
        else:
            pol = msg.get(ExtType.X_POLICY)
            if isinstance(pol, PolicyExt):
                found = self._notes.get(("sp", pol.id))
        if found is None:
            return None
        kind, raw, offset = found
        attrs = parse_attrs(raw, offset)
        if kind == "sa":
            notes = N.state_notes(S.UserSAInfo.unpack(raw), attrs)
        else:
            notes = N.policy_notes(S.UserPolicyInfo.unpack(raw), attrs,
                                   S.UserTmpl.unpack_all(attrs.get(S.XFRMA_TMPL, b"")))
        return notes or None

    # ------------------------------------------------------------------------------------------ states
    def state(self, info: S.UserSAInfo, attrs: dict[int, bytes], msg_type: int, *, seq: int, pid: int,
              state: int | None = None, keys: bool = True, hsc: int = 3,
              raw: tuple[bytes, int] | None = None) -> Message | None:
        """One state as af_key's message (None when af_key would not report it). ``raw``: the bytes the
        state was read from (a usersa_info then attributes from the offset given), kept for its notes."""
        try:
            if state is None:
                state = P.sa_state(info, attrs, self.clock())
            key = (info.proto, info.daddr, info.spi)
            msg = P.state_message(info, attrs, msg_type, seq=seq, pid=pid, state=state, keys=keys, hsc=hsc,
                                  alg_ids=self._algs.get(key) if msg_type == MsgType.EXPIRE else None)
        except P.Untranslatable:
            self.skipped += 1
            return None
        sa = msg.extensions[0]
        assert isinstance(sa, SAExt)
        if sa.auth or sa.encrypt:
            self._algs[key] = (sa.auth, sa.encrypt)
        nkey = _sa_key(msg.satype, info.daddr, info.spi)
        if N.state_may_have_notes(info, attrs):
            self._notes[nkey] = ("sa", *(raw or (info.pack() + b"".join(_attr(t, v) for t, v in attrs.items()), 224)))
        elif self._notes:
            self._notes.pop(nkey, None)
        return msg

    def state_bytes(self, info: S.UserSAInfo, attrs: dict[int, bytes], msg_type: int, *, seq: int, pid: int,
                    raw: tuple[bytes, int] | None = None) -> bytes | None:
        """:meth:`state` (keys, both lifetimes: a dump or GET reply) as encoded bytes, faster."""
        key = (info.proto, info.daddr, info.spi)
        try:
            data, auth, encrypt = P.state_bytes(info, attrs, msg_type, seq=seq, pid=pid,
                                                state=P.sa_state(info, attrs, self.clock()))
        except P.Untranslatable:
            self.skipped += 1
            return None
        if auth or encrypt:
            self._algs[key] = (auth, encrypt)
        nkey = _sa_key(data[3], info.daddr, info.spi)
        if N.state_may_have_notes(info, attrs):
            self._notes[nkey] = ("sa", *(raw or (info.pack() + b"".join(_attr(t, v) for t, v in attrs.items()), 224)))
        elif self._notes:
            self._notes.pop(nkey, None)
        return data

    def forget_state(self, info: S.UserSAInfo) -> None:
        """Drop what was remembered about a state that is gone."""
        self._algs.pop((info.proto, info.daddr, info.spi), None)

    # ---------------------------------------------------------------------------------------- policies
    def policy_bytes(self, info: S.UserPolicyInfo, attrs: dict[int, bytes], msg_type: int, *, seq: int, pid: int,
                     refcnt: int, raw: tuple[bytes, int] | None = None) -> bytes | None:
        """:meth:`policy` as encoded bytes, faster (dumps)."""
        return self._translate_policy(P.policy_bytes, info, attrs, msg_type, seq, pid, refcnt, raw)

    def _translate_policy(self, translate: Callable[..., _Out], info: S.UserPolicyInfo, attrs: dict[int, bytes],
                          msg_type: int, seq: int, pid: int, refcnt: int, raw: tuple[bytes, int] | None) -> _Out | None:
        """``translate`` (to a message or to bytes) on a main-type policy, keeping its notes; None, counted as
        skipped, for what af_key ignores or cannot show."""
        templates = self._main_templates(attrs)
        if templates is None:
            return None
        try:
            out = translate(info, templates, attrs, msg_type, seq=seq, pid=pid, refcnt=refcnt)
        except P.Untranslatable:
            self.skipped += 1
            return None
        self._keep_policy_notes(info, attrs, templates, raw)
        return out

    def _main_templates(self, attrs: dict[int, bytes]) -> tuple[S.UserTmpl, ...] | None:
        """A main-type policy's templates; None (counted as skipped) for a sub policy, which af_key ignores."""
        ptype = attrs.get(S.XFRMA_POLICY_TYPE)
        if ptype is not None and S.unpack_policy_type(ptype) != S.POLICY_TYPE_MAIN:
            self.skipped += 1
            return None
        return S.UserTmpl.unpack_all(attrs.get(S.XFRMA_TMPL, b""))

    def _keep_policy_notes(self, info: S.UserPolicyInfo, attrs: dict[int, bytes],
                           templates: tuple[S.UserTmpl, ...], raw: tuple[bytes, int] | None) -> None:
        if (info.flags or info.sel.ifindex or S.XFRMA_MARK in attrs or S.XFRMA_IF_ID in attrs
                or any((t.aalgos, t.ealgos, t.calgos) != (0xFFFFFFFF,) * 3 or t.spi for t in templates)):
            self._notes[("sp", info.idx)] = (
                "sp", *(raw or (info.pack() + b"".join(_attr(t, v) for t, v in attrs.items()), 168)))
        elif self._notes:
            self._notes.pop(("sp", info.idx), None)

    def policy(self, info: S.UserPolicyInfo, attrs: dict[int, bytes], msg_type: int, *, seq: int, pid: int,
               refcnt: int, raw: tuple[bytes, int] | None = None) -> Message | None:
        """One main-type policy as af_key's message (None for sub policies and what af_key cannot show)."""
        return self._translate_policy(P.policy_message, info, attrs, msg_type, seq, pid, refcnt, raw)

    # ------------------------------------------------------------------------------------------ events
    def event(self, nl_type: int, seq: int, pid: int, payload: bytes) -> list[Out]:
        """The PF_KEY messages af_key sends for one XFRM multicast notification."""
        from setkey_tui.kernel.xfrm.netlink import parse_attrs

        if nl_type in _SA_EVENTS:
            info = S.UserSAInfo.unpack(payload)
            msg = self.state(info, parse_attrs(payload, S.USERSA_INFO_SIZE), _SA_EVENTS[nl_type], seq=seq, pid=pid,
                             raw=(payload, S.USERSA_INFO_SIZE))
            return [Out(msg, ALL)] if msg is not None else []
        if nl_type == S.DELSA:
            attrs = parse_attrs(payload, S.USERSA_ID_SIZE)
            raw = attrs.get(S.XFRMA_SA)
            if raw is None or len(raw) < S.USERSA_INFO_SIZE:
                return []
            info = S.UserSAInfo.unpack(raw)
            msg = self.state(info, attrs, MsgType.DELETE, seq=seq, pid=pid, state=SAState.DEAD)
            self.forget_state(info)
            return [Out(msg, ALL)] if msg is not None else []
        if nl_type == S.EXPIRE:
            info, hard = S.unpack_user_expire(payload)
            attrs = parse_attrs(payload, 232)
            msg = self.state(info, attrs, MsgType.EXPIRE, seq=0, pid=0,
                             state=SAState.DEAD if hard else SAState.DYING, keys=False, hsc=2 if hard else 1)
            if hard:
                self.forget_state(info)
            return [Out(msg, REGISTERED)] if msg is not None else []
        if nl_type == S.FLUSHSA:
            proto = payload[0] if payload else 0
            self._algs.clear()
            return [Out(P.flush_message(MsgType.FLUSH, proto, seq, pid), ALL)]
        if nl_type in _SP_EVENTS:
            pinfo = S.UserPolicyInfo.unpack(payload)
            attrs = parse_attrs(payload, S.USERPOLICY_INFO_SIZE)
            msg = self.policy(pinfo, attrs, _SP_EVENTS[nl_type], seq=seq, pid=pid, refcnt=P.REFCNT_NOTIFY,
                              raw=(payload, S.USERPOLICY_INFO_SIZE))
            return [Out(msg, ALL)] if msg is not None else []
        if nl_type == S.DELPOLICY:
            pid_ = S.UserPolicyId.unpack(payload)
            attrs = parse_attrs(payload, S.USERPOLICY_ID_SIZE)
            raw = attrs.get(S.XFRMA_POLICY)
            if raw is None or len(raw) < S.USERPOLICY_INFO_SIZE:
                return []
            pinfo = S.UserPolicyInfo.unpack(raw)
            mtype = MsgType.X_SPDDELETE2 if pid_.idx else MsgType.X_SPDDELETE
            msg = self.policy(pinfo, attrs, mtype, seq=seq, pid=pid, refcnt=P.REFCNT_DELETED)
            self._notes.pop(("sp", pinfo.idx), None)
            return [Out(msg, ALL)] if msg is not None else []
        if nl_type == S.FLUSHPOLICY:
            attrs = parse_attrs(payload, 0)
            ptype = attrs.get(S.XFRMA_POLICY_TYPE)
            if ptype is not None and S.unpack_policy_type(ptype) != S.POLICY_TYPE_MAIN:
                return []
            return [Out(P.flush_message(MsgType.X_SPDFLUSH, 0, seq, pid), ALL)]
        if nl_type == S.ACQUIRE:
            ua = S.UserAcquire.unpack(payload)
            try:
                msg = P.acquire_message(ua, parse_attrs(payload, S.USER_ACQUIRE_SIZE))
            except P.Untranslatable:
                return []
            return [Out(msg, REGISTERED)]
        if nl_type == S.MAPPING and len(payload) >= S.USER_MAPPING_SIZE:
            try:
                return [Out(P.mapping_message(S.UserMapping.unpack(payload)), REGISTERED)]
            except P.Untranslatable:
                return []
        return []  # POLEXPIRE (af_key sends nothing), NEWAE, REPORT, MIGRATE
