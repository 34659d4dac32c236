"""The SAD and SPD tables' columns: one record per column (name, title, width, sort value).

To add a column: append a :class:`Column` to :data:`SA_COLUMNS` or :data:`SP_COLUMNS` and its cell text, in the
same place, to :mod:`setkey_tui.tui.cells`. A sort value reads only what the row holds (no clock, no decoding),
so that :class:`setkey_tui.mirror.Table` keeps its order incrementally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Column", "SA_COLUMNS", "SP_COLUMNS"]


@dataclass(frozen=True)
class Column:
    """A table column: its title, width, cell text and sort value (static, so sorting needs no clock)."""

    name: str
    title: str
    width: int
    sort_value: Callable[[Any], Any]


def _dl(v: int | None) -> int:
    return v if v is not None else 1 << 62


SA_COLUMNS: tuple[Column, ...] = (
    Column("src", "Source", 18, lambda r: r.src_sort),
    Column("dst", "Destination", 18, lambda r: r.key[1:3]),
    Column("proto", "Proto", 6, lambda r: r.proto),
    Column("spi", "SPI", 10, lambda r: r.spi),
    Column("mode", "Mode", 9, lambda r: r.mode_name),
    Column("reqid", "Reqid", 6, lambda r: r.reqid),
    Column("enc", "Encryption", 13, lambda r: r.enc_name),
    Column("auth", "Authentication", 14, lambda r: r.auth_name),
    Column("state", "State", 7, lambda r: r.state),
    Column("age", "Age", 8, lambda r: -r.addtime),
    Column("soft", "Soft in", 9, lambda r: _dl(r.soft_deadline())),
    Column("hard", "Hard in", 9, lambda r: _dl(r.hard_deadline())),
    Column("bytes", "Bytes", 10, lambda r: r.bytes),
)

SP_COLUMNS: tuple[Column, ...] = (
    Column("src", "Source", 22, lambda r: r.key[0:4]),
    Column("dst", "Destination", 22, lambda r: r.key[4:8]),
    Column("upper", "Upper", 6, lambda r: r.upper),
    Column("dir", "Dir", 4, lambda r: r.dir),
    Column("action", "Action", 8, lambda r: r.action_name),
    Column("prio", "Priority", 9, lambda r: r.priority),
    Column("requests", "Requests", 44, lambda r: r.requests),
    Column("spid", "SPID", 6, lambda r: r.spid),
)
