"""A run of simulated packets from the TUI's traffic dialog: the form read into a packet and a count, and what
the run did, in words.

The packets go through :meth:`KeyService.trace` (see :meth:`KernelLink.send_traffic`); what they cause
(ACQUIRE, EXPIRE) reaches the tables and the monitor through the listener like any kernel message.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from setkey_tui.packet import Packet, TraceResult, Verdict, parse_count
from setkey_tui.pfkey.message import Message
from setkey_tui.render.traffic import describe_traffic

SHOWN_LINES = 4  # per-packet lines shown after a run of several packets
# The dialog's run holds the kernel link (the tables wait for it): about 1 s at the ~10k packets/s traced here.
MAX_DIALOG_COUNT = 10_000


def packet_from_form(values: dict[str, str]) -> tuple[Packet, int]:
    """The packet and the count the form describes (empty fields take their defaults);
    :class:`~setkey_tui.packet.PacketError` names the field at fault."""
    packet = Packet.parse(values.get("src", ""), values.get("dst", ""), proto=values.get("proto", ""),
                          sport=values.get("sport", ""), dport=values.get("dport", ""), size=values.get("size", ""))
    return packet, parse_count(values.get("count", ""), MAX_DIALOG_COUNT)


@dataclass
class TrafficRun:
    """What a run of packets did: the verdicts counted, the last lines (one per packet), the SAs' latest
    state (by SA key), and the error that ended it early, if any."""

    verdicts: Counter[Verdict] = field(default_factory=Counter)
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=SHOWN_LINES))
    sa_states: dict[tuple[int, ...], Message] = field(default_factory=dict)
    error: str = ""

    def add(self, result: TraceResult) -> None:
        """One more packet's result."""
        self.verdicts[result.verdict.verdict] += 1
        self.lines.append(describe_traffic(result))

    def summary(self) -> str:
        """The run in plain words: the single packet's verdict, or counts and the last lines."""
        parts: list[str] = []
        total = sum(self.verdicts.values())
        if total == 1:
            parts.append(self.lines[0])
        elif total:
            counted = ", ".join(f"{n} {v}" for v, n in self.verdicts.most_common())
            parts.append(f"{total} packets: {counted}")
            first = total - len(self.lines)
            if first > 0:
                parts.append(f"… {first} earlier packets not shown")
            parts += [f"#{first + i + 1}: {line}" for i, line in enumerate(self.lines)]
        if self.error:
            parts.append(self.error)
        return "\n".join(parts) or "no packet was sent"
