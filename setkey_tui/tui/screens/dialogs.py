"""Small modal dialogs: yes/no confirmation, flush-SAD protocol choice, export, a file path (shown in full)."""

from __future__ import annotations

import os
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from setkey_tui.pfkey.constants import IPSEC_SA_TYPES, SA_TYPES, SAType


def sas(n: int) -> str:
    """``1 SA``, ``3 SAs``."""
    return f"{n} SA" if n == 1 else f"{n} SAs"


def policies(n: int) -> str:
    """``1 policy``, ``3 policies``."""
    return f"{n} policy" if n == 1 else f"{n} policies"


_Result = TypeVar("_Result")
"""What a dialog answers (it answers None when cancelled)."""


class _Dialog(ModalScreen[_Result]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    _Dialog { align: center middle; }
    _Dialog .dialog-note { color: $text-muted; width: 100%; }
    _Dialog .path-error { color: $error; width: 100%; }
    _Dialog .keys-warning { color: $error; text-style: bold; width: 100%; }
    """

    def action_cancel(self) -> None:
        """Close without doing anything."""
        self.dismiss(None)


class ConfirmScreen(_Dialog[bool]):
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


class FlushSADScreen(_Dialog[int]):
    """Flush the SAD: which protocol, and how many SAs go; answers the satype (0 = all) or None."""

    def __init__(self, counts: dict[int, int]) -> None:
        super().__init__()
        self.counts = counts

    def compose(self) -> ComposeResult:
        total = sum(self.counts.values())
        options = [(f"all protocols ({sas(total)})", int(SAType.UNSPEC))]
        for st in IPSEC_SA_TYPES:
            options.append((f"{SA_TYPES.name(st)} ({sas(self.counts.get(st, 0))})", int(st)))
        with Vertical(classes="dialog"):
            yield Label("Flush the SAD", classes="dialog-title")
            yield Select(options, value=int(SAType.UNSPEC), allow_blank=False, id="flush-proto")
            yield Label(self._question(SAType.UNSPEC), id="flush-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Flush", variant="error", id="yes")
                yield Button("Cancel", variant="primary", id="no")

    def _question(self, satype: int) -> str:
        every = satype == SAType.UNSPEC
        n = sum(self.counts.values()) if every else self.counts.get(satype, 0)
        what = "every SA" if every else f"every {SA_TYPES.name(satype)} SA"
        return f"This removes {what}: {n} {'SA goes' if n == 1 else 'SAs go'}."

    def on_select_changed(self, event: Select.Changed) -> None:
        """Update the count for the protocol chosen."""
        if isinstance(event.value, int):  # allow_blank=False: never Select.NULL
            self.query_one("#flush-question", Label).update(self._question(event.value))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Flush or cancel."""
        if event.button.id == "yes":
            satype = self.query_one("#flush-proto", Select).value
            self.dismiss(satype if isinstance(satype, int) else None)
        else:
            self.dismiss(None)


def full_path(text: str) -> str:
    """The absolute path a file name typed in a dialog stands for (``~`` expanded, relative to the current
    folder)."""
    return os.path.abspath(os.path.expanduser(text.strip()))


def default_path(name: str) -> str:
    """Where a file is saved by default: the current folder."""
    return os.path.join(os.getcwd(), name)


class _PathDialog(_Dialog[_Result]):
    """A dialog with a file name field and, under it, the full path it will write."""

    def path_widgets(self, default_name: str) -> ComposeResult:
        """The file name input (the full default path in it) and the line saying where it writes."""
        yield Label(f"File (written with mode 0600; a bare name goes in the current folder, {os.getcwd()}):",
                    classes="dialog-note", markup=False)
        yield Input(default_path(default_name), placeholder="file name", id="path")
        yield Label("", id="path-full", classes="dialog-note", markup=False)
        yield Label("", id="path-error", classes="path-error", markup=False)

    def on_mount(self) -> None:
        """Say where the default writes."""
        self.show_full_path()

    def show_full_path(self) -> None:
        """Update the "writes to" line from the file name field."""
        text = self.query_one("#path", Input).value
        self.query_one("#path-full", Label).update(f"writes to {full_path(text)}" if text.strip() else "")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Keep the full path in view while the user types."""
        if event.input.id == "path":
            self.show_full_path()

    def chosen_path(self) -> str | None:
        """The full path, or None (and the reason shown) when the field is empty or names a folder."""
        text = self.query_one("#path", Input).value
        error = self.query_one("#path-error", Label)
        if not text.strip():
            error.update("give a file name")
            return None
        path = full_path(text)
        if os.path.isdir(path):
            error.update(f"{path} is a folder: give a file name")
            return None
        return path


class ExportScreen(_PathDialog[tuple[str, str, bool]]):
    """Export: which table, where, with keys or not; answers ``(path, which, keys)`` (an absolute path) or
    None."""

    DEFAULT_NAME = "setkey-export.conf"

    def __init__(self, n_sad: int, n_spd: int) -> None:
        super().__init__()
        self.n_sad = n_sad
        self.n_spd = n_spd

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export as a setkey script", classes="dialog-title")
            yield Select([(f"SAD and SPD ({sas(self.n_sad)}, {policies(self.n_spd)})", "both"),
                          (f"SAD only ({sas(self.n_sad)})", "sad"), (f"SPD only ({policies(self.n_spd)})", "spd")],
                         value="both", allow_blank=False, id="export-which")
            yield from self.path_widgets(self.DEFAULT_NAME)
            yield Checkbox("Include the secret keys", value=False, id="export-keys")
            yield Label("", id="export-keys-warning", classes="keys-warning", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export without keys", variant="primary", id="yes")
                yield Button("Cancel", id="no")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        """Keys included: say so in red, on the button too."""
        keys = event.value
        self.query_one("#export-keys-warning", Label).update(
            "KEYS INCLUDED: whoever reads this file can read and forge the protected traffic." if keys else "")
        button = self.query_one("#yes", Button)
        button.label = "Export WITH KEYS" if keys else "Export without keys"
        button.variant = "error" if keys else "primary"

    def _submit(self) -> None:
        path = self.chosen_path()
        if path is None:
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


class PathScreen(_PathDialog[str]):
    """Ask for a file name (the full path shown as it is typed); answers the absolute path or None."""

    def __init__(self, title: str, default: str, note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.default = default
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            if self.note:
                yield Label(self.note, classes="keys-warning", markup=False)
            yield from self.path_widgets(os.path.basename(self.default) or self.default)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="yes")
                yield Button("Cancel", id="no")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter saves."""
        path = self.chosen_path()
        if path is not None:
            self.dismiss(path)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Save or cancel."""
        if event.button.id == "yes":
            path = self.chosen_path()
            if path is not None:
                self.dismiss(path)
        else:
            self.dismiss(None)


RECORDING_NOTE = ("The recording holds every message as the kernel sent it, KEYS INCLUDED (the monitor masks "
                  "them on screen only).")


class RecordingPathScreen(PathScreen):
    """Where to save the monitor's recording; says that it includes the keys."""

    def __init__(self, title: str = "Save the monitor as a recording", default: str = "setkey-monitor.rec") -> None:
        super().__init__(title, default, RECORDING_NOTE)
