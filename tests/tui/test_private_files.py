"""Files the TUI writes (exports, recordings) are readable by their owner only."""

from __future__ import annotations

import os
import stat

from textual.widgets import Input

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
        await pilot.pause()
        await pilot.press("e")
        app.screen.query_one("#export-path", Input).value = "~/out.conf"
        await pilot.click("#yes")
        await pilot.pause()
    for p in (rec, exported):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
        assert p.read_text() != "old"
