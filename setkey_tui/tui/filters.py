"""The `/` filter language of the SAD and SPD tables.

Words separated by blanks, all of which must match (AND). A word ``field:value`` tests one field; any
other word is free text, matched case-insensitively against the row's text. ``!`` before a word negates it.

SAD fields: ``src``, ``dst`` (address, or a network such as ``10.0.0.0/8`` the address lies in), ``spi``
(``0x1000`` or ``4096``), ``proto`` (esp, ah, ipcomp, tcp), ``mode``, ``reqid``, ``state`` (larval, mature,
dying, dead), ``enc``, ``auth``.
SPD fields: ``src``, ``dst`` (a network overlapping the policy's range), ``dir`` (in, out, fwd),
``action`` (ipsec, discard, none, …), ``upper`` (tcp, icmp6, 6, any …), ``spid``, ``reqid``, ``proto`` (a
request protocol), ``prio``.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from setkey_tui.mirror import SARow, SPRow
from setkey_tui.pfkey.constants import (
    DIRECTIONS,
    IPSEC_PROTOS,
    IPSEC_SA_TYPES,
    MODES,
    POLICY_TYPES,
    SA_STATES,
    SA_TYPES,
    Direction,
    IpsecProto,
    Mode,
    PolicyType,
    SAType,
)
from setkey_tui.tui.cells import short_priority

Predicate = Callable[[Any], bool]


class FilterError(ValueError):
    """The filter text is not understood; ``str()`` says which word and why, ``word`` is that word as typed
    ("" when the whole text is at fault)."""

    word: str = ""


def _int(value: str, field: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise FilterError(f"{field}:{value}: {field} wants a number such as 4096 or 0x1000") from None


def _network(value: str, field: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise FilterError(f"{field}:{value}: not an address or network (10.0.0.1, 10.0.0.0/8, fd00::/8)") from None


def _choice(value: str, field: str, names: tuple[str, ...]) -> str:
    v = value.lower()
    if v not in names:
        raise FilterError(f"{field}:{value}: {field} is one of {', '.join(names)}")
    return v


# The words a ``field:value`` term accepts, in the order the error lists them: the constants' names.
STATE_WORDS: tuple[str, ...] = tuple(SA_STATES.names())
SA_PROTO_WORDS: tuple[str, ...] = tuple(SA_TYPES.name(satype) for satype in (*IPSEC_SA_TYPES, SAType.TCPSIGNATURE))
MODE_WORDS: tuple[str, ...] = tuple(MODES.name(m) for m in (Mode.TRANSPORT, Mode.TUNNEL, Mode.ANY, Mode.BEET))
DIR_WORDS: tuple[str, ...] = tuple(
    DIRECTIONS.name(d) for d in (Direction.INBOUND, Direction.OUTBOUND, Direction.FWD, Direction.ANY)
)
ACTION_WORDS: tuple[str, ...] = tuple(
    POLICY_TYPES.name(p)
    for p in (PolicyType.IPSEC, PolicyType.DISCARD, PolicyType.NONE, PolicyType.ENTRUST, PolicyType.BYPASS)
)
REQUEST_PROTO_WORDS: tuple[str, ...] = tuple(IPSEC_PROTOS.name(p) for p in IpsecProto)

SA_FIELDS = ("src", "dst", "spi", "proto", "mode", "reqid", "state", "enc", "auth")
SP_FIELDS = ("src", "dst", "dir", "action", "upper", "spid", "reqid", "proto", "prio")
# Fields that take one of a few words: (the words, the row attribute that holds the row's word).
_SA_WORD_FIELDS = {"state": (STATE_WORDS, "state_name"), "proto": (SA_PROTO_WORDS, "proto"),
                   "mode": (MODE_WORDS, "mode_name")}
_SP_WORD_FIELDS = {"dir": (DIR_WORDS, "dir_name"), "action": (ACTION_WORDS, "action_name")}


def _equals(attr: str, wanted: object) -> Predicate:
    get = attrgetter(attr)
    return lambda r: get(r) == wanted


def _word_term(field: str, value: str, fields: dict[str, tuple[tuple[str, ...], str]]) -> Predicate:
    words, attr = fields[field]
    return _equals(attr, _choice(value, field, words))


def _sa_term(field: str, value: str) -> Predicate:
    if field in ("src", "dst"):
        net = _network(value, field)
        attr = field + "_ip"
        return lambda r: (ip := getattr(r, attr)) is not None and ip.version == net.version and ip in net
    if field in ("spi", "reqid"):
        return _equals(field, _int(value, field))
    if field in _SA_WORD_FIELDS:
        return _word_term(field, value, _SA_WORD_FIELDS)
    if field in ("enc", "auth"):  # any algorithm name
        return _equals(f"{field}_name", value.lower())
    raise FilterError(f"{field}:{value}: unknown SAD field; use one of {', '.join(SA_FIELDS)}")


def _sp_term(field: str, value: str) -> Predicate:
    if field in ("src", "dst"):
        net = _network(value, field)
        attr = field + "_net"
        return lambda r: (n := getattr(r, attr)).version == net.version and n.overlaps(net)
    if field in _SP_WORD_FIELDS:
        return _word_term(field, value, _SP_WORD_FIELDS)
    if field == "upper":
        v = value.lower()
        if v.isdigit():
            n = int(v)
            return lambda r: r.upper == n
        return lambda r: r.upper_name == v
    if field == "spid":
        return _equals(field, _int(value, field))
    if field == "reqid":
        n = _int(value, field)
        return lambda r: n in r.reqids
    if field == "proto":
        p = _choice(value, field, REQUEST_PROTO_WORDS)
        return lambda r: any(req.startswith(p + "/") for req in r.requests.split())
    if field == "prio":
        v = value.lower()
        return lambda r: str(r.priority) == v or short_priority(r.priority) == v
    raise FilterError(f"{field}:{value}: unknown SPD field; use one of {', '.join(SP_FIELDS)}")


def parse_filter(text: str, kind: str) -> Predicate | None:
    """Compile filter ``text`` for the ``sad`` or ``spd`` table; None for an empty filter.

    Raises :class:`FilterError` with the offending word.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FilterError(f"filter: {exc}") from None
    if not words:
        return None
    term = _sa_term if kind == "sad" else _sp_term
    preds: list[Predicate] = []
    for typed in words:
        try:
            preds.append(_word(typed, kind, term))
        except FilterError as exc:
            exc.word = typed
            raise

    if len(preds) == 1:
        return preds[0]
    return lambda r: all(p(r) for p in preds)


def _word(typed: str, kind: str, term: Callable[[str, str], Predicate]) -> Predicate:
    word = typed
    negate = word.startswith("!") and len(word) > 1
    if negate:
        word = word[1:]
    field, sep, value = word.partition(":")
    pred: Predicate
    if sep and field.isalpha() and field.lower() in (SA_FIELDS if kind == "sad" else SP_FIELDS):
        if not value:
            raise FilterError(f"{word}: give a value after the colon")
        pred = term(field.lower(), value)
    elif sep and field.isalpha() and value and not _looks_like_address(word):
        pred = term(field.lower(), value)  # raises: unknown field
    else:
        pred = _text(word.lower())
    return _negate(pred) if negate else pred


def _text(needle: str) -> Predicate:
    return lambda r: needle in r.search_text()


def _negate(p: Predicate) -> Predicate:
    return lambda r: not p(r)


def _looks_like_address(word: str) -> bool:
    try:
        ipaddress.ip_network(word, strict=False)
        return True
    except ValueError:
        return False


__all__ = ["FilterError", "SARow", "SPRow", "parse_filter"]
