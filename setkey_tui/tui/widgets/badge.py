"""The badge line: which kernel, which platform, what the SAD and SPD hold, and the live status."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

STATE_ORDER = ("mature", "dying", "larval", "dead")
DIR_ORDER = ("in", "out", "fwd", "any")


def counts_text(label: str, counts: Counter[str], order: tuple[str, ...]) -> str:
    """``SAD 12 (mature 10 · dying 2)``."""
    total = sum(counts.values())
    parts = [f"{k} {counts[k]}" for k in order if counts.get(k)]
    parts += [f"{k} {v}" for k, v in sorted(counts.items()) if k not in order and v]
    return f"{label} {total}" + (f" ({' · '.join(parts)})" if parts else "")


class Badge(Static):
    """One line (two on narrow terminals) at the top of the main screen."""

    DEFAULT_CSS = """
    Badge {
        height: auto;
        background: $primary-background;
        color: $foreground;
        padding: 0 1;
    }
    """

    def show(self, *, kernel: str, platform: str, sa_counts: Counter[str], sp_counts: Counter[str],
             status: str, status_style: str = "") -> None:
        """Redraw with these values."""
        t = Text()
        t.append(" ● ", style="bold green" if not status_style else status_style)
        t.append(kernel, style="bold")
        t.append(f"  ·  {platform}  ·  ")
        t.append(counts_text("SAD", sa_counts, STATE_ORDER))
        t.append("  ·  ")
        t.append(counts_text("SPD", sp_counts, DIR_ORDER))
        if status:
            t.append("  ·  ")
            t.append(status, style=status_style or "italic")
        self.update(t)
