"""The policy language after ``-P`` (libipsec's ``ipsec_set_policy``): its own scanner and pyparsing grammar.

``parse_policy(text)`` returns a :class:`Policy`; ``compile_policy`` turns it into the ``sadb_x_policy``
extension. Errors raise :class:`PolicyError` with libipsec's ``ipsec_strerror`` wording and, when libipsec
writes one, its stderr line (``libipsec: syntax error while parsing "gre"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from setkey_tui.lang.addresses import ResolveError, resolve, to_sockaddr
from setkey_tui.lang.errors import clip
from setkey_tui.pfkey import constants as tables
from setkey_tui.pfkey.constants import (
    PRIORITY_DEFAULT,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    Direction,
    IpsecProto,
    Level,
    Mode,
    PolicyType,
)
from setkey_tui.pfkey.extensions import IpsecRequest, PolicyExt, Sockaddr
from setkey_tui.pfkey.platform import LINUX, Platform

if TYPE_CHECKING:
    import pyparsing as pp

# pyparsing's result of a token-kind string as dicts: result name → token index (nested groups are dicts,
# repetitions lists).
ParseTree = dict[str, Any]

PRIORITY_BASES = {"low": PRIORITY_LOW, "def": PRIORITY_DEFAULT, "high": PRIORITY_HIGH}
_OFFSET_NEGATIVE_MAX = 0x40000000  # "base + N"
_OFFSET_POSITIVE_MAX = 0x3FFFFFFF  # "base - N"
_LONG_MAX = 2**63 - 1

# The words of libipsec's policy language, named by pfkey/constants.py's tables.
DIRECTIONS = {tables.DIRECTIONS.name(d): d for d in (Direction.INBOUND, Direction.OUTBOUND, Direction.FWD)}
ACTIONS = {tables.POLICY_TYPES.name(p): p for p in PolicyType}
PROTOCOLS = {tables.IPSEC_PROTOS.name(p): int(p) for p in IpsecProto}
MODES = {tables.MODES.name(m): m for m in (Mode.TRANSPORT, Mode.TUNNEL)}
LEVELS = {tables.LEVELS.name(lv): lv for lv in Level}

E_INVAL = "Invalid argument"
E_FEW = "Too few arguments"
E_ADDRESS = "Invalid address specification"
E_FAMILY = "Family mismatch"
E_DIR = "Invalid direction"
E_MODE = "Invalid ipsec mode"
# Numbers libipsec stores with C's silent truncation; setkey-tui refuses them (docs/compatibility.md).
E_PORT_TOO_BIG = "port too big."
E_REQID_TOO_BIG = "reqid too big."
E_PRIO = "Priority offset not in valid range [-2147483647, 2147483648]"
E_PRIO_BASE = ("Priority offset from base not in valid range [0, 1073741823] for negative offsets "
               "and [0, 1073741824] for positive offsets")


class PolicyError(Exception):
    """libipsec refused the policy text: ``str()`` is its ``ipsec_strerror`` text."""

    def __init__(self, message: str, stderr_lines: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.stderr_lines = stderr_lines


@dataclass(frozen=True)
class PolicyPriority:
    """``prio N`` (base None, op ""), ``prio - N`` (op "-"), ``prio low|def|high [+|- N]``."""

    base: str | None = None
    op: str = ""
    offset: int | None = None

    def value(self) -> int:
        """The sadb_x_policy_priority this spelling gives (libipsec's arithmetic, modulo 2^32)."""
        if self.base is None:
            off = self.offset or 0
            if self.op == "-":
                if min(off, _LONG_MAX) > 0x7FFFFFFF:
                    raise PolicyError(E_PRIO)
                return (PRIORITY_DEFAULT + off) & 0xFFFFFFFF
            if -min(off, _LONG_MAX) < -0x80000000:
                raise PolicyError(E_PRIO)
            return (PRIORITY_DEFAULT - off) & 0xFFFFFFFF
        base = PRIORITY_BASES[self.base]
        if self.op == "":
            return base
        off = min(self.offset or 0, _LONG_MAX)
        if self.op == "+":
            if off > _OFFSET_NEGATIVE_MAX:
                raise PolicyError(E_PRIO_BASE)
            return (base - off) & 0xFFFFFFFF
        if off > _OFFSET_POSITIVE_MAX:
            raise PolicyError(E_PRIO_BASE)
        return (base + off) & 0xFFFFFFFF

    def to_text(self) -> str:
        """``prio ...`` as written."""
        if self.base is None:
            return f"prio - {self.offset}" if self.op == "-" else f"prio {self.offset}"
        if self.op:
            return f"prio {self.base} {self.op} {self.offset}"
        return f"prio {self.base}"


@dataclass(frozen=True)
class PolicyRequest:
    """One ``protocol/mode/src-dst/level`` rule.

    ``endpoints``: ``None`` (nothing between the slashes), ``"me-any"``/``"any-me"``, or ``"addr"`` (then
    ``src``/``dst`` and optional ``[port]``\\ s). ``slashes``: how many of the optional slashes were written
    (the spellings ``esp/transport``, ``esp/transport/``, ``esp/transport//require`` ...).
    """

    protocol: str
    mode: str
    endpoints: str | None = None
    src: str | None = None
    dst: str | None = None
    src_port: int | None = None
    dst_port: int | None = None
    level: str | None = None
    reqid: int | None = None
    slashes: int = 2

    def to_text(self) -> str:
        """The rule as policy text."""
        text = f"{self.protocol}/{self.mode}"
        if self.slashes == 0:
            return text
        text += "/"
        if self.endpoints == "addr":
            sp = f"[{self.src_port}]" if self.src_port is not None else ""
            dp = f"[{self.dst_port}]" if self.dst_port is not None else ""
            text += f"{self.src}{sp}-{self.dst}{dp}"
        elif self.endpoints:
            text += self.endpoints
        if self.slashes == 1:
            return text
        text += "/"
        if self.level == "unique" and self.reqid is not None:
            text += f"unique:{self.reqid}"
        elif self.level:
            text += self.level
        return text


@dataclass(frozen=True)
class Policy:
    """A parsed ``-P`` policy: direction, optional priority, action (None: direction only) and rules."""

    direction: str
    action: str | None = None
    priority: PolicyPriority | None = None
    requests: tuple[PolicyRequest, ...] = ()

    def to_text(self) -> str:
        """The policy text (without ``-P``)."""
        parts = [self.direction]
        if self.priority is not None:
            parts.append(self.priority.to_text())
        if self.action is not None:
            parts.append(self.action)
        parts.extend(r.to_text() for r in self.requests)
        return " ".join(parts)

    def priority_value(self) -> int:
        """sadb_x_policy_priority: 0 for a bare direction, PRIORITY_DEFAULT when none is written."""
        if self.action is None:
            return 0
        if self.priority is None:
            return PRIORITY_DEFAULT
        return self.priority.value()


# ---------------------------------------------------------------- scanner (policy_token.l)

class _P:
    DIR = "d"
    PRIORITY = "p"
    PRIO_BASE = "b"
    PLUS = "+"
    PRIO_OFFSET = "0"
    ACTION = "a"
    PROTOCOL = "P"
    MODE = "m"
    ME = "M"
    ANY = "n"
    LEVEL = "l"
    LEVEL_SPECIFY = "L"
    SLASH = "/"
    IPADDRESS = "i"
    HYPHEN = "-"
    PORT = "["
    ERROR = "!"


_PKEYWORDS = {
    **{k: _P.DIR for k in DIRECTIONS}, "priority": _P.PRIORITY, "prio": _P.PRIORITY,
    **{k: _P.PRIO_BASE for k in PRIORITY_BASES}, **{k: _P.ACTION for k in ACTIONS},
    **{k: _P.PROTOCOL for k in PROTOCOLS}, **{k: _P.MODE for k in MODES}, "me": _P.ME, "any": _P.ANY,
    **{k: _P.LEVEL for k in LEVELS},
}
_PTOKEN = re.compile(r"[a-zA-Z0-9:._][a-zA-Z0-9:._]*(?:%[a-zA-Z0-9]+)?|\[[0-9]+\]|[^ \t\n]")
_UNIQUE_N = re.compile(r"unique:[0-9]+")
_PUNCT = {"+": _P.PLUS, "-": _P.HYPHEN, "/": _P.SLASH}


class _PTok(NamedTuple):
    kind: str
    text: str


def _scan(text: str) -> list[_PTok]:
    out: list[_PTok] = []
    append = out.append
    for word in _PTOKEN.findall(text):
        c = word[0]
        if c.isalnum() or c in ":._":
            if not word.isascii():
                append(_PTok(_P.ERROR, word))
            elif word.isdigit():
                append(_PTok(_P.PRIO_OFFSET, word))
            elif c == "u" and _UNIQUE_N.fullmatch(word):
                append(_PTok(_P.LEVEL_SPECIFY, word))
            else:
                append(_PTok(_PKEYWORDS.get(word, _P.IPADDRESS), word))
        elif c == "[" and len(word) > 1:
            append(_PTok(_P.PORT, word))
        else:
            append(_PTok(_PUNCT.get(word, _P.ERROR), word))
    return out


# ---------------------------------------------------------------- grammar (policy_parse.y)

def _t(kind: str, name: str | None = None) -> pp.ParserElement:
    import pyparsing as pp

    el = pp.Literal(kind).leave_whitespace().set_name(name or kind)
    el.set_parse_action(lambda _s, loc, _t: loc)
    return el


@cache
def _build_grammar() -> pp.ParserElement:
    """The policy grammar (built at its first use: pyparsing is imported only for a shape not shipped)."""
    import pyparsing as pp

    P = _P
    ip, port, hy = _t(P.IPADDRESS, "address"), _t(P.PORT, "port"), _t(P.HYPHEN, "-")
    addresses = pp.Group(
        (ip("src") + (port("sport") - hy - ip("dst") - port("dport") | hy - ip("dst")))("addr")
        | (_t(P.ME)("me") - hy - _t(P.ANY))
        | (_t(P.ANY)("anyme") - hy - _t(P.ME))
    )("ends")
    level = _t(P.LEVEL)("level") | _t(P.LEVEL_SPECIFY)("unique")
    slash = _t(P.SLASH, "/")
    after_mode = pp.Optional(
        slash("s1")
        + pp.Optional(addresses + pp.Optional(slash("s2") + pp.Optional(level)) | slash("s2") - level)
    )
    rule = pp.Group(_t(P.PROTOCOL, "protocol")("proto") - slash - _t(P.MODE, "mode")("mode") + after_mode)
    offset = _t(P.PRIO_OFFSET, "number")
    prio = _t(P.PRIORITY) - (
        offset("off")
        | hy("neg") - offset("off")
        | _t(P.PRIO_BASE)("base") + pp.Optional((_t(P.PLUS)("plus") | hy("minus")) - offset("off"))
    )
    action = pp.Optional(prio) + _t(P.ACTION, "action")("action")
    policy = _t(P.DIR, "direction")("dir") + pp.Optional(action + pp.Group(pp.ZeroOrMore(rule))("rules")) + pp.StringEnd()
    return policy.leave_whitespace()


def parse_policy_shape(shape: str) -> ParseTree | int:
    """The pyparsing grammar's parse of a token-kind string (nested dicts of token indices), or the index
    where it fails."""
    import pyparsing as pp

    try:
        tree: ParseTree = _build_grammar().parse_string(shape, parse_all=True).as_dict()
    except pp.ParseBaseException as exc:
        return exc.loc
    return tree


@lru_cache(maxsize=1024)
def _parse_shape(shape: str) -> ParseTree | int:
    """:func:`parse_policy_shape`, taken from the shipped table of common shapes when it is there."""
    from setkey_tui.lang import shape_cache

    shipped = shape_cache.policy(shape)
    return shipped if shipped is not None else parse_policy_shape(shape)


def _syntax_error(toks: list[_PTok], k: int) -> PolicyError:
    kinds = [tok.kind for tok in toks]
    if k >= 1 and kinds[k - 1] == _P.PROTOCOL:
        return PolicyError(E_FEW)
    if k >= 2 and kinds[k - 2] == _P.PROTOCOL and kinds[k - 1] == _P.SLASH:
        return PolicyError(E_FEW)
    text = toks[k].text if k < len(toks) else ""
    return PolicyError(E_INVAL, (f'libipsec: syntax error while parsing "{clip(text)}"',))


def _int(text: str) -> int:
    """C's atol on a token of digits (saturating at LONG_MAX, however long the token)."""
    digits = text.lstrip("0") or "0"
    return _LONG_MAX if len(digits) > 19 else min(int(digits), _LONG_MAX)


def parse_policy(text: str) -> Policy:
    """Parse the text after ``-P`` (raises :class:`PolicyError`)."""
    toks = _scan(text)
    shape = "".join(tok.kind for tok in toks)
    r = _parse_shape(shape)
    if isinstance(r, int):
        # libipsec checks the priority as soon as the action is read, before any later syntax error.
        action_at = shape.find(_P.ACTION)
        if 0 <= action_at < r:
            head = _parse_shape(shape[: action_at + 1])
            if isinstance(head, dict):
                _priority(toks, head)
        raise _syntax_error(toks, r)
    direction = toks[r["dir"]].text
    if "action" not in r:
        return Policy(direction)
    priority = _priority(toks, r)
    action = toks[r["action"]].text
    requests = []
    for g in r.get("rules", []):
        requests.append(_request(toks, g, direction, action))
    return Policy(direction, action, priority, tuple(requests))


def _priority(toks: list[_PTok], r: ParseTree) -> PolicyPriority | None:
    """The priority of a parsed policy, range-checked (raises :class:`PolicyError`)."""
    if "off" not in r and "base" not in r:
        return None
    base = toks[r["base"]].text if "base" in r else None
    op = "-" if ("neg" in r or "minus" in r) else "+" if "plus" in r else ""
    off = _int(toks[r["off"]].text) if "off" in r else None
    priority = PolicyPriority(base, op, off)
    priority.value()
    return priority


def _request(toks: list[_PTok], g: ParseTree, direction: str, action: str) -> PolicyRequest:
    proto = toks[g["proto"]].text
    mode = toks[g["mode"]].text
    slashes = 2 if "s2" in g else 1 if "s1" in g else 0
    endpoints = src = dst = None
    sport = dport = None
    ends = g.get("ends")
    if ends is not None:
        if "addr" in ends:
            endpoints = "addr"
            src = toks[ends["src"]].text
            dst = toks[ends["dst"]].text
            if "sport" in ends:
                sport = _int(toks[ends["sport"]].text[1:-1])
                dport = _int(toks[ends["dport"]].text[1:-1])
                if max(sport, dport) > 0xFFFF:
                    raise PolicyError(E_PORT_TOO_BIG)
        elif "me" in ends:
            if direction != "out":
                raise PolicyError(E_DIR)
            endpoints = "me-any"
        else:
            if direction != "in":
                raise PolicyError(E_DIR)
            endpoints = "any-me"
    level = reqid = None
    if "level" in g:
        level = toks[g["level"]].text
    elif "unique" in g:
        level = "unique"
        reqid = _int(toks[g["unique"]].text[7:])
        if reqid > 0xFFFFFFFF:
            raise PolicyError(E_REQID_TOO_BIG)
    req = PolicyRequest(proto, mode, endpoints, src, dst, sport, dport, level, reqid, slashes)
    if endpoints == "addr":
        s = _policy_sockaddr(req.src or "", req.src_port)
        d = _policy_sockaddr(req.dst or "", req.dst_port)
        if action == "ipsec" and s[0] != d[0]:
            raise PolicyError(E_FAMILY)
    elif action == "ipsec" and mode != "transport":
        raise PolicyError(E_ADDRESS)
    return req


@lru_cache(maxsize=4096)
def _policy_sockaddr(host: str, port: int | None) -> tuple[int, bytes, int, int, int]:
    try:
        return resolve(host, None if port is None else str(port), numeric=True)[0]
    except ResolveError as exc:
        raise PolicyError(str(exc), (f'libipsec: invalid IP address while parsing "{clip(host)}"',)) from None


def compile_policy(policy: Policy, platform: Platform = LINUX) -> PolicyExt:
    """The ``sadb_x_policy`` extension libipsec builds for ``policy`` (id 0)."""
    dir_num = DIRECTIONS[policy.direction]
    if policy.action is None:
        return PolicyExt(0, dir_num, 0, 0)
    reqs: list[IpsecRequest] = []
    for r in policy.requests:
        src: Sockaddr | None = None
        dst: Sockaddr | None = None
        if r.endpoints == "addr":
            src = to_sockaddr(_policy_sockaddr(r.src or "", r.src_port), platform)
            dst = to_sockaddr(_policy_sockaddr(r.dst or "", r.dst_port), platform)
        level = LEVELS[r.level] if r.level else Level.DEFAULT
        reqid = (r.reqid or 0) & 0xFFFFFFFF if r.level == "unique" else 0
        reqs.append(IpsecRequest(PROTOCOLS[r.protocol], MODES[r.mode], level, reqid, src, dst))
    prio = policy.priority_value() if platform.policy_priority else 0
    return PolicyExt(ACTIONS[policy.action], dir_num, 0, prio, tuple(reqs))
