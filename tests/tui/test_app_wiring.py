"""What the main screen's keys open: a file's plan (A), the delete confirmation, the monitor's save dialog,
the palette's screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Label

from setkey_tui.tui.screens.dialogs import ConfirmScreen, PathScreen, RecordingPathScreen
from setkey_tui.tui.screens.plan import PlanScreen
from tests.tui.helpers import wait_for

SIZE = (150, 45)
KEY = "0x00112233445566778899aabbccddeeff"
SA = f"add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc {KEY};\n"


async def test_a_file_opens_its_plan_and_nothing_is_applied_before_a(env, tmp_path: Path) -> None:
    env.apply(SA)
    conf = tmp_path / "ipsec.conf"
    conf.write_text("flush;\n" + SA.replace("0x1001", "0x2002"))
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        await pilot.press("A")
        assert await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one(Input).value = str(conf)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen) and app.screen.plan is not None)
        title = str(app.screen.query_one("#plan-title", Label).render())
        assert f"Plan of {conf}" in title and "1 to add" in title and "1 to remove" in title
        assert {sa.spi for sa in env.host.kernel.sas.values()} == {0x1001}  # only a plan so far


async def test_a_file_that_cannot_be_read_is_one_line(env, tmp_path: Path) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        await pilot.press("A")
        assert await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one(Input).value = str(tmp_path / "missing.conf")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: any("Cannot read" in n and "missing.conf" in n for n in env.notes))
        assert not isinstance(app.screen, PlanScreen)


async def test_delete_confirmation_shows_the_delete_statement_sent(env) -> None:
    env.apply(SA)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.loaded.is_set() and app.mirror.sad.total == 1)
        await pilot.press("d")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        text = " ".join(str(w.render()) for w in app.screen.query("Label, Static"))
        assert "delete 10.0.0.1 10.0.0.2 esp 0x1001 ;" in text and "aes-cbc" not in text


async def test_monitor_save_dialog_says_the_recording_holds_keys(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        await pilot.press("w")
        assert await wait_for(pilot, lambda: isinstance(app.screen, RecordingPathScreen))
        text = " ".join(str(label.render()) for label in app.screen.query(Label))
        assert "key" in text.lower()


async def test_screenshot_goes_to_the_current_folder_without_downloads(env, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads there
    monkeypatch.chdir(tmp_path)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        app.action_screenshot()
        assert await wait_for(pilot, lambda: any("Screenshot saved to" in n for n in env.notes))
        saved = [n.split("Screenshot saved to ", 1)[1] for n in env.notes if "Screenshot saved to" in n][0]
        assert Path(saved).parent == tmp_path and Path(saved).is_file()
