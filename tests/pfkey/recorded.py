"""Shared loaders of the recorded conformance data (tests/data/*.jsonl)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def _cases(name: str) -> Iterator[dict]:
    with (DATA / name).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def recorded_messages() -> list[tuple[str, bytes]]:
    """Every recorded PF_KEY message in tests/data, as (label, bytes)."""
    out: list[tuple[str, bytes]] = []
    for case in _cases("inputs.jsonl"):
        for i, h in enumerate(case.get("messages") or []):
            out.append((f"inputs:{case['id']}:{i}", bytes.fromhex(h)))
        if case.get("register"):
            out.append((f"inputs:{case['id']}:register", bytes.fromhex(case["register"])))
    for case in _cases("dump.jsonl"):
        for i, h in enumerate(case.get("replies") or []):
            out.append((f"dump:{case['id']}:{i}", bytes.fromhex(h)))
    for case in _cases("realkernel.jsonl"):
        for key in ("dump_hex", "spddump_hex"):
            for i, h in enumerate(case.get(key) or []):
                out.append((f"realkernel:{case['id']}:{key}:{i}", bytes.fromhex(h)))
    for case in _cases("monitor.jsonl"):
        for i, h in enumerate(case.get("messages") or []):
            out.append((f"monitor:{case['id']}:{i}", bytes.fromhex(h)))
    return out


def realkernel_replies(key: str) -> list[tuple[str, bytes]]:
    """The replies a real Linux kernel gave to DUMP (``dump_hex``) or X_SPDDUMP (``spddump_hex``)."""
    return [
        (f"{case['id']}:{i}", bytes.fromhex(h))
        for case in _cases("realkernel.jsonl")
        for i, h in enumerate(case.get(key) or [])
    ]


def dump_replies() -> list[tuple[str, bytes]]:
    """The replies of tests/data/dump.jsonl (setkey's own messages turned into kernel answers)."""
    return [
        (f"{case['id']}:{i}", bytes.fromhex(h))
        for case in _cases("dump.jsonl")
        for i, h in enumerate(case.get("replies") or [])
    ]


def setkey_requests() -> list[tuple[str, bytes]]:
    """The messages the real setkey sent (tests/data/inputs.jsonl ``messages``)."""
    return [
        (f"{case['id']}:{i}", bytes.fromhex(h))
        for case in _cases("inputs.jsonl")
        for i, h in enumerate(case.get("messages") or [])
    ]
