"""The monitor pane: every PF_KEY message in setkey's ``-x`` format, bounded at any rate.

Messages arrive in batches (one per app drain). Each batch becomes one ``Log.write_lines`` call; the log keeps
at most ``MAX_LINES`` lines. While paused, messages wait in a bounded deque and the status line says how many
wait and how many were dropped. A separate bounded ring of raw messages feeds "save as recording"
(``SECONDS.MICROSECONDS HEX`` lines, the format ``kernel/replay.py`` reads, keys included: written 0600).
Keys are masked in the pane (open the SA's detail to reveal them). When a batch holds more messages
than one drain should format, only its newest are formatted and one line says how many were skipped.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Log, Select

from setkey_tui.files import write_private
from setkey_tui.kernel.replay import format_record
from setkey_tui.link import Captured, LinkMessage, MonitorBatch
from setkey_tui.pfkey.constants import SA_TYPES, MsgType, SAType
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.render.monitor import format_monitor_entry
from setkey_tui.tui.masking import key_byte_ranges, mask_hex_text, mask_hexdump

MAX_LINES = 5000
PAUSE_BUFFER = 20000
RECORDING = 100_000
RERENDER = 200  # messages shown again in the new format when -x/-xx or -h is toggled
FORMAT_PER_BATCH = 100  # per drain (20 a second): 2000 messages/s formatted at most; a burst such as
# loading the example scenario (~50 messages) shows whole

TYPE_CHOICES: list[tuple[str, int]] = [(m.name, int(m)) for m in MsgType if m != MsgType.RESERVED]
# The monitor's protocol filter: the IPsec SA types by their constants' names, then the satype 0 of the
# messages about every type (FLUSH, REGISTER), labelled with its number.
PROTO_CHOICES: list[tuple[str, int]] = [
    *((SA_TYPES.name(t), int(t)) for t in (SAType.ESP, SAType.AH, SAType.IPCOMP)),
    (f"{SA_TYPES.name(SAType.UNSPEC)} ({int(SAType.UNSPEC)})", int(SAType.UNSPEC)),
]


def recording_text(items: Iterable[Captured]) -> str:
    """The replayable recording: one ``SECONDS.MICROSECONDS HEX`` line per message (as ``-x --record``)."""
    return "".join(format_record(c.data, c.when) for c in items)


class MonitorLog(Log):
    """The monitor's log: follows the newest line unless the user scrolled up (End, or scrolling back to the
    bottom, follows again); keyboard scrolling; ``/`` searches, ``n``/``N`` go to the next/previous match."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", "Up", show=False),
        Binding("down,j", "scroll_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_home", "Top", show=False),
        Binding("end,G", "scroll_end", "Follow", show=False),
        Binding("slash", "search", "Search", show=False),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
    ]

    following = True
    search_text = ""
    match_line: int | None = None

    def _user_scrolled(self) -> None:
        self.following = self.scroll_offset.y >= self.max_scroll_y
        pane = next((a for a in self.ancestors if isinstance(a, MonitorPane)), None)
        if pane is not None:
            pane.update_status()

    def action_scroll_up(self) -> None:
        """One line up (stops following)."""
        self.scroll_to(y=self.scroll_offset.y - 1, animate=False, immediate=True)
        self._user_scrolled()

    def action_scroll_down(self) -> None:
        """One line down (at the bottom: follows again)."""
        self.scroll_to(y=self.scroll_offset.y + 1, animate=False, immediate=True)
        self._user_scrolled()

    def action_page_up(self) -> None:
        """One page up."""
        self.scroll_to(y=self.scroll_offset.y - max(1, self.size.height - 1), animate=False, immediate=True)
        self._user_scrolled()

    def action_page_down(self) -> None:
        """One page down."""
        self.scroll_to(y=self.scroll_offset.y + max(1, self.size.height - 1), animate=False, immediate=True)
        self._user_scrolled()

    def action_scroll_home(self) -> None:
        """The oldest line kept."""
        self.scroll_to(y=0, animate=False, immediate=True)
        self._user_scrolled()

    def action_scroll_end(self) -> None:
        """The newest line, and follow."""
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.following = True
        self._user_scrolled()
        self.following = True

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        super()._on_mouse_scroll_up(event)
        self.call_after_refresh(self._user_scrolled)

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        super()._on_mouse_scroll_down(event)
        self.call_after_refresh(self._user_scrolled)

    def follow(self) -> None:
        """Show the newest line when following (after new lines, a resize, a screen on top …)."""
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_resize(self) -> None:
        """A resize keeps following."""
        self.call_after_refresh(self.follow)

    def action_search(self) -> None:
        """Open the search line below the log."""
        pane = next((a for a in self.ancestors if isinstance(a, MonitorPane)), None)
        if pane is not None:
            pane.open_search()

    def find(self, text: str, *, forward: bool = True, start: int | None = None) -> int | None:
        """Scroll to the next (or previous) line holding ``text`` (case-insensitive); its number, or None."""
        self.search_text = text
        needle = text.lower()
        if not needle:
            return None
        lines = self.lines
        n = len(lines)
        if start is None:
            here = self.match_line if self.match_line is not None else (
                int(self.scroll_offset.y) + (-1 if forward else self.size.height))
            start = here + (1 if forward else -1)
        start = max(0, min(start, n - 1))
        # From here to the end (or the top), then round from the other end, as vi's search wraps.
        order: list[int] = [*range(start, n), *range(0, start)] if forward else [*range(start, -1, -1), *range(n - 1, start, -1)]
        for i in order:
            if needle in lines[i].lower():
                self.match_line = i
                self.scroll_to(y=max(0, i - self.size.height // 2), animate=False, immediate=True)
                self._user_scrolled()
                return i
        return None

    def action_next_match(self) -> None:
        """The next line holding the search text."""
        if self.search_text and self.find(self.search_text, forward=True) is None:
            self.app.bell()

    def action_previous_match(self) -> None:
        """The previous line holding the search text."""
        if self.search_text and self.find(self.search_text, forward=False) is None:
            self.app.bell()


class MonitorPane(Vertical):
    """``setkey -x`` in a pane: toggles for -xx and -h, pause, filters, clear, save."""

    DEFAULT_CSS = """
    MonitorPane {
        height: 1fr;
        border-top: solid $primary;
        & #monitor-bar { height: 3; }
        & #monitor-status { width: 1fr; padding: 1 1 0 1; }
        & Select { width: 22; }
        & Log { height: 1fr; background: $surface; }
        & #monitor-search { display: none; height: 3; }
        &.searching #monitor-search { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("z", "app.monitor_pause", "Pause/resume", show=False),
    ]

    def __init__(self, *, platform: Platform = LINUX, id: str | None = None) -> None:
        super().__init__(id=id)
        self.platform = platform
        self.tflag = 1
        self.hexdump = False
        self.paused = False
        self.type_filter: int | None = None
        self.proto_filter: int | None = None
        self.waiting: deque[Captured | str] = deque(maxlen=PAUSE_BUFFER)
        self.dropped = 0
        self.recording: deque[Captured] = deque(maxlen=RECORDING)
        self.seen = 0
        self.cleared_at = 0  # ``seen`` when the pane was last cleared
        self.shown = 0
        self.skipped = 0

    def compose(self) -> ComposeResult:
        with Horizontal(id="monitor-bar"):
            yield Label("", id="monitor-status", markup=False)
            yield Select(TYPE_CHOICES, prompt="all types", id="monitor-type")
            yield Select(PROTO_CHOICES, prompt="all protocols", id="monitor-proto")
        yield MonitorLog(max_lines=MAX_LINES, id="monitor-log", auto_scroll=False)
        yield Input(placeholder="search the monitor (Enter: find, n/N: next/previous, Esc: close)",
                    id="monitor-search")

    def on_mount(self) -> None:
        """Show the status line; follow the kernel link."""
        self.update_status()
        signal = getattr(self.app, "link_signal", None)
        if signal is not None:
            signal.subscribe(self, self.on_link_message, immediate=True)

    def on_link_message(self, message: LinkMessage) -> None:
        """Messages from the kernel link (and notes such as the summary of an own dump)."""
        if isinstance(message, MonitorBatch):
            self.feed(message.items)

    @property
    def log_widget(self) -> MonitorLog:
        """The Log holding the formatted lines."""
        return self.query_one("#monitor-log", MonitorLog)

    def open_search(self) -> None:
        """Show the search line and focus it."""
        self.add_class("searching")
        self.query_one("#monitor-search", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: find the next match (from the top of the view) and go back to the log."""
        if event.input.id != "monitor-search":
            return
        event.stop()
        log = self.log_widget
        log.match_line = None
        if log.find(event.value, forward=True) is None:
            self.app.notify(f"“{event.value}” is not in the monitor.", markup=False)
        self.remove_class("searching")
        log.focus()

    def on_key(self, event: events.Key) -> None:
        """Esc in the search line closes it."""
        if event.key == "escape" and self.has_class("searching"):
            event.stop()
            self.remove_class("searching")
            self.log_widget.focus()

    # -- status --------------------------------------------------------------------------------------
    def status_text(self) -> str:
        """What the status line says (mode, counts, pause state)."""
        mode = "-x" if self.tflag == 1 else "-xx"
        if self.hexdump:
            mode += " -h"
        parts = [f"Monitor {mode}", f"{self.seen} messages"]
        if self.is_mounted and not self.log_widget.following:
            log = self.log_widget
            top = int(log.scroll_offset.y) + 1
            parts.append(f"paused at line {top:,} of {log.line_count:,}, End to follow")
        if self.paused:
            parts.append(f"PAUSED: {len(self.waiting)} waiting")
        if self.dropped:
            parts.append(f"{self.dropped} dropped")
        if self.skipped:
            parts.append(f"{self.skipped} not shown (rate)")
        return " · ".join(parts)

    def update_status(self) -> None:
        """Refresh the status line."""
        self.query_one("#monitor-status", Label).update(self.status_text())

    # -- feeding -------------------------------------------------------------------------------------
    def _passes(self, c: Captured) -> bool:
        if self.type_filter is not None and c.msg_type != self.type_filter:
            return False
        if self.proto_filter is not None and c.satype != self.proto_filter:
            return False
        return True

    def feed(self, items: list[Captured | str]) -> None:
        """Take one drain's messages (and notes, lines of text): record the messages, then show (or hold while
        paused) those passing the filters."""
        if not items:
            return
        batch = [c for c in items if not isinstance(c, str)]
        self.seen += len(batch)
        self.recording.extend(batch)
        shown = [c for c in items if isinstance(c, str) or self._passes(c)]
        if self.paused:
            room = PAUSE_BUFFER - len(self.waiting)
            if len(shown) > room:
                self.dropped += len(shown) - room
            self.waiting.extend(shown)
        else:
            self._write(shown)
        self.update_status()

    def _format(self, c: Captured | str) -> list[str]:
        if isinstance(c, str):
            return [c]
        try:
            text = format_monitor_entry(c.data, when=c.when, tflag=self.tflag, hexdump=self.hexdump,
                                        platform=self.platform)
        except Exception as exc:  # the renderer promises not to raise; keep the pane alive if it does
            text = f"(message of {len(c.data)} bytes could not be shown: {exc})\n"
        if c.keys:
            text = mask_hex_text(text, list(c.keys))
            if self.hexdump:
                text = mask_hexdump(text, key_byte_ranges(c.data, self.platform))
        return text.rstrip("\n").split("\n")

    def _write(self, items: list[Captured | str], *, count: bool = True, limit: int = FORMAT_PER_BATCH) -> None:
        if not items:
            return
        notes = [c for c in items if isinstance(c, str)]
        messages = [c for c in items if not isinstance(c, str)]
        lines: list[str] = []
        if len(messages) > limit:
            skip = len(messages) - limit
            if count:
                self.skipped += skip
            lines.append(f"… {skip} messages not shown here (too fast to read; all are kept for saving)")
            keep = set(map(id, messages[-limit:]))
            items = [c for c in items if isinstance(c, str) or id(c) in keep]
        for c in items:
            lines.extend(self._format(c))
        if count:
            self.shown += len(items) - len(notes)
        log = self.log_widget
        log.write_lines(lines, scroll_end=False)
        log.follow()

    # -- controls ------------------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        """Pause (hold new messages) or resume (show what waited)."""
        self.paused = not self.paused
        if not self.paused:
            held = list(self.waiting)
            self.waiting.clear()
            self._write(held, limit=RERENDER)  # the user paused to read: show what waited, as the log holds
        self.update_status()

    def toggle_timestamps(self) -> None:
        """Switch between -x (time of day) and -xx (seconds since the epoch)."""
        self.tflag = 2 if self.tflag == 1 else 1
        self._rerender()

    def toggle_hex(self) -> None:
        """Add or remove the -h hex dump before each decoding."""
        self.hexdump = not self.hexdump
        self._rerender()

    def _rerender(self) -> None:
        """Show the latest messages (since the last clear) again in the current format."""
        if not self.paused:
            n = min(self.seen - self.cleared_at, len(self.recording), RERENDER)
            recent = list(itertools.islice(reversed(self.recording), n))[::-1]
            self.log_widget.clear()
            self._write([c for c in recent if self._passes(c)], count=False, limit=RERENDER)
        self.update_status()

    def clear(self) -> None:
        """Empty the pane, the waiting queue and the recording: a later save writes only what came after."""
        self.log_widget.clear()
        self.recording.clear()
        self.cleared_at = self.seen
        self.waiting.clear()
        self.dropped = 0
        self.skipped = 0
        self.update_status()

    def save_recording(self, path: str) -> int:
        """Write the recorded messages (newest ``RECORDING``) as a replay file; returns how many."""
        items = list(self.recording)
        write_private(path, recording_text(items))
        return len(items)

    def on_select_changed(self, event: Select.Changed) -> None:
        """Apply the type/protocol filters (to the latest messages again, and to those to come)."""
        value = int(event.value) if isinstance(event.value, int) else None  # Select.NULL: no filter
        if event.select.id == "monitor-type":
            self.type_filter = value
        elif event.select.id == "monitor-proto":
            self.proto_filter = value
        else:
            return
        event.stop()
        self._rerender()
