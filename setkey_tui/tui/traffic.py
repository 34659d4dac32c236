"""Simulated traffic from the TUI: the packet form's values checked, and a run of packets told in words.

The packets go through :meth:`KeyService.simulate_traffic` (see :meth:`KernelLink.send_traffic`); what they
cause (ACQUIRE, EXPIRE) reaches the tables and the monitor through the listener like any kernel message.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from setkey_tui.pfkey.message import Message
from setkey_tui.service import (
    DEFAULT_PACKET_SIZE,
    UPPER_PROTOCOLS,
    TrafficInputError,
    check_packet,
)

MAX_COUNT = 10_000
SHOWN_LINES = 4  # per-packet lines shown after a run of several packets


@dataclass(frozen=True)
class Packet:
    """One simulated outbound packet."""

    src: str
    dst: str
    proto: int = UPPER_PROTOCOLS["any"]
    sport: int = 0
    dport: int = 0
    size: int = DEFAULT_PACKET_SIZE


def _number(field_id: str, text: str, default: int, what: str, low: int, high: int) -> int:
    text = text.strip().lower()
    if not text or (text == "any" and field_id in ("sport", "dport")):
        return default
    try:
        value = int(text, 0)
    except ValueError:
        raise TrafficInputError(field_id, f"{what} must be a number, not {text!r}") from None
    if not low <= value <= high:
        raise TrafficInputError(field_id, f"{what} must be between {low} and {high}")
    return value


def packet_from_form(values: dict[str, str]) -> tuple[Packet, int]:
    """The packet and the count the form describes; :class:`TrafficInputError` names the field at fault."""
    proto_name = values.get("proto", "any") or "any"
    if proto_name not in UPPER_PROTOCOLS:
        raise TrafficInputError("proto", f"unknown protocol {proto_name!r}")
    packet = Packet(
        src=values.get("src", "").strip(),
        dst=values.get("dst", "").strip(),
        proto=UPPER_PROTOCOLS[proto_name],
        sport=_number("sport", values.get("sport", ""), 0, "the source port", 0, 65535),
        dport=_number("dport", values.get("dport", ""), 0, "the destination port", 0, 65535),
        size=_number("size", values.get("size", ""), DEFAULT_PACKET_SIZE, "the packet size", 1, 65535),
    )
    count = _number("count", values.get("count", ""), 1, "the count", 1, MAX_COUNT)
    check_packet(packet.src, packet.dst, packet.proto, packet.sport, packet.dport, packet.size)
    return packet, count


@dataclass
class TrafficRun:
    """What a run of packets did: one line per packet, the verdicts counted, the SAs' latest state."""

    lines: list[str] = field(default_factory=list)
    verdicts: Counter[str] = field(default_factory=Counter)
    sa_states: dict[tuple[int, ...], Message] = field(default_factory=dict)
    error: str = ""

    def summary(self) -> str:
        """The run in plain words: the single packet's verdict, or counts and the last lines."""
        parts: list[str] = []
        total = sum(self.verdicts.values())
        if total == 1 and self.lines:
            parts.append(self.lines[0])
        elif total:
            counted = ", ".join(f"{n} {v}" for v, n in self.verdicts.most_common())
            parts.append(f"{total} packets: {counted}")
            first = len(self.lines) - SHOWN_LINES
            if first > 0:
                parts.append(f"… {first} earlier packets not shown")
            parts += [f"#{i + 1}: {line}" for i, line in enumerate(self.lines) if i >= first]
        if self.error:
            parts.append(self.error)
        return "\n".join(parts) or "no packet was sent"
