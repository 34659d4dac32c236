"""The served simulated kernel's wire protocol on a Unix SOCK_SEQPACKET socket.

Each packet is one whole PF_KEY message, both ways. A packet whose first byte is ``CONTROL`` (never a
PF_KEY version) carries a JSON object instead: requests from a client (``{"op": "traffic", ...}``) and the
server's answers or notices (``{"lost": N}`` when messages for that client were dropped).
"""

from __future__ import annotations

import json
from typing import Any

CONTROL = 0xFF
MAX_PACKET = 0xFFFF * 8 + 16


def is_control(packet: bytes) -> bool:
    """Whether a packet is a control packet rather than a PF_KEY message."""
    return bool(packet) and packet[0] == CONTROL


def control(obj: dict[str, Any]) -> bytes:
    """Encode a control packet."""
    return bytes([CONTROL]) + json.dumps(obj, separators=(",", ":")).encode()


def parse_control(packet: bytes) -> dict[str, Any]:
    """Decode a control packet (ValueError when it is not one)."""
    if not is_control(packet):
        raise ValueError("not a control packet")
    obj = json.loads(packet[1:].decode())
    if not isinstance(obj, dict):
        raise ValueError("control packet is not a JSON object")
    return obj
