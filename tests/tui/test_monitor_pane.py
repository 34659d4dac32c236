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
