"""The app's actions in one table: the main screen's bindings, the footer, the help screen and the command
palette all read it."""

from __future__ import annotations

from typing import NamedTuple

from textual.binding import Binding, BindingType


class Action(NamedTuple):
    """One action of the app: its name (``app.<name>``), the keyboard shortcut shown, title and help line."""

    name: str
    shortcut: str
    title: str
    help: str


# The footer, the help screen and the command palette all read this.
ACTIONS: tuple[Action, ...] = tuple(Action(*row) for row in (
    ("add_sa", "a", "Add SA", "Open the form that adds a security association"),
    ("add_policy", "p", "Add policy", "Open the form that adds a security policy"),
    ("detail", "enter", "Detail", "Every field, the statement, -x decoding and hex of the entry under the cursor"),
    ("delete", "d", "Delete", "Delete the marked entries (space marks) or the one under the cursor"),
    ("flush_sad", "f", "Flush SAD", "Remove every SA, or those of one protocol (asks first)"),
    ("flush_spd", "F", "Flush SPD", "Remove every policy (asks first)"),
    ("filter", "slash", "Filter", "Filter the table: free text and field:value (spi:0x1000, dst:10.0.0.0/8 …)"),
    ("copy", "y", "Copy statement", "Copy the entry under the cursor as a setkey statement"),
    ("export", "e", "Export", "Write the SAD/SPD as a setkey script (mode 0600; keys only if asked)"),
    ("apply_file", "A", "Apply a file…", "Plan a setkey file against this kernel (+ added, - removed, ~ changed, "
     "field by field, keys masked), then apply it make-before-break, verified, rolled back on failure"),
    ("refresh", "r", "Refresh", "Dump the SAD and SPD again (after a kernel failure: connect again first)"),
    ("simulate_traffic", "t", "Simulate traffic", "Send packets through the simulated kernel's SPD: see the policy "
     "and SA they meet (byte counts), or the ACQUIRE a missing SA raises"),
    ("load_example", "ctrl+p", "Load example", "Apply the example scenario (SAs, policies, short lifetimes): "
     "simulated kernel only, from the command palette"),
    ("show_tab('sad-tab')", "1", "SAD tab", "Show the SAD"),
    ("show_tab('spd-tab')", "2", "SPD tab", "Show the SPD"),
    ("monitor_pause", "z", "Pause monitor", "Pause or resume the monitor pane (messages wait, bounded)"),
    ("monitor_timestamps", "x", "-x / -xx", "Monitor timestamps: time of day (-x) or epoch seconds (-xx)"),
    ("monitor_hex", "h", "Hex dump", "Monitor: add the -h hex dump before each decoding"),
    ("monitor_clear", "c", "Clear monitor", "Empty the monitor pane (and what a later save would write)"),
    ("monitor_save", "w", "Save recording", "Save the monitored messages as a replayable recording"),
    ("toggle_monitor", "m", "Monitor size", "Grow, shrink or hide the monitor pane"),
    ("help", "f1", "Help", "Every binding and the filter syntax"),
))
FOOTER_SHOWN = {"add_sa", "add_policy", "delete", "filter", "flush_sad", "refresh", "help", "monitor_pause",
                "simulate_traffic"}
# Shorter than the title, where the footer is short of room.
FOOTER_LABELS = {"simulate_traffic": "Traffic", "monitor_pause": "Pause"}
# What a read-only kernel (a replay) cannot do: hidden there.
WRITE_ACTIONS = frozenset({"add_sa", "add_policy", "delete", "flush_sad", "flush_spd", "load_example",
                           "simulate_traffic", "apply_file"})
PALETTE_ONLY = "ctrl+p"


def main_bindings() -> list[BindingType]:
    """The main screen's bindings, from :data:`ACTIONS` (palette-only actions have no key)."""
    out: list[BindingType] = []
    for action in ACTIONS:
        if action.name in ("detail", "help") or action.shortcut == PALETTE_ONLY:
            continue  # the table's own enter binding; help is the app's
        out.append(Binding(action.shortcut, f"app.{action.name}", FOOTER_LABELS.get(action.name, action.title),
                           show=action.name in FOOTER_SHOWN))
    out.append(Binding("q", "app.quit", "Quit"))
    return out


__all__ = ["ACTIONS", "Action", "FOOTER_LABELS", "FOOTER_SHOWN", "PALETTE_ONLY", "WRITE_ACTIONS", "main_bindings"]
