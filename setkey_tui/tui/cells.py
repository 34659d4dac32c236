"""Cell text of the SAD and SPD tables (pure functions of a row and the clock)."""

from __future__ import annotations

from setkey_tui.mirror import SARow, SPRow, priority_text

WARN_SECONDS = 60  # an SA whose soft or hard expiry is this close is flagged


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
        f"0x{row.spi:08x}" if row.satype != 9 else f"0x{row.spi:04x}",
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
    if row.state >= 2:
        return "dying"
    if row.state == 0:
        return "larval"
    for deadline in (row.soft_deadline(), row.hard_deadline()):
        if deadline is not None and deadline - now <= WARN_SECONDS:
            return "warn"
    if row.hard_bytes and row.bytes * 10 >= row.hard_bytes * 9:
        return "warn"
    return ""


def sp_cells(row: SPRow, now: float) -> list[str]:
    """The SPD columns of ``row`` (same order as ``SP_COLUMNS``)."""
    return [
        row.src,
        row.dst,
        row.upper_name,
        row.dir_name,
        row.action_name,
        priority_text(row.priority),
        row.requests or "-",
        str(row.spid),
    ]


def sp_condition(row: SPRow, now: float) -> str:
    """``discard`` for a dropping policy, else ``""``."""
    return "discard" if row.action == 0 else ""
