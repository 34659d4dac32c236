"""A table with its `/` filter line: the SAD pane and the SPD pane."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label

from setkey_tui.mirror import Table
from setkey_tui.tui.filters import FilterError, parse_filter
from setkey_tui.tui.widgets.entry_table import CellsFn, EntryTable


def marked_error(text: str, exc: FilterError) -> Text:
    """The filter as typed with the faulty word marked, then the reason."""
    out = Text()
    start = text.find(exc.word) if exc.word else -1
    if start >= 0:
        out.append(text[:start])
        out.append(exc.word, style="bold reverse")
        out.append(text[start + len(exc.word):])
        out.append("  ← ")
    out.append(str(exc))
    return out


class TablePane(Vertical):
    """An :class:`EntryTable` and, below it, the filter input (shown on `/`) and a line for its errors."""

    DEFAULT_CSS = """
    TablePane {
        height: 1fr;
        & .filter-input { display: none; height: 3; }
        & .filter-error { display: none; color: $error; padding: 0 1; }
        & .filter-summary { display: none; color: $text-muted; padding: 0 1; height: 1; }
        &.filtering .filter-input { display: block; }
        &.filter-bad .filter-error { display: block; }
        &.filtered .filter-summary { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("n", "next_match(1)", "Next match", show=False),
        Binding("N", "next_match(-1)", "Previous match", show=False),
    ]

    def __init__(
        self,
        kind: str,
        table: Table[Any],
        cells: CellsFn,
        condition: Callable[[Any, float], str],
        now: Callable[[], float],
        *,
        empty_text: str,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.kind = kind
        self.table = table
        self.filter_text = ""
        self._table_widget = EntryTable(table, cells, condition, now, empty_text=empty_text, id=f"{kind}-table")

    def compose(self) -> ComposeResult:
        yield self._table_widget
        yield Label("", classes="filter-summary", markup=False)
        yield Label("", classes="filter-error", markup=False)
        placeholder = ("filter: text, spi:0x1000, dst:10.0.0.0/8, state:dying, proto:esp"
                       if self.kind == "sad" else "filter: text, dir:out, src:10.0.0.0/8, action:ipsec, reqid:5")
        yield Input(placeholder=placeholder, classes="filter-input", id=f"{self.kind}-filter")

    @property
    def entry_table(self) -> EntryTable:
        """The table widget."""
        return self._table_widget

    def open_filter(self) -> None:
        """Show the filter input and focus it."""
        self.add_class("filtering")
        inp = self.query_one(Input)
        inp.value = self.filter_text
        inp.focus()

    def apply_filter(self, text: str) -> str | None:
        """Filter the table by ``text``; returns the error text when it does not parse. A filter that does not
        parse shows no rows (not the results of an older text) and its faulty word marked."""
        try:
            pred = parse_filter(text, self.kind)
        except FilterError as exc:
            self.add_class("filter-bad")
            self.query_one(".filter-error", Label).update(marked_error(text, exc))
            self.filter_text = text
            self.table.set_filter(lambda _row: False)
            self.entry_table.problem = f"The filter does not parse: {exc}"
            self.set_class(True, "filtered")
            self.update_summary()
            self.entry_table.sync(force=True)
            return str(exc)
        self.entry_table.problem = ""
        self.remove_class("filter-bad")
        self.filter_text = text
        self.table.set_filter(pred)
        self.set_class(bool(text.strip()), "filtered")
        self.update_summary()
        self.entry_table.sync(force=True)
        return None

    def update_summary(self) -> None:
        """The line saying how many rows the filter shows."""
        if self.has_class("filter-bad") and self.is_mounted:
            self.query_one(".filter-summary", Label).update(
                f"filter “{self.filter_text}” does not parse: no rows shown until it does (Esc clears it)")
        elif self.filter_text.strip() and self.is_mounted:
            self.query_one(".filter-summary", Label).update(
                f"filter “{self.filter_text}”: {len(self.table)} of {self.table.total} shown (/ to change, "
                "Esc to clear)")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as the user types."""
        event.stop()
        self.apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter keeps the filter and returns to the table; a filter that does not parse keeps the input open."""
        event.stop()
        if self.has_class("filter-bad"):  # each change was applied already; this text did not parse
            self.app.bell()
            return
        self.remove_class("filtering")
        self.entry_table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """n / N only while a filter shows its matches."""
        if action == "next_match":
            return bool(self.filter_text.strip()) and not self.has_class("filter-bad")
        return True

    def action_next_match(self, step: int) -> None:
        """Go to the next (1) or previous (-1) row the filter matched, round the end; say which it is."""
        n = len(self.table)
        if not n:
            return
        table = self.entry_table
        table.move_cursor((table.cursor + step) % n)
        self.query_one(".filter-summary", Label).update(
            f"filter “{self.filter_text}”: match {table.cursor + 1} of {n} ({self.table.total} in all; n / N: "
            "next / previous, Esc clears)")

    def action_clear_filter(self) -> None:
        """Esc: drop the filter."""
        self.query_one(Input).value = ""
        self.apply_filter("")
        self.remove_class("filtering")
        self.remove_class("filter-bad")
        self.entry_table.focus()
