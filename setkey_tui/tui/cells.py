"""Cell text of the SAD and SPD tables (pure functions of a row and the clock)."""

from __future__ import annotations

from setkey_tui.mirror import SARow, SPRow
from setkey_tui.pfkey.constants import PolicyType, SAState
from setkey_tui.render.policy import priority_text

WARN_SECONDS = 60  # an SA whose soft or hard expiry is this close is flagged

# When the terminal is narrow, columns give way in this order of importance (first = kept longest), after the
# columns of SHRINK_TO were narrowed to their minimum. A column not named here goes first.
COLUMN_PRIORITY = ("src", "dst", "spi", "proto", "dir", "action", "requests", "state", "hard", "soft", "upper",
                   "mode", "reqid", "bytes", "prio", "enc", "auth", "age", "spid")
SHRINK_TO = {"src": 15, "dst": 15, "requests": 24}


def fit_columns(names: list[str], widths: list[int], room: int) -> list[tuple[int, int]]:
    """``(column index, width)`` of the columns shown in ``room`` cells (one blank after each, two at the
    edges), in their order: all at full width when they fit; else the shrinkable ones narrowed, then the least
    important dropped, then the room left given back to the narrowed ones."""

    def need(cols: dict[int, int]) -> int:
        return sum(w + 1 for w in cols.values()) + 2

    cols = dict(enumerate(widths))
    if need(cols) <= room:
        return list(cols.items())
    for i, name in enumerate(names):
        if name in SHRINK_TO:
            cols[i] = min(cols[i], SHRINK_TO[name])
    rank = {name: n for n, name in enumerate(COLUMN_PRIORITY)}
    order = sorted(cols, key=lambda i: rank.get(names[i], len(rank)), reverse=True)
    while need(cols) > room and len(cols) > 1:
        del cols[order.pop(0)]
    spare = room - need(cols)
    for i in sorted(cols, key=lambda i: rank.get(names[i], len(rank))):
        if spare <= 0:
            break
        grow = min(spare, widths[i] - cols[i])
        cols[i] += grow
        spare -= grow
    return sorted(cols.items())


def duration(seconds: float) -> str:
    """Compact duration: ``42s``, ``5m07s``, ``3h04m``, ``2d03h``."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _left(deadline: int | None, now: float) -> str:
    if deadline is None:
        return "-"
    if deadline <= now:
        return "expired"
    return duration(deadline - now)


def human_bytes(n: int) -> str:
    """``512``, ``1.5K``, ``2.0M`` …"""
    if n < 1024:
        return str(n)
    value = float(n)
    for unit in "KMGTP":
        value /= 1024
        if value < 1024:
            return f"{value:.1f}{unit}"
    return f"{value:.1f}E"


def sa_cells(row: SARow, now: float) -> list[str]:
    """The SAD columns of ``row`` (same order as ``SA_COLUMNS``)."""
    age = duration(now - row.addtime) if row.addtime else "-"
    return [
        row.src,
        row.dst,
        row.proto,
        f"0x{row.spi:08x}",
        row.mode_name,
        str(row.reqid),
        row.enc_name or "-",
        row.auth_name or "-",
        row.state_name,
        age,
        _left(row.soft_deadline(), now),
        _left(row.hard_deadline(), now),
        human_bytes(row.bytes),
    ]


def sa_condition(row: SARow, now: float) -> str:
    """``dying``/``dead``, ``warn`` (an expiry within a minute), ``larval`` or ``""`` for a plain row."""
    if row.state >= SAState.DYING:  # dying or dead
        return "dying"
    if row.state == SAState.LARVAL:
        return "larval"
    for deadline in (row.soft_deadline(), row.hard_deadline()):
        if deadline is not None and deadline - now <= WARN_SECONDS:
            return "warn"
    if row.hard_bytes and row.bytes * 10 >= row.hard_bytes * 9:
        return "warn"
    return ""


def short_priority(priority: int) -> str:
    """setkey's priority words without blanks: ``def``, ``def+10``, ``high-5`` (``0`` for none)."""
    return priority_text(priority).removeprefix("prio ").replace(" ", "") or "0"


def sp_cells(row: SPRow, now: float) -> list[str]:
    """The SPD columns of ``row`` (same order as ``SP_COLUMNS``)."""
    return [
        row.src,
        row.dst,
        row.upper_name,
        row.dir_name,
        row.action_name,
        short_priority(row.priority),
        row.requests or "-",
        str(row.spid),
    ]


def sp_condition(row: SPRow, now: float) -> str:
    """``discard`` for a dropping policy, else ``""``."""
    return "discard" if row.action == PolicyType.DISCARD else ""
