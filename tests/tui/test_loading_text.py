"""While the first dump is in flight an empty table says it is loading, never that the SAD is empty."""

from __future__ import annotations

import threading

from setkey_tui.kernel.sim import SimTransport
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.scenarios.sim import PID
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.widgets.entry_table import EntryTable
from tests.tui.helpers import wait_for

KEY = "0x00112233445566778899aabbccddeeff"


class HeldDump(SimTransport):
    """A kernel socket whose dump replies wait until the test lets them through."""

    gate = threading.Event()

    def recv(self, timeout: float | None = None) -> bytes | None:
        data = super().recv(timeout)
        if data is not None and data[1] in (MsgType.DUMP, MsgType.X_SPDDUMP):
            self.gate.wait(20)
        return data


def _first_line(table: EntryTable) -> str:
    return "".join(segment.text for segment in table.render_line(1)).strip()


async def test_an_empty_table_says_loading_until_its_dump_is_in(env) -> None:
    env.apply(f"add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc {KEY};\n")
    HeldDump.gate.clear()
    app = SetkeyApp(lambda: HeldDump(env.host, description="simulated kernel (test)"), now=env.clock, pid=PID)
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            table = app.screen.query_one("#sad-table", EntryTable)
            assert await wait_for(pilot, lambda: _first_line(table) == "Loading from the kernel…")
            assert not app.loaded.is_set() and app.mirror.sad.total == 0
            HeldDump.gate.set()
            assert await wait_for(pilot, lambda: app.loaded.is_set() and app.mirror.sad.total == 1)
            assert await wait_for(pilot, lambda: "10.0.0.1" in _first_line(table))
    finally:
        HeldDump.gate.set()


async def test_an_empty_kernel_says_empty_once_loaded(env) -> None:
    app = env.app()
    async with app.run_test(size=(150, 45)) as pilot:
        table = app.screen.query_one("#sad-table", EntryTable)
        assert await wait_for(pilot, lambda: app.loaded.is_set() and _first_line(table).startswith(
            "The SAD is empty."))
