"""The plan screen, pushed directly on the app, against the in-process simulated kernel."""

from __future__ import annotations

from textual.widgets import DataTable, Label, ProgressBar, Static

from setkey_tui.tui.screens.dialogs import ConfirmScreen
from setkey_tui.tui.screens.plan import PlanScreen
from setkey_tui.tui.screenshots import apply_script
from tests.tui.conftest import wait_for

SIZE = (150, 45)
KEY = "0x00112233445566778899aabbccddeeff"
AKEY = "0x" + "ab" * 32
START = (f"add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc {KEY} -A hmac-sha256 {AKEY};\n"
         f"add 10.0.0.2 10.0.0.1 esp 0x1002 -E aes-cbc {KEY} -A hmac-sha256 {AKEY};\n"
         "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/transport//require;\n")
NEW = ("flush;\nspdflush;\n"
       f"add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc 0xffeeddccbbaa99887766554433221100 -A hmac-sha256 {AKEY};\n"
       f"add 10.0.0.2 10.0.0.1 esp 0x2002 -E aes-cbc {KEY} -A hmac-sha256 {AKEY};\n"
       "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/transport//use;\n")


def _state(env) -> set[tuple[int, int]]:
    return {(sa.spi, sa.encrypt) for sa in env.host.kernel.sas.values()}


async def test_plan_screen_shows_counts_rows_and_applies(env) -> None:
    apply_script(env.host, START)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = PlanScreen(env.opener, NEW, "ipsec.conf")
        await app.push_screen(screen)
        assert await wait_for(pilot, lambda: screen.plan is not None or bool(screen.error)), screen.error
        title = str(screen.query_one("#plan-title", Label).render())
        assert "Plan of ipsec.conf for the simulated kernel (test): 1 to add, 2 to change, 1 to remove" in title
        table = screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["~", "-", "+", "~"]
        assert rows[0][2] == "encryption key (replaced in place)"
        detail = str(screen.query_one("#plan-detail", Static).render())
        assert "<128-bit key, masked> -> <128-bit key, masked> (different key)" in detail
        assert "ffeedd" not in detail
        await pilot.press("down", "down", "down")
        detail = str(screen.query_one("#plan-detail", Static).render())
        assert "requests: esp/transport//require -> esp/transport//use" in detail

        await pilot.press("a")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Apply 5 operation(s) to the simulated kernel (test)?" in str(app.screen.query_one(Label).render())
        await pilot.press("y")
        assert await wait_for(pilot, lambda: screen.report is not None)
        assert screen.report is not None and screen.report.outcome == "applied"
        result = str(screen.query_one("#plan-result", Static).render())
        assert "Applied: 5 operation(s); the kernel holds the planned state (verified by a dump)." in result
        assert {spi for spi, _ in _state(env)} == {0x1001, 0x2002}
        bar = screen.query_one(ProgressBar)
        assert bar.display and bar.total == 5 and bar.progress == 5


async def test_plan_screen_declined_and_script_errors(env) -> None:
    apply_script(env.host, START)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = PlanScreen(env.opener, "flush;\n", "f.conf")
        await app.push_screen(screen)
        assert await wait_for(pilot, lambda: screen.plan is not None)
        await pilot.press("a")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        assert await wait_for(pilot, lambda: app.screen is screen)
        assert screen.report is None and {spi for spi, _ in _state(env)} == {0x1001, 0x1002}
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: app.screen is not screen)

        bad = PlanScreen(env.opener, "add 1.1.1.1 2.2.2.2 esp 0x1000 -E aes-cbc 0x0011;\n", "bad.conf")
        await app.push_screen(bad)
        assert await wait_for(pilot, lambda: bad.plan is not None)
        assert "the script stopped (status 1)" in str(bad.query_one("#plan-title", Label).render())
        assert "line 1: Invalid key length at [0x0011]" in str(bad.query_one("#plan-script", Static).render())
        await pilot.press("a")  # the key's action runs (and would push its dialog) before press() returns
        await pilot.pause()
        assert app.screen is bad  # nothing to confirm: a stopped script is never applied
