"""A virtual table over a :class:`setkey_tui.mirror.Table`: only the visible lines are ever rendered.

Line API (``ScrollView.render_line``): line 0 is the column header (pinned, click to sort), line ``y`` shows
row ``scroll_y + y - 1`` of the table's sorted, filtered order. The cursor follows its entry's key across
changes, so a row added above it does not move the user's selection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from setkey_tui.mirror import Table
from setkey_tui.tui.cells import fit_columns

CellsFn = Callable[[Any, float], list[str]]


class EntryTable(ScrollView, can_focus=True):
    """Sortable, filterable, virtual view of the SAD or SPD."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "entry-table--header",
        "entry-table--cursor",
        "entry-table--marked",
        "entry-table--dying",
        "entry-table--warn",
        "entry-table--larval",
        "entry-table--discard",
        "entry-table--empty",
    }

    DEFAULT_CSS = """
    EntryTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .entry-table--header { background: $panel; color: $foreground; text-style: bold; }
        & > .entry-table--cursor { background: $block-cursor-blurred-background; }
        & > .entry-table--marked { background: $secondary-muted; color: $text; text-style: bold; }
        & > .entry-table--dying { color: $error; text-style: bold; }
        & > .entry-table--warn { color: $warning; }
        & > .entry-table--larval { color: $text-muted; }
        & > .entry-table--discard { color: $error; }
        & > .entry-table--empty { color: $text-muted; text-style: italic; }
        &:focus > .entry-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("enter", "select", "Detail"),
        Binding("space", "toggle_mark", "Mark", show=False),  # and move down, to mark a run of rows
        Binding("s", "choose_sort", "Sort by…"),
        Binding("S", "reverse_sort", "Reverse", show=False),
    ]

    class Selected(Message):
        """Enter or a double click on a row."""

        def __init__(self, table: EntryTable, row: Any) -> None:
            super().__init__()
            self.table = table
            self.row = row

    class SortChanged(Message):
        """The user sorted by another column or direction."""

        def __init__(self, table: EntryTable) -> None:
            super().__init__()
            self.table = table

    def __init__(
        self,
        table: Table[Any],
        cells: CellsFn,
        condition: Callable[[Any, float], str],
        now: Callable[[], float],
        *,
        empty_text: str = "No entries.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.table = table
        self.cells = cells
        self.condition = condition
        self.now = now
        self.empty_text = empty_text
        self.problem = ""  # shown instead of the rows (a filter that does not parse)
        self.cursor = 0
        self.cursor_key: tuple[int, ...] | None = None
        self.marked: set[tuple[int, ...]] = set()
        self._seen_generation = -1
        self._widths = [c.width for c in table.columns]
        self._names = [c.name for c in table.columns]
        self._fitted_for = -1
        self._shown: list[tuple[int, int]] = list(enumerate(self._widths))
        self._total_width = sum(w + 1 for w in self._widths) + 2

    def shown_columns(self) -> list[tuple[int, int]]:
        """``(column index, width)`` of the columns that fit the widget's width (by priority)."""
        width = self.size.width
        if width != self._fitted_for and width > 0:
            self._fitted_for = width
            self._shown = fit_columns(self._names, self._widths, width)
            self._total_width = sum(w + 1 for _, w in self._shown) + 2
            self.virtual_size = Size(self._total_width, len(self.table) + 1)
        return self._shown

    def on_resize(self) -> None:
        """Fit the columns to the new width."""
        self.shown_columns()
        self.refresh()

    # -- model sync ----------------------------------------------------------------------------------
    def sync(self, *, force: bool = False) -> None:
        """Catch up with the table (cheap when nothing changed): size, cursor by key, repaint."""
        if not force and self._seen_generation == self.table.generation:
            return
        self._seen_generation = self.table.generation
        n = len(self.table)
        self.marked &= self.table.rows.keys()
        if self.cursor_key is not None:
            idx = self.table.index_of(self.cursor_key)
            if idx is not None:
                self.cursor = idx
        self.cursor = max(0, min(self.cursor, n - 1))
        self.cursor_key = self.table.row_at(self.cursor).key if n else None
        self.shown_columns()
        self.virtual_size = Size(self._total_width, n + 1)
        self.refresh()

    @property
    def current_row(self) -> Any | None:
        """The row under the cursor, or None when the view is empty."""
        if not len(self.table):
            return None
        return self.table.row_at(min(self.cursor, len(self.table) - 1))

    def marked_rows(self) -> list[Any]:
        """Marked rows, or the cursor row when none is marked."""
        rows = [self.table.rows[k] for k in self.marked if k in self.table.rows]
        if not rows and self.current_row is not None:
            rows = [self.current_row]
        return rows

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped) and scroll it into view."""
        n = len(self.table)
        if not n:
            return
        self.cursor = max(0, min(index, n - 1))
        self.cursor_key = self.table.row_at(self.cursor).key
        visible = max(1, self.size.height - 1)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)
        self.refresh()

    # -- actions -------------------------------------------------------------------------------------
    def action_cursor_up(self) -> None:
        """Move up one row."""
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        """Move down one row."""
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        """Move up one page."""
        self.move_cursor(self.cursor - max(1, self.size.height - 2))

    def action_page_down(self) -> None:
        """Move down one page."""
        self.move_cursor(self.cursor + max(1, self.size.height - 2))

    def action_first(self) -> None:
        """Go to the first row."""
        self.move_cursor(0)

    def action_last(self) -> None:
        """Go to the last row."""
        self.move_cursor(len(self.table) - 1)

    def action_select(self) -> None:
        """Open the row under the cursor."""
        row = self.current_row
        if row is not None:
            self.post_message(self.Selected(self, row))

    def action_toggle_mark(self) -> None:
        """Mark or unmark the cursor row (delete acts on the marked rows)."""
        row = self.current_row
        if row is None:
            return
        self.marked.symmetric_difference_update({row.key})
        self.move_cursor(self.cursor + 1)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by a column name; again on the same column flips the direction."""
        self.table.set_sort(column, reverse)
        self.sync(force=True)
        self.move_cursor(self.cursor)
        self.post_message(self.SortChanged(self))

    def action_choose_sort(self) -> None:
        """Ask which column to sort by (one key per column)."""
        from setkey_tui.tui.screens.sort import SortScreen

        def chosen(name: str | None) -> None:
            if name is not None:
                self.sort_by(name)

        self.app.push_screen(SortScreen(self.table.columns, self.table.sort_column.name, self.table.reverse),
                             chosen)

    def action_reverse_sort(self) -> None:
        """Flip the sort direction."""
        self.sort_by(self.table.sort_column.name, reverse=not self.table.reverse)

    # -- mouse ---------------------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        """A header click sorts by that column; a row click moves the cursor, a double click opens it."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x = offset.x + round(self.scroll_x) - 1
            acc = 0
            for i, w in self.shown_columns():
                if acc <= x < acc + w + 1:
                    self.sort_by(self._names[i])
                    return
                acc += w + 1
            return
        index = round(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self.table):
            self.move_cursor(index)
            if event.chain >= 2:
                self.action_select()

    # -- rendering -----------------------------------------------------------------------------------
    def _cell_segments(self, texts: list[str], style: Style) -> list[Segment]:
        segs = [Segment(" ", style)]
        for i, w in self.shown_columns():
            text = texts[i]
            if len(text) > w:
                text = text[: w - 1] + "…"
            segs.append(Segment(text.ljust(w) + " ", style))
        return segs

    def _header_strip(self) -> Strip:
        style = self.get_component_rich_style("entry-table--header")
        titles = []
        for col in self.table.columns:
            t = col.title
            if col is self.table.sort_column:
                t += " ▼" if self.table.reverse else " ▲"
            titles.append(t)
        return Strip(self._cell_segments(titles, style))

    def render_line(self, y: int) -> Strip:
        """Header on line 0, then the rows in view."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            strip = self._header_strip()
        else:
            index = scroll_y + y - 1
            n = len(self.table)
            if index >= n:
                if n == 0 and y == 1:
                    st = self.get_component_rich_style("entry-table--empty")
                    text = self.problem or (
                        f"No entry matches the filter ({self.table.total} hidden; Esc clears it)."
                        if self.table.total else
                        "Loading from the kernel…" if self.table.loading else self.empty_text)
                    return Strip([Segment(" " + text, st)]).extend_cell_length(width, base)
                return Strip.blank(width, base)
            row = self.table.row_at(index)
            now = self.now()
            style = base
            cond = self.condition(row, now)
            if cond:
                style = style + self.get_component_rich_style(f"entry-table--{cond}")
            if row.key in self.marked:
                style = style + self.get_component_rich_style("entry-table--marked")
            if index == self.cursor:
                style = style + self.get_component_rich_style("entry-table--cursor")
            texts = self.cells(row, now)
            if row.key in self.marked:
                texts = ["*" + texts[0], *texts[1:]]
            strip = Strip(self._cell_segments(texts, style))
            strip = strip.extend_cell_length(max(width + scroll_x, self._total_width), style)
            return strip.crop(scroll_x, scroll_x + width)
        strip = strip.extend_cell_length(max(width + scroll_x, self._total_width), self.get_component_rich_style(
            "entry-table--header"))
        return strip.crop(scroll_x, scroll_x + width)
