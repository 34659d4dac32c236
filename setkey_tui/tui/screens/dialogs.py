"""Small modal dialogs: yes/no confirmation, flush-SAD protocol choice, export, a file path."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from setkey_tui.pfkey.constants import SAType


class _Dialog(ModalScreen[object]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    _Dialog { align: center middle; }
    """

    def action_cancel(self) -> None:
        """Close without doing anything."""
        self.dismiss(None)


class ConfirmScreen(_Dialog):
    """``question`` with the details below it; Yes (y) / No (n, Esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "No"),
        Binding("y", "yes", "Yes"),
    ]

    def __init__(self, question: str, details: str = "") -> None:
        super().__init__()
        self.question = question
        self.details = details

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title", markup=False)
            if self.details:
                yield Static(self.details, classes="dialog-details", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        """Focus No: the safe answer."""
        self.query_one("#no", Button).focus()

    def action_yes(self) -> None:
        """Confirm."""
        self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes or No clicked."""
        self.dismiss(event.button.id == "yes")


class FlushSADScreen(_Dialog):
    """Flush the SAD: which protocol, and how many SAs go; answers the satype (0 = all) or None."""

    def __init__(self, counts: dict[int, int]) -> None:
        super().__init__()
        self.counts = counts

    def compose(self) -> ComposeResult:
        total = sum(self.counts.values())
        options = [(f"all protocols ({total} SAs)", 0)]
        for st in (SAType.ESP, SAType.AH, SAType.IPCOMP):
            options.append((f"{st.name.lower()} ({self.counts.get(st, 0)} SAs)", int(st)))
        with Vertical(classes="dialog"):
            yield Label("Flush the SAD", classes="dialog-title")
            yield Select(options, value=0, allow_blank=False, id="flush-proto")
            yield Label(self._question(0), id="flush-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Flush", variant="error", id="yes")
                yield Button("Cancel", variant="primary", id="no")

    def _question(self, satype: int) -> str:
        n = sum(self.counts.values()) if satype == 0 else self.counts.get(satype, 0)
        what = "every SA" if satype == 0 else f"every {SAType(satype).name.lower()} SA"
        return f"This removes {what}: {n} {'SA goes' if n == 1 else 'SAs go'}."

    def on_select_changed(self, event: Select.Changed) -> None:
        """Update the count for the protocol chosen."""
        self.query_one("#flush-question", Label).update(self._question(int(event.value)))  # type: ignore[arg-type]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Flush or cancel."""
        if event.button.id == "yes":
            self.dismiss(int(self.query_one("#flush-proto", Select).value))  # type: ignore[arg-type]
        else:
            self.dismiss(None)


class ExportScreen(_Dialog):
    """Export: which table, where, with keys or not; answers ``(path, which, keys)`` or None."""

    def __init__(self, n_sad: int, n_spd: int) -> None:
        super().__init__()
        self.n_sad = n_sad
        self.n_spd = n_spd

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export as a setkey script (written with mode 0600)", classes="dialog-title")
            yield Select([(f"SAD and SPD ({self.n_sad} SAs, {self.n_spd} policies)", "both"),
                          (f"SAD only ({self.n_sad} SAs)", "sad"), (f"SPD only ({self.n_spd} policies)", "spd")],
                         value="both", allow_blank=False, id="export-which")
            yield Input("setkey-export.conf", placeholder="file name", id="export-path")
            yield Checkbox("include the keys (secret!)", value=False, id="export-keys")
            yield Label("", id="export-error", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="yes")
                yield Button("Cancel", id="no")

    def _submit(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        if not path:
            self.query_one("#export-error", Label).update("give a file name")
            return
        which = str(self.query_one("#export-which", Select).value)
        keys = self.query_one("#export-keys", Checkbox).value
        self.dismiss((path, which, keys))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the path exports."""
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Export or cancel."""
        if event.button.id == "yes":
            self._submit()
        else:
            self.dismiss(None)


class PathScreen(_Dialog):
    """Ask for a file name; answers it or None."""

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        self.title_text = title
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Input(self.default, placeholder="file name", id="path")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="yes")
                yield Button("Cancel", id="no")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter saves."""
        self.dismiss(event.value.strip() or None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Save or cancel."""
        if event.button.id == "yes":
            self.dismiss(self.query_one("#path", Input).value.strip() or None)
        else:
            self.dismiss(None)
