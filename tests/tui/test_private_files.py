"""Files the TUI writes (exports, recordings) are readable by their owner only."""

from __future__ import annotations

import os
import stat

from textual.widgets import Input

from tests.tui.helpers import wait_for
from tests.tui.test_flows import SA1, SIZE, started


async def test_recording_and_export_are_private_even_over_an_existing_file(env, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    env.apply(SA1)
    rec, exported = tmp_path / "rec.txt", tmp_path / "out.conf"
    for p in (rec, exported):
        p.write_text("old")
        os.chmod(p, 0o644)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("w")
        app.screen.query_one("#path", Input).value = "~/rec.txt"
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: rec.read_text() != "old")
        await pilot.press("e")
        app.screen.query_one("#path", Input).value = "~/out.conf"
        await pilot.pause()  # the dialog shows the new path (its layout may change) before the click
        await pilot.click("#yes")
        assert await wait_for(pilot, lambda: exported.read_text() != "old")
    for p in (rec, exported):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
        assert p.read_text() != "old"


async def test_export_dialog_shows_the_full_path_and_says_when_keys_are_in(env, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env.apply(SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("e")
        dialog = app.screen
        assert dialog.query_one("#path", Input).value == str(tmp_path / "setkey-export.conf")
        notes = [str(label.render()) for label in dialog.query(".dialog-note")]
        assert notes == [f"File (written with mode 0600; a bare name goes in the current folder, {tmp_path}):",
                         f"writes to {tmp_path / 'setkey-export.conf'}"]
        dialog.query_one("#path", Input).value = "~/x.conf"
        full = f"writes to {tmp_path / 'home' / 'x.conf'}"
        assert await wait_for(pilot, lambda: str(dialog.query_one("#path-full").render()) == full)
        assert str(dialog.query_one("#yes").label) == "Export without keys"
        await pilot.click("#export-keys")
        assert str(dialog.query_one("#yes").label) == "Export WITH KEYS"
        assert "KEYS INCLUDED" in str(dialog.query_one("#export-keys-warning").render())
        dialog.query_one("#path", Input).value = str(tmp_path)
        await pilot.pause()
        await pilot.click("#yes")
        assert f"{tmp_path} is a folder" in str(dialog.query_one("#path-error").render())
        assert app.screen is dialog


async def test_recording_dialog_says_it_holds_the_keys(env, tmp_path, monkeypatch) -> None:
    from setkey_tui.tui.screens.dialogs import RecordingPathScreen

    monkeypatch.chdir(tmp_path)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        answers: list[object] = []
        app.push_screen(RecordingPathScreen(), answers.append)
        assert await wait_for(pilot, lambda: isinstance(app.screen, RecordingPathScreen) and app.screen.is_mounted)
        assert "KEYS INCLUDED" in str(app.screen.query_one(".keys-warning").render())
        await pilot.press("enter")
        assert answers == [str(tmp_path / "setkey-monitor.rec")]
