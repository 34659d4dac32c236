"""Helpers to replay tests/data/realkernel.jsonl against the simulated kernel (times and pids masked)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from setkey_tui.pfkey.constants import ExtType
from setkey_tui.pfkey.extensions import IpsecRequest, LifetimeExt, PolicyExt
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX

DATA = Path(__file__).resolve().parents[1] / "data"
_HEX_LINE = re.compile(r"^[0-9a-f]{8}: ((?:[0-9a-f]{2} )+)")
_STAMP = re.compile(r"^\d+\.\d+ $")


def scenarios() -> dict[str, dict]:
    """realkernel.jsonl by scenario id."""
    rows = [json.loads(line) for line in (DATA / "realkernel.jsonl").read_text().splitlines() if line.strip()]
    return {r["id"]: r for r in rows}


def monitor_messages(text: str) -> list[bytes]:
    """The messages a `setkey -xx -H` monitor printed (its hex dumps), in order."""
    out: list[list[str]] = []
    for line in text.split("\n"):
        m = _HEX_LINE.match(line)
        if m and out:
            out[-1].append(m.group(1).replace(" ", ""))
        elif _STAMP.match(line):
            out.append([])
    return [bytes.fromhex("".join(chunks)) for chunks in out]


def _mask_request(r: IpsecRequest) -> IpsecRequest:
    return r._replace(reqid=-1 if r.reqid > 0x3FFF else r.reqid)


def masked(data: bytes) -> Message:
    """A message with what differs between runs masked: pid, creation/use times, policy id (keeps id%8),
    auto-generated reqids."""
    msg = decode(data, LINUX)
    exts = []
    for e in msg.extensions:
        if isinstance(e, LifetimeExt) and e.ext_type == ExtType.LIFETIME_CURRENT:
            e = e._replace(addtime=bool(e.addtime), usetime=bool(e.usetime))
        elif isinstance(e, PolicyExt):
            e = e._replace(id=e.id & 7 if e.id else -1, requests=tuple(_mask_request(r) for r in e.requests))
        exts.append(e)
    return msg._replace(pid=0, extensions=tuple(exts))
