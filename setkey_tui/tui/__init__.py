"""The Textual application: screens, widgets and the live link to the kernel (see docs/tui.md)."""
