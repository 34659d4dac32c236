"""SETKEY_TUI_NOW: one parse for the command line and the TUI; a bad value stops both with the same line."""

from __future__ import annotations

import time

import pytest

from setkey_tui import cli
from setkey_tui.clock import display_clock
from setkey_tui.tui import app as tui_app


def test_a_fixed_clock_a_blank_one_and_the_real_one() -> None:
    assert display_clock({"SETKEY_TUI_NOW": "1700000000.5"})() == 1700000000.5
    assert display_clock({"SETKEY_TUI_NOW": " 1700000000 "})() == 1700000000.0
    assert display_clock({"SETKEY_TUI_NOW": "  "}) is time.time
    assert display_clock({}) is time.time


@pytest.mark.parametrize("value", ["yesterday", "nan", "inf", "-inf", "1e999", "0x10"])
def test_a_bad_value_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        display_clock({"SETKEY_TUI_NOW": value})
    assert str(caught.value) == f"SETKEY_TUI_NOW={value!r} is not a time (seconds since the epoch)"


@pytest.mark.parametrize("value", ["yesterday", "nan"])
def test_the_tui_and_the_cli_stop_on_a_bad_value_with_the_same_line(monkeypatch, capsys, value: str) -> None:
    monkeypatch.setenv("SETKEY_TUI_NOW", value)

    def started(self: object) -> None:
        raise AssertionError("the app started despite a bad SETKEY_TUI_NOW")

    monkeypatch.setattr(tui_app.SetkeyApp, "run", started)
    assert tui_app.run("sim") == 1
    tui = capsys.readouterr()
    assert tui.out == ""
    assert tui.err == f"setkey-tui: SETKEY_TUI_NOW={value!r} is not a time (seconds since the epoch)\n"
    assert cli.main(["--kernel", "sim", "-D"]) == 1
    assert capsys.readouterr().err == tui.err
