"""Help (F1 or ?): every binding and the filter syntax."""

from __future__ import annotations

from typing import ClassVar

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from setkey_tui.tui import filters

TABLE_KEYS = (
    ("↑ ↓ j k, PgUp PgDn, Home End g G", "move the cursor"),
    ("space", "mark / unmark the row and move down (a run of spaces marks a run of rows); marked rows have a "
              "`*` and a blue background; `d` deletes the marked rows"),
    ("enter, double click", "open the detail of the row"),
    ("s then a letter", "sort by a column: `s` lists the columns with one key each; the same column again reverses"),
    ("S, click a column title", "reverse the order / sort by that column (again: reverse)"),
    ("ctrl+p, then \"sort\"", "sort by any column from the command palette"),
    ("/ then Esc", "filter the table (a word that does not parse is marked, no rows shown) / clear the filter"),
    ("n / N", "next / previous row the filter matched (round the end), with its number"),
)
DETAIL_KEYS = (
    ("k", "reveal or mask the keys of this entry"),
    ("y", "copy the statement (with keys when revealed): sent to the terminal clipboard (OSC 52) and written to "
          "a private file whose path is shown"),
    ("d", "delete this entry (shows the delete statement first; not offered once the entry is gone)"),
    ("enter on a linked entry", "open it"),
    ("Esc", "back"),
)
FORM_KEYS = (
    ("Tab / Shift+Tab", "next / previous field (a field's error shows once you leave it, all of them on submit)"),
    ("ctrl+r", "generate random keys of the right length"),
    ("ctrl+k", "show / hide the keys while typing them (the preview stays masked)"),
    ("ctrl+s", "submit to the kernel"),
    ("Esc", "close the form"),
)

TRAFFIC_KEYS = (
    ("Tab / Shift+Tab", "next / previous field"),
    ("ctrl+s, Enter", "send the packets (simulated kernel); the verdicts show in the dialog"),
    ("Esc", "close the dialog"),
)


def _key_label(key: str) -> str:
    return {"slash": "/", "question_mark": "?", "enter": "enter", "f1": "F1"}.get(key, key)


def help_markdown() -> str:
    """The help text (also the basis of docs/tui.md's binding table)."""
    from setkey_tui.tui.app import ACTIONS

    lines = ["# setkey-tui help", "", "## Main screen", "", "| key | action |", "|---|---|"]
    for _action, key, title, help_text in ACTIONS:
        lines.append(f"| `{_key_label(key)}` | **{title}**: {help_text} |")
    lines += ["| `?` | help |", "| `ctrl+p` | command palette (every action, themes) |", "| `q` | quit |", ""]
    for heading, rows in (("Tables", TABLE_KEYS), ("Detail screen", DETAIL_KEYS), ("Forms", FORM_KEYS),
                          ("Traffic dialog", TRAFFIC_KEYS)):
        lines += [f"## {heading}", "", "| key | action |", "|---|---|"]
        lines += [f"| `{k}` | {v} |" for k, v in rows]
        lines.append("")
    lines += ["## Filter syntax", ""]
    lines += [line.strip() for line in (filters.__doc__ or "").strip().splitlines()[1:]]
    lines += ["", "Examples: `spi:0x1000`, `dst:10.0.0.0/8 state:dying`, `dir:out !action:ipsec`, `aes-cbc`."]
    return "\n".join(lines) + "\n"


class HelpScreen(ModalScreen[None]):
    """Every binding and the filter syntax."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        # rich's Markdown renders at once (Textual's mounts its blocks over several frames): the help screen is
        # whole from its first frame
        with VerticalScroll(classes="help-box"):
            yield Static(Markdown(help_markdown()), id="help-text")

    def action_close(self) -> None:
        """Back to where the user was."""
        self.dismiss(None)
