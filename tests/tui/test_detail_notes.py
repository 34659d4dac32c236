"""The detail screen shows what the kernel holds that PF_KEY cannot say (the XFRM transport's notes)."""

from __future__ import annotations

from textual.widgets import Static

from setkey_tui.kernel.sim import SimTransport
from setkey_tui.kernel.xfrm.notes import Notes
from setkey_tui.pfkey.message import Message
from setkey_tui.scenarios.sim import PID
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.screens.detail import DetailScreen
from tests.tui.helpers import wait_for

KEY = "0x00112233445566778899aabbccddeeff"
NOTES = Notes(lines=(("esn", "on, replay window 128"), ("mark", "0x10/0xff")))


class NotingTransport(SimTransport):
    """A simulated kernel socket that, like the XFRM transport, keeps notes beside each entry."""

    def notes_for(self, msg: Message) -> Notes:
        return NOTES


async def test_the_fields_end_with_the_xfrm_notes(env) -> None:
    env.apply(f"add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc {KEY};\n")
    app = SetkeyApp(lambda: NotingTransport(env.host, description="noting kernel"), now=env.clock, pid=PID)
    async with app.run_test(size=(150, 45)) as pilot:
        assert await wait_for(pilot, lambda: app.loaded.is_set() and app.mirror.sad.total == 1)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        fields = str(app.screen.query_one("#detail-fields", Static).render())
        last = [line.split(None, 1) for line in fields.splitlines()[-2:]]
        assert last == [["xfrm", "esn on, replay window 128"], ["xfrm", "mark 0x10/0xff"]]


async def test_no_notes_on_other_kernels(env) -> None:
    env.apply(f"add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc {KEY};\n")
    app = env.app()
    async with app.run_test(size=(150, 45)) as pilot:
        assert await wait_for(pilot, lambda: app.loaded.is_set() and app.mirror.sad.total == 1)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert "xfrm" not in str(app.screen.query_one("#detail-fields", Static).render())
