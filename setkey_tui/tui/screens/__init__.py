"""Screens of the TUI: main, detail, forms, dialogs, help."""
