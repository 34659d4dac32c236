"""A simulated outbound packet and what the kernel did with it: the one place their values are checked.

:meth:`Packet.parse` reads a packet from text (the command line, the TUI's form) or from numbers (a served
kernel's JSON request) with one set of limits; :class:`PacketError` names the field at fault in one line.
:class:`PacketVerdict` is the kernel's answer, typed, and its JSON form for the served and remote kernels;
:class:`TraceResult` adds what :meth:`KeyService.trace` asked the kernel about it (its policy and SAs).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from setkey_tui.pfkey.message import Message

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPPROTO_ANY = 255  # "any" upper-layer protocol (IPSEC_ULPROTO_ANY)
# Upper-layer protocols a simulated packet can carry, by the names setkey uses.
UPPER_PROTOCOLS: dict[str, int] = {"any": IPPROTO_ANY, "tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58, "gre": 47,
                                   "sctp": 132}
DEFAULT_PACKET_SIZE = 64
MAX_PACKET_SIZE = 65535
MAX_COUNT = 1_000_000  # packets in one run (command line and TUI alike)

# Each numeric field: its words in an error, its lowest and highest value.
LIMITS: dict[str, tuple[str, int, int]] = {
    "proto": ("protocol", 0, 255),
    "sport": ("source port", 0, 65535),
    "dport": ("destination port", 0, 65535),
    "size": ("packet size", 1, MAX_PACKET_SIZE),
    "count": ("count", 1, MAX_COUNT),
}
FIELD_WORDS: dict[str, str] = {"src": "source", "dst": "destination"} | {k: v[0] for k, v in LIMITS.items()}


class PacketError(ValueError):
    """A simulated packet's field is wrong. ``field`` is its id (``src``, ``dst``, ``proto``, ``sport``,
    ``dport``, ``size``, ``count``), ``reason`` what is wrong with it; ``str()`` is one line naming both."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{FIELD_WORDS.get(field, field)}: {reason}")
        self.field = field
        self.reason = reason


def _number(field: str, value: str | int, default: int, most: int | None = None) -> int:
    """``value`` as a number within ``field``'s limits (or up to ``most``); text may be decimal or 0x-hex,
    empty is ``default``."""
    _, low, high = LIMITS[field]
    high = high if most is None else min(high, most)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text or (text == "any" and field in ("sport", "dport")):
            return default
        try:
            number = int(text, 0)
        except ValueError:
            raise PacketError(field, f"{text!r} is not a number") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:  # a served kernel's JSON request may carry anything
        raise PacketError(field, f"{value!r} is not a number")
    if not low <= number <= high:
        raise PacketError(field, f"{number} is out of range ({low}-{high})")
    return number


def _protocol(value: str | int) -> int:
    if isinstance(value, str):
        name = value.strip().lower() or "any"
        if name in UPPER_PROTOCOLS:
            return UPPER_PROTOCOLS[name]
        if not name.isdigit():
            raise PacketError("proto", f"unknown protocol {name!r} ({', '.join(UPPER_PROTOCOLS)} or 0-255)")
    return _number("proto", value, IPPROTO_ANY)


def _address(field: str, value: object) -> IPAddress:
    text = value.strip() if isinstance(value, str) else repr(value)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise PacketError(field, f"{text or '(empty)'} is not an IP address") from None


def parse_count(value: str | int, most: int = MAX_COUNT) -> int:
    """How many packets to send (1 when empty; at most ``most``, never more than :data:`MAX_COUNT`);
    :class:`PacketError` (field ``count``) otherwise."""
    return _number("count", value, 1, most)


