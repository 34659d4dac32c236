"""The main screen: badge, SAD and SPD tabs (each a virtual table with its filter), monitor pane, footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from setkey_tui.link import LinkMessage, MirrorChanged
from setkey_tui.tui.actions import main_bindings
from setkey_tui.tui.cells import sa_cells, sa_condition, sp_cells, sp_condition
from setkey_tui.tui.screens.sort import SortCommands
from setkey_tui.tui.widgets.badge import Badge
from setkey_tui.tui.widgets.monitor import MonitorPane
from setkey_tui.tui.widgets.table_pane import TablePane

if TYPE_CHECKING:
    from setkey_tui.tui.app import SetkeyApp

SAD_EMPTY = "The SAD is empty.  a: add an SA  ·  A: apply a file  ·  ctrl+p: commands  ·  F1: help"
SPD_EMPTY = "The SPD is empty.  p: add a policy  ·  A: apply a file  ·  ctrl+p: commands  ·  F1: help"


class EssentialsFooter(Footer):
    """The footer with Help (F1) and Quit first, so that a narrow terminal (80 columns) still shows them."""

    ESSENTIAL = ("help", "quit")
    _recompose_due = False
    _composed: tuple[object, ...] | None = None  # the bindings the keys shown were built from

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Recompose once for a burst of binding changes (startup focuses, mounts and activates tabs: five
        recomposes of every key, each tens of ms, delayed the first rows on screen)."""
        if self._recompose_due:
            return
        super().bindings_changed(screen)
        self._recompose_due = bool(screen.app.app_focus and self.is_attached and screen is self.screen)

    def _shown_bindings(self) -> tuple[object, ...]:
        return tuple((key, b.key, b.key_display, b.description, b.action, b.show, b.group, enabled, tooltip)
                     for key, (_node, b, enabled, tooltip) in self.screen.active_bindings.items())

    async def recompose(self) -> None:
        """Build the keys again from the bindings of now, unless they are the ones shown: a Tab from field to
        field of a form changes the focus, not the keys (each rebuild restyled and laid out the screen)."""
        self._recompose_due = False
        if not self.is_attached or (self._composed is not None and self._shown_bindings() == self._composed):
            return
        await super().recompose()

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._composed = self._shown_bindings()
        widgets = list(super().compose())
        def essential(w: object) -> int:  # FooterKeys; the main screen's q is "app.quit"
            action = str(getattr(w, "action", "")).removeprefix("app.")
            return self.ESSENTIAL.index(action) if action in self.ESSENTIAL else -1

        first = sorted((w for w in widgets if essential(w) >= 0), key=essential)
        yield from first
        yield from (w for w in widgets if not any(w is f for f in first))


class MainScreen(Screen[None]):
    """Everything the user watches all day. Its bindings (the table and monitor actions, q) live here, so
    forms, dialogs and the detail screen never see them."""

    BINDINGS: ClassVar[list[BindingType]] = main_bindings()

    COMMANDS = Screen.COMMANDS | {SortCommands}

    def compose(self) -> ComposeResult:
        app: SetkeyApp = self.app  # type: ignore[assignment]
        yield Badge(platform=app.platform.name, id="badge")
        with TabbedContent(id="tabs", initial="sad-tab"):
            with TabPane("SAD", id="sad-tab"):
                yield TablePane("sad", app.mirror.sad, sa_cells, sa_condition, app.now, empty_text=SAD_EMPTY,
                                id="sad-pane")
            with TabPane("SPD", id="spd-tab"):
                yield TablePane("spd", app.mirror.spd, sp_cells, sp_condition, app.now, empty_text=SPD_EMPTY,
                                id="spd-pane")
        yield MonitorPane(platform=app.platform, id="monitor")
        yield EssentialsFooter()

    def on_mount(self) -> None:
        """Start on the SAD table; follow the kernel link's changes."""
        self.query_one("#sad-table").focus()
        app: SetkeyApp = self.app  # type: ignore[assignment]
        app.link_signal.subscribe(self, self.on_link_message, immediate=True)
        app.start_draining()  # every widget here has subscribed: rows read already go in the first paint

    def on_link_message(self, message: LinkMessage) -> None:
        """The mirror changed: the tables catch up (cheap when theirs did not)."""
        if isinstance(message, MirrorChanged):
            for pane in self.query(TablePane):
                pane.entry_table.sync()
                pane.update_summary()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Focus the table of the tab just shown."""
        pane_id = "#sad-table" if event.pane.id == "sad-tab" else "#spd-table"
        self.query_one(pane_id).focus()
