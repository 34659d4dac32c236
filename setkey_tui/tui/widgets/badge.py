"""The badge line: which kernel, which platform, what the SAD and SPD hold, and the live status.

Its fields are reactives, set from what the kernel link posts (:class:`~setkey_tui.link.LinkStatus`,
:class:`~setkey_tui.link.MirrorChanged`); it is always one line, cut with an ellipsis rather than wrapped.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from setkey_tui.link import LinkMessage, LinkStatus, Loading, MirrorChanged
from setkey_tui.pfkey.constants import DIRECTIONS, SA_STATES, Direction, SAState

# The SAD count by state, the usable states first.
STATE_ORDER = tuple(SA_STATES.name(s) for s in (SAState.MATURE, SAState.DYING, SAState.LARVAL, SAState.DEAD))
DIR_ORDER = tuple(DIRECTIONS.name(d) for d in (Direction.INBOUND, Direction.OUTBOUND, Direction.FWD,
                                                Direction.ANY))
BAR_WIDTH = 10
SPINNER = "▏▎▍▌▋▊▉█"
STYLES = {"": "italic", "warning": "bold yellow", "error": "bold red"}
DOTS = {"": "bold green", "warning": "bold yellow", "error": "bold red"}


def counts_text(label: str, counts: Counter[str], order: tuple[str, ...]) -> str:
    """``SAD 12 (mature 10 · dying 2)``."""
    total = sum(counts.values())
    parts = [f"{k} {counts[k]}" for k in order if counts.get(k)]
    parts += [f"{k} {v}" for k, v in sorted(counts.items()) if k not in order and v]
    return f"{label} {total:,}" + (f" ({' · '.join(parts)})" if parts else "")


def loading_text(loading: Loading) -> str:
    """``loading SAD 23,418… ▕████▍     ▏`` (a bar when the size is known, else a moving mark)."""
    text = f"loading {loading.table} {loading.count:,}…"
    if loading.total:
        frac = min(1.0, loading.count / loading.total)
        cells = frac * BAR_WIDTH
        full = int(cells)
        part = SPINNER[int((cells - full) * len(SPINNER))] if full < BAR_WIDTH else ""
        return f"{text} ▕{'█' * full}{part}{' ' * (BAR_WIDTH - full - len(part))}▏ {frac:.0%}"
    pos = (loading.count // 997) % BAR_WIDTH
    return f"{text} ▕{' ' * pos}█{' ' * (BAR_WIDTH - pos - 1)}▏"


class Badge(Static):
    """One line at the top of the main screen."""

    DEFAULT_CSS = """
    Badge {
        height: 1;
        background: $primary-background;
        color: $foreground;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    kernel: reactive[str] = reactive("connecting to the kernel…")
    platform_name: reactive[str] = reactive("")
    sa_counts: reactive[Counter[str]] = reactive(Counter, always_update=True)
    sp_counts: reactive[Counter[str]] = reactive(Counter, always_update=True)
    status: reactive[str] = reactive("starting")
    status_style: reactive[str] = reactive("")
    load_progress: reactive[Loading | None] = reactive(None)

    def __init__(self, *, platform: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(Badge.platform_name, platform)

    def on_mount(self) -> None:
        """Follow the kernel link."""
        signal = getattr(self.app, "link_signal", None)
        if signal is not None:
            signal.subscribe(self, self.on_link_message, immediate=True)
        link = getattr(self.app, "link", None)
        if link is not None:  # the state so far (posted before this widget was there)
            self.kernel = link.kernel_description
            self.status, self.status_style, self.load_progress = link.status, link.status_style, link.loading
            self.sa_counts, self.sp_counts = link.mirror.sa_counts(), link.mirror.sp_counts()

    def on_link_message(self, message: LinkMessage) -> None:
        """Take the link's news."""
        if isinstance(message, LinkStatus):
            self.kernel = message.kernel
            self.status = message.status
            self.status_style = message.style
            self.load_progress = message.loading
        elif isinstance(message, MirrorChanged):
            self.sa_counts = message.sa_counts
            self.sp_counts = message.sp_counts

    def show(self, **values: Any) -> None:
        """Set several fields at once (kernel, sa_counts, sp_counts, status, status_style, load_progress)."""
        for name, value in values.items():
            setattr(self, name, value)

    def render(self) -> Text:
        """The line."""
        style = self.status_style
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" ● ", style=DOTS.get(style, style or "bold green"))
        line.append(self.kernel, style="bold")
        if self.platform_name:
            line.append(f" · {self.platform_name}")
        line.append(" · ")
        line.append(counts_text("SAD", self.sa_counts, STATE_ORDER))
        line.append(" · ")
        line.append(counts_text("SPD", self.sp_counts, DIR_ORDER))
        if self.load_progress is not None:
            line.append(" · ")
            line.append(loading_text(self.load_progress), style="bold")
        elif self.status:
            line.append(" · ")
            line.append(self.status, style=STYLES.get(style, style or "italic"))
        return line
