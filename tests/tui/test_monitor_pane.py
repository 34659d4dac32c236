"""The monitor pane: what waited while paused is shown on resume, however much it is."""

from __future__ import annotations

from textual.widgets import Log

from setkey_tui.scenarios import example_text
from setkey_tui.tui.widgets.monitor import FORMAT_PER_BATCH, MonitorPane
from tests.tui.helpers import wait_for
from tests.tui.test_flows import SIZE, started


async def test_resume_shows_what_waited_beyond_one_drain(env) -> None:
    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        monitor = app.query_one(MonitorPane)
        await pilot.press("c", "z")
        env.apply(("flush ;\nspdflush ;\n" + example_text()) * 3)  # more than one drain formats
        assert await wait_for(pilot, lambda: len(monitor.waiting) > FORMAT_PER_BATCH)
        waiting = len(monitor.waiting)
        await pilot.press("z")
        lines = list(app.query_one(Log).lines)
        assert sum(line.startswith("sadb_msg{") for line in lines) == waiting
        assert "not shown" not in monitor.status_text()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await commands["Load example"].callback()  # the example again: one short sentence, not a line per entry
        assert await wait_for(pilot, lambda: any("already loaded" in n for n in env.notes))


async def test_clear_also_empties_what_a_later_save_writes(env, tmp_path) -> None:
    app = env.app()
    async with app.run_test(size=(150, 45)) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        monitor = app.query_one(MonitorPane)
        env.apply("add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc 0x00112233445566778899aabbccddeeff;\n")
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 1)
        before = tmp_path / "before.rec"  # the monitor has the ADD (its batch comes after the table's) …
        assert await wait_for(pilot, lambda: monitor.save_recording(str(before)) > 0 and "00001001" in before.read_text())
        await pilot.press("c")  # … before it is cleared
        assert monitor.save_recording(str(tmp_path / "cleared.rec")) == 0
        assert (tmp_path / "cleared.rec").read_text() == ""
        env.apply("add 10.0.0.1 10.0.0.2 esp 0x1002 -E aes-cbc 0x00112233445566778899aabbccddeeff;\n")
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 2)
        assert await wait_for(pilot, lambda: monitor.save_recording(str(tmp_path / "after.rec")) > 0)
        after = (tmp_path / "after.rec").read_text()
        assert "00001002" in after and "00001001" not in after  # SPIs in the hex: only what came after ``c``
