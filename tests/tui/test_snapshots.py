"""Snapshot tests (pytest-textual-snapshot): every screen in a fixed state (fixed clock, fixed pid, example
scenario). Update with ``pytest tests/tui --snapshot-update`` after a deliberate change, and look at the
SVGs."""

from __future__ import annotations

from setkey_tui.scenarios import example_text
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.screenshots import apply_script
from tests.tui.conftest import Env, wait_for

SIZE = (140, 42)


def example_app() -> SetkeyApp:
    env = Env()
    apply_script(env.host, example_text())
    return env.app()


async def settle(pilot) -> None:
    """Wait for the dump and for every kernel message to be drained."""
    app = pilot.app
    assert await wait_for(pilot, app.loaded.is_set)
    await wait_for(pilot, lambda: app.events.empty() and app.query_one("MonitorPane").seen >= 20)
    await pilot.pause(0.2)
    await wait_for(pilot, app.events.empty)
    await pilot.pause(0.1)


def test_snapshot_sad(snap_compare) -> None:
    assert snap_compare(example_app(), terminal_size=SIZE, run_before=settle)


def test_snapshot_spd(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_detail(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_add_sa_form(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("a")
        pilot.app.screen.fill(src="10.0.0.1", dst="fd00::2", spi="0x3000", enc_key="0x0011")

    assert snap_compare(example_app(), terminal_size=(140, 60), run_before=before)


def test_snapshot_add_policy_form(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("p")
        pilot.app.screen.fill(src="10.1.0.0/16", dst="10.2.0.0/16", req_mode="tunnel", tsrc="192.0.2.1",
                              tdst="192.0.2.2")

    assert snap_compare(example_app(), terminal_size=(140, 60), run_before=before)


def test_snapshot_help(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("f1")

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_filter_and_flush_dialog(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        pilot.app.query_one("#sad-pane").apply_filter("dst:10.0.0.0/8")
        await pilot.press("f")

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_monitor_hex(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("m", "c", "h", "x")
        pilot.app.query_one("#sad-table").cursor = 0
        apply_script(pilot.app.opener.__self__.host,
                     "delete 10.0.0.1 10.0.0.2 esp 0x1001 ;\n")
        await wait_for(pilot, lambda: pilot.app.mirror.sad.total == 7)
        await pilot.pause(0.2)

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_traffic_dialog(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("t")
        screen = pilot.app.screen
        screen.fill(src="10.1.0.5", dst="10.2.0.9", size="1400", count="3")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.last_run is not None)
        await pilot.pause(0.2)

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)