@dataclass(frozen=True, slots=True)
class Packet:
    """One simulated outbound packet: its addresses, upper-layer protocol (255 = any), ports and size."""

    src: IPAddress
    dst: IPAddress
    proto: int = IPPROTO_ANY
    sport: int = 0
    dport: int = 0
    size: int = DEFAULT_PACKET_SIZE

    @classmethod
    def parse(cls, src: object, dst: object, proto: str | int = "any", sport: str | int = 0,
              dport: str | int = 0, size: str | int = DEFAULT_PACKET_SIZE) -> Packet:
        """The packet these values describe, checked field by field (source first); numbers may be given as
        text (decimal or 0x-hex; empty is the default, ports also take ``any``, the protocol a name).
        :class:`PacketError` names the first field at fault."""
        s_ip, d_ip = _address("src", src), _address("dst", dst)
        if s_ip.version != d_ip.version:
            raise PacketError("dst", f"{d_ip} is IPv{d_ip.version} but the source {s_ip} is IPv{s_ip.version}: "
                                     "both must be of one version")
        return cls(s_ip, d_ip, _protocol(proto), _number("sport", sport, 0), _number("dport", dport, 0),
                   _number("size", size, DEFAULT_PACKET_SIZE))

    def to_json(self) -> dict[str, object]:
        """The packet as a served kernel's request carries it (:meth:`parse` reads it back)."""
        return {"src": str(self.src), "dst": str(self.dst), "proto": self.proto, "sport": self.sport,
                "dport": self.dport, "size": self.size}

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> Packet:
        """A packet from a request's JSON object; :class:`PacketError` for a missing or bad field."""
        fields = {}
        for name in ("proto", "sport", "dport", "size"):
            if name in obj:
                value = obj[name]
                if not isinstance(value, str | int):
                    raise PacketError(name, f"{value!r} is not a number")
                fields[name] = value
        return cls.parse(obj.get("src", ""), obj.get("dst", ""), **fields)


class Verdict(StrEnum):
    """What the kernel did with a simulated packet."""

    NO_POLICY = "no-policy"  # no policy matched: sent in the clear
    BYPASS = "bypass"  # a policy let it pass without IPsec
    DISCARD = "discard"  # a policy discarded it
    PROTECTED = "protected"  # the SAs of its policy carried it
    ACQUIRE = "acquire"  # an SA was missing: ACQUIRE raised (or pending), dropped
    EXPIRED = "expired"  # an SA reached a hard lifetime with it: expired, dropped


@dataclass(frozen=True, slots=True)
class PacketVerdict:
    """The kernel's answer for one packet: the verdict, the policy that matched, the SPIs of the SAs that
    carried it, how many ACQUIREs it raised."""

    verdict: Verdict
    policy_id: int | None = None
    sa_spis: tuple[int, ...] = ()
    acquires: int = 0

    def to_json(self) -> dict[str, object]:
        """The verdict as a served or remote kernel answers it."""
        return {"verdict": str(self.verdict), "policy_id": self.policy_id, "sa_spis": list(self.sa_spis),
                "acquires": self.acquires}

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> PacketVerdict:
        """The verdict from a served or remote kernel's answer; ValueError when it is not one."""
        try:
            verdict = Verdict(str(obj["verdict"]))
        except (KeyError, ValueError):
            raise ValueError(f"not a traffic verdict: {dict(obj)!r}") from None
        policy_id, spis, acquires = obj.get("policy_id"), obj.get("sa_spis", []), obj.get("acquires", 0)
        if (policy_id is not None and not isinstance(policy_id, int)) or not isinstance(acquires, int) \
                or not isinstance(spis, list) or not all(isinstance(s, int) for s in spis):
            raise ValueError(f"not a traffic verdict: {dict(obj)!r}")
        return cls(verdict, policy_id, tuple(spis), acquires)

    @classmethod
    def from_reply(cls, reply: object) -> PacketVerdict:
        """A served or remote kernel's reply to a traffic request: the verdict; :class:`PacketError` (the
        field it names) or ValueError when the kernel refused the request."""
        if not isinstance(reply, dict):
            raise ValueError(f"not a traffic verdict: {reply!r}")
        if "error" in reply:
            if isinstance(reply.get("field"), str):
                raise PacketError(reply["field"], str(reply["error"]))
            raise ValueError(str(reply["error"]))
        return cls.from_json(reply)


@dataclass(frozen=True, slots=True)
class TraceResult:
    """One traced packet: the kernel's verdict, the policy that matched (SADB_X_SPDGET's answer; None when
    none matched or it is gone) and the SAs that carried it, in their state just after it (SADB_GET)."""

    verdict: PacketVerdict
    policy: Message | None = None
    carriers: tuple[Message, ...] = ()
