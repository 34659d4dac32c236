"""Widgets of the TUI: the virtual entry table, its filter pane, the badge, the monitor pane."""
