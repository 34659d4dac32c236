"""Tests of the TUI, the mirror and their helpers."""
