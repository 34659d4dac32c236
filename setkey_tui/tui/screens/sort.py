"""Sorting a table by any column: ``s`` asks which (one key per column), and the command palette offers
"Sort SAD by …" / "Sort SPD by …" for every column."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from setkey_tui.tui.columns import Column
    from setkey_tui.tui.widgets.entry_table import EntryTable


def column_keys(titles: Sequence[str]) -> list[str]:
    """One distinct lower-case letter per column title: its first letter not taken yet."""
    taken: set[str] = set()
    keys = []
    for title in titles:
        key = next((c for c in title.lower() if c.isalpha() and c not in taken), "")
        taken.add(key)
        keys.append(key)
    return keys


class SortScreen(ModalScreen[str | None]):
    """Which column to sort by: its letter, or the cursor and Enter; answers the column name or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SortScreen { align: center middle; }
    SortScreen > Vertical { width: 40; height: auto; max-height: 90%; background: $panel;
                            border: thick $primary; padding: 0 1; }
    SortScreen OptionList { height: auto; max-height: 20; }
    """

    def __init__(self, columns: Sequence[Column], current: str, reverse: bool) -> None:
        super().__init__()
        self.columns = list(columns)
        self.current = current
        self.reverse = reverse
        self.keys = column_keys([c.title for c in self.columns])

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Sort by (the key, or ↑↓ and Enter; the same column again reverses)", markup=False)
            options = []
            for key, col in zip(self.keys, self.columns, strict=True):
                mark = (" ▼" if self.reverse else " ▲") if col.name == self.current else ""
                options.append(Option(f"{key}  {col.title}{mark}", id=col.name))
            yield OptionList(*options, id="sort-columns")

    def on_mount(self) -> None:
        """The cursor on the column sorted by now."""
        options = self.query_one(OptionList)
        options.highlighted = next((i for i, c in enumerate(self.columns) if c.name == self.current), 0)
        options.focus()

    def on_key(self, event: Key) -> None:
        """A column's letter picks it."""
        if event.character and event.character in self.keys:
            event.stop()
            self.dismiss(self.columns[self.keys.index(event.character)].name)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a column picks it."""
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Keep the order."""
        self.dismiss(None)


class SortCommands(Provider):
    """Palette commands: "Sort SAD by Source" … for every column of both tables."""

    def _commands(self) -> list[tuple[str, str, EntryTable, str]]:
        from setkey_tui.tui.widgets.entry_table import EntryTable

        out = []
        for table_id, label in (("#sad-table", "SAD"), ("#spd-table", "SPD")):
            try:
                table = self.screen.query_one(table_id, EntryTable)
            except Exception:
                continue
            for col in table.table.columns:
                out.append((f"Sort {label} by {col.title}", f"Order the {label} table by its {col.title} column "
                            "(again: reverse)", table, col.name))
        return out

    async def discover(self) -> Hits:
        """Every sort command, for the empty palette."""
        for title, help_text, table, name in self._commands():
            yield DiscoveryHit(title, partial(table.sort_by, name), help=help_text)

    async def search(self, query: str) -> Hits:
        """The sort commands matching ``query``."""
        matcher = self.matcher(query)
        for title, help_text, table, name in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(table.sort_by, name), help=help_text)
